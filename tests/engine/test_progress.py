"""Progress: the remaining time counts the pace of this run's own work, not files an earlier run finished."""

from __future__ import annotations

import pytest

from engine.progress import Progress


def test_eta_from_this_runs_pace() -> None:
    assert Progress(4, 10, 2.0).eta_s == pytest.approx(3.0)  # 0.5 s a file, 6 to go
    resumed = Progress(8, 10, 2.0, carried=6)  # 6 from the earlier run, 2 in 2 s now
    assert resumed.eta_s == pytest.approx(2.0)  # not 2 / 8 * 2 = 0.5 s
    assert "about 2 s left" in resumed.describe()


def test_no_eta_before_this_run_has_done_anything() -> None:
    assert Progress(6, 10, 0.5, carried=6).eta_s is None
    assert Progress(10, 10, 3.0, carried=6).eta_s == 0.0
