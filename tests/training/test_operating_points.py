"""Operating points: a target sensitivity or specificity is met on the data that chose it, with intervals."""

from __future__ import annotations

import numpy as np
import pytest

from training.metrics import (
    OPERATING_RULES,
    binary_metrics,
    operating_point_table,
    operating_threshold,
    sensitivity_specificity,
)


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


def test_the_bootstraps_counts_are_binary_metrics_figures(scores: tuple[np.ndarray, np.ndarray]) -> None:
    """The resamples count sensitivity and specificity without scikit-learn: the very same numbers, ties included."""
    y, p = scores
    rng = np.random.default_rng(2)
    for _ in range(20):
        draw = rng.integers(0, len(y), 40)
        rounded = np.round(p[draw], 1)  # ties at the threshold: ">=" decides them, as in binary_metrics
        for threshold in (0.0, 0.3, float(rounded[0]), 0.5, 1.0):
            metrics = binary_metrics(y[draw], rounded, threshold)
            assert sensitivity_specificity(y[draw], rounded, threshold) == (metrics["sensitivity"],
                                                                            metrics["specificity"])
    only_negatives = sensitivity_specificity(np.zeros(4, int), np.full(4, 0.7), 0.5)
    assert np.isnan(only_negatives[0]) and only_negatives[1] == 0.0
