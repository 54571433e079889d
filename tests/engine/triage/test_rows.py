from __future__ import annotations

from engine.decision import Verdict
from engine.triage.rows import UNREADABLE, TriageRow, TriageSummary, unreadable_row


def test_every_runner_tallies_rows_the_same_way() -> None:
    rows = [TriageRow("a", probability=0.9, decision=Verdict.FLAGGED.value, sha256="1"),
            TriageRow("b", probability=0.1, decision=Verdict.NOT_FLAGGED.value, sha256="2"),
            TriageRow("c", probability=0.2, decision=Verdict.NOT_FLAGGED.value, sha256="3"),
            TriageRow("d", decision=Verdict.NOT_DIAGNOSED.value, error="lateral view", sha256="4"),
            unreadable_row("e", "cannot read (Permission denied)")]
    summary = TriageSummary.tally("out.csv", rows, skipped_existing=2, seconds=1.5, untrusted_rows=1)
    assert (summary.total, summary.flagged, summary.not_flagged, summary.not_diagnosed, summary.unreadable) == \
        (5, 1, 2, 1, 1)
    assert summary.line() == "5 images: 1 flagged, 2 not flagged, 1 not diagnosed, 1 unreadable"
    assert summary.images_per_second == 2.0  # 3 new images in 1.5 s
    assert summary.to_json()["untrusted_rows"] == 1


def test_an_unreadable_row_says_why_and_decides_nothing() -> None:
    row = unreadable_row("x/broken.dcm", "the decoder crashed on this file", sha256="ab")
    assert row.decision == UNREADABLE and row.probability is None and row.threshold is None
    assert row.error == "the decoder crashed on this file" and row.sha256 == "ab" and row.file == "x/broken.dcm"
