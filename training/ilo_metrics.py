"""The ILO heads' figures, all from scikit-learn: abnormal vs normal, category and 12-point agreement, zones, and
(for a head with a shape output) the primary shape among abnormal films whose shape is known.

Units: AUCs, sensitivities, specificities and rates in percent (as ``training.metrics``); kappas as
scikit-learn's ``cohen_kappa_score(weights="quadratic")`` returns them (-1 ... 1). Intervals are 95 % percentile
bootstrap intervals over *patients* (all films of a resampled patient go together, so a patient's several films
do not narrow the interval), drawn with a fixed seed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.metrics import accuracy_score, cohen_kappa_score, recall_score, roc_auc_score

from engine.ilo.codes import PROFUSION, SHAPES, ZONES
from training.metrics import binary_metrics, softmax, suggested_grades

BOOTSTRAP = 500
INTERVAL_KEYS = ("auc", "sensitivity", "specificity", "kappa_category", "kappa_grade", "zone_auc",
                 "within_one_subcategory")


@dataclass
class IloTruthArrays:
    abnormal: np.ndarray  # (N,) bool, >= 1/0
    category: np.ndarray  # (N,) 0-3
    grade: np.ndarray  # (N,) 0-11, index into PROFUSION
    zone_present: np.ndarray  # (N, 6) bool
    zone_grade: np.ndarray  # (N, 6) 0-11
    groups: np.ndarray  # (N,) patient ids
    shape: np.ndarray | None = None  # (N,) index into SHAPE_LETTERS, -1 where no shape is recorded

    def take(self, index: np.ndarray) -> IloTruthArrays:
        return IloTruthArrays(*(getattr(self, k)[index] for k in
                                ("abnormal", "category", "grade", "zone_present", "zone_grade", "groups")),
                              shape=None if self.shape is None else self.shape[index])

    def shape_known(self) -> np.ndarray:
        """The films the shape is learnt and scored on: abnormal (>= 1/0), with a recorded primary shape."""
        if self.shape is None:
            return np.zeros(len(self.abnormal), bool)
        return self.abnormal.astype(bool) & (self.shape >= 0)


@dataclass
class IloPredictions:
    probability: np.ndarray  # (N,) calibrated P(abnormal)
    category: np.ndarray  # (N,) suggested major category
    grade: np.ndarray  # (N,) suggested 12-point grade index
    zone_probability: np.ndarray  # (N, 6)
    zone_grade: np.ndarray  # (N, 6) suggested per-zone profusion index
    shape_probability: np.ndarray | None = None  # (N, 6) softmax over SHAPE_LETTERS; None without a shape head

    @classmethod
    def from_outputs(cls, logits: np.ndarray, category_logits: np.ndarray, profusion_logits: np.ndarray,
                     zone_logits: np.ndarray, zone_profusion_logits: np.ndarray, temperature: float,
                     shape_logits: np.ndarray | None = None) -> IloPredictions:
        return cls(softmax(logits, temperature)[:, 1], suggested_grades(category_logits),
                   suggested_grades(profusion_logits), 1.0 / (1.0 + np.exp(-zone_logits)),
                   (np.asarray(zone_profusion_logits) > 0.0).sum(axis=-1),
                   None if shape_logits is None else softmax(shape_logits, 1.0))

    @property
    def shape(self) -> np.ndarray | None:
        """(N,) the suggested primary shape's index into SHAPE_LETTERS."""
        return None if self.shape_probability is None else np.asarray(self.shape_probability).argmax(axis=-1)

    def take(self, index: np.ndarray) -> IloPredictions:
        return IloPredictions(*(getattr(self, k)[index] for k in
                                ("probability", "category", "grade", "zone_probability", "zone_grade")),
                              shape_probability=None if self.shape_probability is None
                              else self.shape_probability[index])

    def to_json(self) -> dict[str, list]:
        keys = ("probability", "category", "grade", "zone_probability", "zone_grade")
        keys += ("shape_probability",) if self.shape_probability is not None else ()
        return {k: np.asarray(getattr(self, k)).tolist() for k in keys}


def _auc(y: np.ndarray, score: np.ndarray) -> float:
    y = np.asarray(y).astype(int)
    return 100.0 * float(roc_auc_score(y, score)) if 0 < y.sum() < len(y) else float("nan")


def _kappa(a: np.ndarray, b: np.ndarray, labels: list[int]) -> float:
    if len(a) == 0 or (len(set(np.asarray(a).tolist())) < 2 and len(set(np.asarray(b).tolist())) < 2):
        return float("nan")  # one grade on both sides: kappa is undefined
    return float(cohen_kappa_score(a, b, labels=labels, weights="quadratic"))


def shape_metrics(truth: IloTruthArrays, pred: IloPredictions) -> dict[str, object]:
    """Primary-shape accuracy (percent) and per-shape recall (percent, with n) among abnormal films whose shape is
    known; empty when the head has no shape output or the truth no shapes. Letters no film has are left out."""
    films = truth.shape_known()
    if pred.shape is None or not films.any():
        return {}
    y, guess = truth.shape[films], pred.shape[films]  # type: ignore[index]
    letters = sorted(set(y.tolist()))
    recalls = recall_score(y, guess, labels=letters, average=None, zero_division=0)
    return {"shape_accuracy": 100.0 * float(accuracy_score(y, guess)), "shape_n": int(films.sum()),
            "shape": {tuple(SHAPES)[k]: {"recall": 100.0 * float(r), "n": int((y == k).sum())}
                      for k, r in zip(letters, recalls, strict=True)}}


def point_metrics(truth: IloTruthArrays, pred: IloPredictions, threshold: float,
                  flagged: np.ndarray | None = None) -> dict[str, object]:
    """Every figure once, on these films (no intervals). ``flagged``: the decisions, when they were not made at one
    threshold (pooled out-of-fold films, each decided at its own fold's threshold)."""
    if flagged is None:
        flagged = pred.probability >= threshold
        binary = binary_metrics(truth.abnormal, pred.probability, threshold)
    else:
        binary = binary_metrics(truth.abnormal, flagged.astype(float), 0.5)
        binary["auc"] = _auc(truth.abnormal, pred.probability)
        binary["avg"] = float(np.mean([binary[k] for k in ("sensitivity", "specificity", "accuracy", "auc")]))
    grades = list(range(len(PROFUSION)))
    zones: dict[str, dict[str, float | int]] = {}
    for index, zone in enumerate(ZONES):
        present = truth.zone_present[:, index]
        zones[zone] = {"auc": _auc(present, pred.zone_probability[:, index]),
                       "kappa": _kappa(truth.zone_grade[:, index], pred.zone_grade[:, index], grades),
                       "n": int(len(present)), "n_present": int(present.sum())}
    zone_aucs = [z["auc"] for z in zones.values()]
    per_category = {}
    for category in range(4):
        films = truth.category == category
        per_category[str(category)] = {
            "n": int(films.sum()),
            # categories 1-3: the share flagged abnormal (sensitivity); category 0: the share not flagged
            "flagged_abnormal": 100.0 * float(flagged[films].mean()) if films.any() else float("nan"),
            "category_recall": 100.0 * float((pred.category[films] == category).mean()) if films.any() else float(
                "nan")}
    return {**binary,
            "kappa_category": _kappa(truth.category, pred.category, [0, 1, 2, 3]),
            "kappa_category_from_grade": _kappa(truth.category, np.array([int(PROFUSION[g][0]) for g in pred.grade]),
                                                [0, 1, 2, 3]),
            "kappa_grade": _kappa(truth.grade, pred.grade, grades),
            "within_one_subcategory": 100.0 * float(np.mean(np.abs(truth.grade - pred.grade) <= 1)),
            "zone_auc": float(np.nanmean(zone_aucs)) if not np.all(np.isnan(zone_aucs)) else float("nan"),
            "zones": zones, "per_category": per_category,
            "sensitivity_per_category": {k: v["flagged_abnormal"] for k, v in per_category.items() if k != "0"},
            **shape_metrics(truth, pred)}


def ilo_metrics(truth: IloTruthArrays, pred: IloPredictions, threshold: float, *, bootstrap: int = BOOTSTRAP,
                seed: int = 0, flagged: np.ndarray | None = None) -> dict[str, object]:
    """``point_metrics`` plus 95 % patient-level bootstrap intervals (``ci``) and the counts."""
    metrics = point_metrics(truth, pred, threshold, flagged)
    patients = np.unique(truth.groups)
    members = {p: np.flatnonzero(truth.groups == p) for p in patients}
    rng = np.random.default_rng(seed)
    keys = INTERVAL_KEYS + (("shape_accuracy",) if "shape_accuracy" in metrics else ())
    samples: dict[str, list[float]] = {k: [] for k in keys}
    zone_samples: dict[str, dict[str, list[float]]] = {z: {"auc": [], "kappa": []} for z in ZONES}
    for _ in range(bootstrap if len(patients) > 1 else 0):
        index = np.concatenate([members[p] for p in rng.choice(patients, len(patients))])
        t, p = truth.take(index), pred.take(index)
        if not 0 < t.abnormal.sum() < len(index):
            continue
        drawn = point_metrics(t, p, threshold, None if flagged is None else flagged[index])
        for key in keys:
            samples[key].append(float(drawn.get(key, float("nan"))))  # type: ignore[arg-type]
        for zone in ZONES:
            for key in ("auc", "kappa"):
                zone_samples[zone][key].append(float(drawn["zones"][zone][key]))  # type: ignore[index]

    def interval(values: list[float]) -> list[float] | None:
        values = [v for v in values if not np.isnan(v)]
        return [float(np.percentile(values, 2.5)), float(np.percentile(values, 97.5))] if len(values) >= 20 else None

    metrics["ci"] = {key: interval(values) for key, values in samples.items()}
    for zone in ZONES:
        metrics["zones"][zone]["ci"] = {k: interval(v) for k, v in zone_samples[zone].items()}  # type: ignore[index]
    metrics["n"] = int(len(truth.abnormal))
    metrics["n_positive"] = int(truth.abnormal.sum())
    metrics["n_patients"] = int(len(patients))
    metrics["bootstrap"] = {"draws": bootstrap, "unit": "patient", "seed": seed}
    return metrics


def fold_summary(per_fold: list[dict[str, object]]) -> dict[str, dict[str, float]]:
    """Mean and sample standard deviation over folds of the headline figures (the spread over folds)."""
    keys = ("auc", "sensitivity", "specificity", "avg", "kappa_category", "kappa_grade", "zone_auc",
            "within_one_subcategory")
    keys += ("shape_accuracy",) if per_fold and all("shape_accuracy" in fold for fold in per_fold) else ()
    out = {}
    for key in keys:
        values = np.array([float(fold[key]) for fold in per_fold], float)  # type: ignore[arg-type]
        out[key] = {"mean": float(np.nanmean(values)),
                    "std": float(np.nanstd(values, ddof=1)) if len(values) > 1 else 0.0}
    return out
