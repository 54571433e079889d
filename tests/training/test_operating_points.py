"""Operating points: a target sensitivity or specificity is met on the data that chose it, with intervals."""

from __future__ import annotations

import numpy as np
import pytest

from training.metrics import OPERATING_RULES, binary_metrics, operating_point_table, operating_threshold


@pytest.fixture()
def scores() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    y = np.r_[np.zeros(300, int), np.ones(300, int)]
    p = np.clip(np.r_[rng.normal(0.35, 0.15, 300), rng.normal(0.65, 0.15, 300)], 0, 1)
    return y, p


def test_targets_are_met_and_ordered(scores: tuple[np.ndarray, np.ndarray]) -> None:
    y, p = scores
    sensitive = operating_threshold("sensitivity:0.95", y, p)
    specific = operating_threshold("specificity:0.90", y, p)
    assert binary_metrics(y, p, sensitive)["sensitivity"] >= 95.0
    assert binary_metrics(y, p, specific)["specificity"] >= 90.0
    assert sensitive < operating_threshold("youden", y, p) < specific
    with pytest.raises(ValueError, match="unknown operating point"):
        operating_threshold("accuracy:0.9", y, p)


def test_table_has_intervals_around_the_estimate(scores: tuple[np.ndarray, np.ndarray]) -> None:
    y, p = scores
    table = operating_point_table(y, p, OPERATING_RULES, bootstrap=200, seed=1)
    assert set(table) == set(OPERATING_RULES)
    for point in table.values():
        low, high = point["sensitivity_ci"]
        assert low <= point["sensitivity"] <= high and point["n"] == 600
        assert point["threshold_ci"][0] <= point["threshold"] <= point["threshold_ci"][1]
