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


def youden_threshold(y_true: np.ndarray, probability: np.ndarray) -> float:
    """The threshold maximising sensitivity + specificity - 1 on the given (validation) data."""
    fpr, tpr, thresholds = roc_curve(np.asarray(y_true).astype(int), probability)
    best = int(np.argmax(tpr - fpr))
    return float(min(1.0, max(0.0, thresholds[best])))


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
