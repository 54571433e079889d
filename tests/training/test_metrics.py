"""The paper's metrics, Youden's threshold and temperature scaling against values worked out by hand."""

from __future__ import annotations

import numpy as np
import pytest

from training.metrics import (
    binary_metrics,
    describe_split,
    fit_temperature,
    small_split_warning,
    softmax,
    split_too_small,
    summarise_folds,
    wilson_interval,
    youden_threshold,
)


def test_binary_metrics_by_hand() -> None:
    y = np.array([1, 1, 1, 1, 0, 0, 0, 0, 0, 0])
    p = np.array([0.9, 0.8, 0.4, 0.7, 0.1, 0.2, 0.6, 0.3, 0.2, 0.1])
    m = binary_metrics(y, p, 0.5)
    # TP=3 FN=1 TN=5 FP=1
    assert m["sensitivity"] == pytest.approx(75.0)
    assert m["specificity"] == pytest.approx(500 / 6)
    assert m["accuracy"] == pytest.approx(80.0)
    # AUC: of 24 positive/negative pairs only (0.4, 0.6) is ordered wrongly.
    assert m["auc"] == pytest.approx(100 * 23 / 24)
    assert m["avg"] == pytest.approx(np.mean([m["sensitivity"], m["specificity"], m["accuracy"], m["auc"]]))


def test_youden_threshold_separates_perfectly_separable_scores() -> None:
    y = np.array([0, 0, 0, 1, 1, 1])
    p = np.array([0.1, 0.2, 0.3, 0.6, 0.7, 0.8])
    threshold = youden_threshold(y, p)
    assert 0.3 < threshold <= 0.6
    assert binary_metrics(y, p, threshold)["accuracy"] == 100.0


def test_temperature_recovers_a_known_scale() -> None:
    rng = np.random.default_rng(0)
    true_logits = rng.normal(0, 2, (4000, 2))
    y = np.array([rng.choice(2, p=row) for row in softmax(true_logits)])
    overconfident = true_logits * 3.0
    assert fit_temperature(overconfident, y) == pytest.approx(3.0, rel=0.15)


def test_summarise_folds() -> None:
    summary = summarise_folds([{"auc": 90.0}, {"auc": 80.0}])
    assert summary["auc"]["mean"] == 85.0
    assert summary["auc"]["std"] == pytest.approx(np.std([90, 80], ddof=1))


def test_wilson_interval_is_wide_on_few_cases_and_narrow_on_many() -> None:
    low, high = wilson_interval(3, 3)  # 100 % of 3: compatible with far less
    assert low == pytest.approx(43.85, abs=0.01) and high == pytest.approx(100.0)
    low, high = wilson_interval(950, 1000)
    assert 93 < low < 95 < high < 96.5
    assert all(np.isnan(wilson_interval(0, 0)))


@pytest.mark.parametrize(("n", "positives", "small"), [(19, 9, True), (20, 10, False), (20, None, False),
                                                       (19, None, True), (200, 4, True), (200, 196, True),
                                                       (200, 5, False)])
def test_a_split_is_too_small_under_20_images_or_under_5_of_a_class(n: int, positives: int | None,
                                                                    small: bool) -> None:
    assert split_too_small(n, positives) is small


def test_small_split_warning_gives_the_sensitivitys_interval() -> None:
    assert small_split_warning("the data", 200, 80, 90.0) == ""
    text = small_split_warning("the validation split", 6, 3, 100.0, "abnormal", "normal")
    assert "the validation split has n=6: 3 abnormal, 3 normal" in text
    low, high = wilson_interval(3, 3)
    assert f"(3/3) is compatible with anything from {low:.0f} % to {high:.0f} %" in text
    uncounted = small_split_warning("the data", 12, None, 100.0)
    assert "has n=12 (" in uncounted and "Wilson" not in uncounted  # no positives counted: no interval
    assert describe_split(12, None) == "n=12" and describe_split(6, 2) == "n=6: 2 positive, 4 negative"
