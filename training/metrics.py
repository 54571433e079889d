"""The paper's metrics (sensitivity, specificity, accuracy, AUC and their average), the operating threshold
(Youden's J) and temperature scaling — all from scikit-learn / scipy, nothing hand-rolled."""

from __future__ import annotations

import numpy as np
from scipy.optimize import minimize_scalar
from sklearn.metrics import accuracy_score, confusion_matrix, log_loss, roc_auc_score, roc_curve


def softmax(logits: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    scaled = logits / temperature
    scaled = scaled - scaled.max(axis=1, keepdims=True)
    exp = np.exp(scaled)
    return exp / exp.sum(axis=1, keepdims=True)


def binary_metrics(y_true: np.ndarray, probability: np.ndarray, threshold: float) -> dict[str, float]:
    """Sensitivity, specificity, accuracy, AUC and their average (the paper's AVG), in percent."""
    y_true = np.asarray(y_true).astype(int)
    predicted = (np.asarray(probability) >= threshold).astype(int)
    tn, fp, fn, tp = confusion_matrix(y_true, predicted, labels=[0, 1]).ravel()
    sensitivity = tp / (tp + fn) if tp + fn else float("nan")
    specificity = tn / (tn + fp) if tn + fp else float("nan")
    accuracy = accuracy_score(y_true, predicted)
    auc = roc_auc_score(y_true, probability) if len(set(y_true.tolist())) == 2 else float("nan")
    values = {"sensitivity": 100 * sensitivity, "specificity": 100 * specificity, "accuracy": 100 * accuracy,
              "auc": 100 * auc}
    values["avg"] = float(np.mean(list(values.values())))
    return {k: float(v) for k, v in values.items()}


def wilson_interval(successes: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """The Wilson score interval of a proportion (scipy), in percent; NaNs when there is nothing to count."""
    from scipy.stats import binomtest

    if n <= 0:
        return float("nan"), float("nan")
    interval = binomtest(int(successes), int(n)).proportion_ci(confidence_level=confidence, method="wilson")
    return 100 * float(interval.low), 100 * float(interval.high)


SMALL_SPLIT = 20  # fewer images than this in a split: its figures are not reliable
SMALL_CLASS = 5  # ... nor with fewer than this of either class


def split_too_small(n: int, positives: int | None = None) -> bool:
    """Whether figures on ``n`` images (``positives`` of them positive; None when not counted) say little."""
    smallest = None if positives is None else min(positives, n - positives)
    return n < SMALL_SPLIT or (smallest is not None and smallest < SMALL_CLASS)


def describe_split(n: int, positives: int | None, positive: str = "positive", negative: str = "negative") -> str:
    """'n=6: 3 abnormal, 3 normal' (or 'n=6' when the classes were not counted)."""
    if positives is None:
        return f"n={n}"
    return f"n={n}: {positives} {positive}, {n - positives} {negative}"


def small_split_warning(where: str, n: int, positives: int | None, sensitivity: float, positive: str = "positive",
                        negative: str = "negative") -> str:
    """'' for a split big enough; else why its figures are not reliable, with the sensitivity's 95 % interval
    (a 100 % sensitivity on 3 positive images is no evidence)."""
    if not split_too_small(n, positives):
        return ""
    text = (f"Too few images for these figures to be reliable: {where} has "
            f"{describe_split(n, positives, positive, negative)} (at least {SMALL_SPLIT} images and {SMALL_CLASS} of "
            "each class are needed to say much).")
    if positives and not np.isnan(sensitivity):
        hits = round(sensitivity / 100 * positives)
        low, high = wilson_interval(hits, positives)
        text += (f" A sensitivity of {sensitivity:.0f} % ({hits}/{positives}) is compatible with anything "
                 f"from {low:.0f} % to {high:.0f} % (95 % Wilson interval).")
    return text


def youden_threshold(y_true: np.ndarray, probability: np.ndarray) -> float:
    """The threshold maximising sensitivity + specificity - 1 on the given (validation) data."""
    return _curve_threshold("youden", roc_curve(np.asarray(y_true).astype(int), probability))


def fit_temperature(logits: np.ndarray, y_true: np.ndarray) -> float:
    """Temperature T > 0 minimising the negative log-likelihood of softmax(logits / T) (Guo et al. 2017)."""
    y_true = np.asarray(y_true).astype(int)

    def nll(log_t: float) -> float:
        return log_loss(y_true, softmax(logits, float(np.exp(log_t))), labels=[0, 1])

    result = minimize_scalar(nll, bounds=(np.log(0.05), np.log(20.0)), method="bounded")
    return float(np.exp(result.x))


def roc_points(y_true: np.ndarray, probability: np.ndarray, max_points: int = 200) -> dict[str, list[float]]:
    fpr, tpr, thresholds = roc_curve(np.asarray(y_true).astype(int), probability)
    if len(fpr) > max_points:
        keep = np.unique(np.linspace(0, len(fpr) - 1, max_points).round().astype(int))
        fpr, tpr, thresholds = fpr[keep], tpr[keep], thresholds[keep]
    return {"fpr": fpr.tolist(), "tpr": tpr.tolist(), "thresholds": np.clip(thresholds, 0, 1).tolist()}


def summarise_folds(per_fold: list[dict[str, float]]) -> dict[str, dict[str, float]]:
    """Mean and (sample) standard deviation of each metric over folds."""
    keys = per_fold[0].keys() if per_fold else []
    out = {}
    for key in keys:
        values = np.array([fold[key] for fold in per_fold], dtype=float)
        out[key] = {"mean": float(np.nanmean(values)),
                    "std": float(np.nanstd(values, ddof=1)) if len(values) > 1 else 0.0}
    return out


# The operating points every head card offers (Settings lets the reader pick one).
OPERATING_RULES = ("youden", "sensitivity:0.95", "specificity:0.90")


def operating_threshold(rule: str, y_true: np.ndarray, probability: np.ndarray) -> float:
    """The threshold a rule picks on (validation) data.

    ``rule``: "youden" (max sensitivity + specificity - 1), "sensitivity:0.95" (the highest threshold whose
    sensitivity reaches 0.95 — a screening programme's choice) or "specificity:0.90" (the lowest threshold whose
    specificity reaches 0.90).
    """
    return _curve_threshold(rule, roc_curve(np.asarray(y_true).astype(int), probability))


def _curve_threshold(rule: str, curve: tuple[np.ndarray, np.ndarray, np.ndarray]) -> float:
    """``operating_threshold`` on a ROC curve already drawn (the bootstrap draws one per resample, for every rule)."""
    fpr, tpr, thresholds = curve
    kind, _, target_text = rule.partition(":")
    if kind == "youden":
        best = int(np.argmax(tpr - fpr))
        return float(min(1.0, max(0.0, thresholds[best])))
    target = float(target_text)
    thresholds = np.clip(thresholds, 0.0, 1.0)
    if kind == "sensitivity":
        reaching = np.flatnonzero(tpr >= target)  # thresholds fall along the curve: the first is the highest
        return float(thresholds[reaching[0]])
    if kind == "specificity":
        reaching = np.flatnonzero(1.0 - fpr >= target)
        return float(thresholds[reaching[-1]])
    raise ValueError(f"unknown operating point rule {rule!r}; use youden, sensitivity:X or specificity:X")


def sensitivity_specificity(y_true: np.ndarray, probability: np.ndarray, threshold: float) -> tuple[float, float]:
    """``binary_metrics``' sensitivity and specificity (percent) by counting alone: the same numbers, without
    scikit-learn's input checks and the AUC, which the thousand bootstrap resamples below do not need."""
    positive = np.asarray(y_true).astype(int) == 1
    predicted = np.asarray(probability) >= threshold
    tp, fn = int(np.count_nonzero(predicted & positive)), int(np.count_nonzero(~predicted & positive))
    tn, fp = int(np.count_nonzero(~predicted & ~positive)), int(np.count_nonzero(predicted & ~positive))
    sensitivity = tp / (tp + fn) if tp + fn else float("nan")
    specificity = tn / (tn + fp) if tn + fp else float("nan")
    return float(100 * sensitivity), float(100 * specificity)


def operating_point_table(y_true: np.ndarray, probability: np.ndarray, rules: tuple[str, ...], *,
                          bootstrap: int = 1000, seed: int = 0) -> dict[str, dict[str, object]]:
    """For each rule: its threshold on these data, the sensitivity and specificity there, and 95 % bootstrap
    intervals (percentile; resampling the cases, re-choosing the threshold each time, so the interval covers the
    choice as well as the estimate)."""
    y_true = np.asarray(y_true).astype(int)
    probability = np.asarray(probability, float)
    rng = np.random.default_rng(seed)
    draws = [rng.integers(0, len(y_true), len(y_true)) for _ in range(bootstrap)]
    draws = [d for d in draws if 0 < y_true[d].sum() < len(d)]  # both classes present
    samples_of: dict[str, list[tuple[float, float, float]]] = {rule: [] for rule in rules}
    for d in draws:
        curve = roc_curve(y_true[d], probability[d])
        for rule in rules:
            t = _curve_threshold(rule, curve)
            samples_of[rule].append((t, *sensitivity_specificity(y_true[d], probability[d], t)))
    table: dict[str, dict[str, object]] = {}
    for rule in rules:
        threshold = operating_threshold(rule, y_true, probability)
        point = binary_metrics(y_true, probability, threshold)
        samples = samples_of[rule]
        low, high = (np.percentile(np.array(samples), q, axis=0) for q in (2.5, 97.5)) if samples else ((), ())
        table[rule] = {"threshold": threshold, "sensitivity": point["sensitivity"],
                       "specificity": point["specificity"], "n": int(len(y_true)),
                       "threshold_ci": [float(low[0]), float(high[0])] if samples else None,
                       "sensitivity_ci": [float(low[1]), float(high[1])] if samples else None,
                       "specificity_ci": [float(low[2]), float(high[2])] if samples else None}
    return table


def grade_metrics(true_grades: np.ndarray, cumulative_logits: np.ndarray, names: tuple[str, ...]) -> dict[str, float]:
    """For ordered grades: quadratic weighted kappa and each grade's sensitivity (recall), in percent, of the
    ordinal head's suggested grade (the number of "grade > k" tasks it answers yes, CORAL's rule)."""
    from sklearn.metrics import cohen_kappa_score, recall_score

    suggested = suggested_grades(cumulative_logits)
    true_grades = np.asarray(true_grades).astype(int)
    labels = list(range(len(names)))
    recall = recall_score(true_grades, suggested, labels=labels, average=None, zero_division=np.nan)
    out = {"qwk": 100.0 * float(cohen_kappa_score(true_grades, suggested, labels=labels, weights="quadratic"))}
    out |= {f"sensitivity_grade_{name}": 100.0 * float(value) for name, value in zip(names, recall, strict=True)}
    return out


def suggested_grades(cumulative_logits: np.ndarray) -> np.ndarray:
    """The grade each case is given: how many of the cumulative tasks "grade > k" have P > 0.5."""
    return (np.asarray(cumulative_logits) > 0.0).sum(axis=1)
