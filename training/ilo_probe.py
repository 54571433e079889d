"""How far the frozen encoder's zone features can go: a linear probe on them, on the ILO heads' own folds.

    python -m training.ilo_probe [--data LABELS.csv] [--folds 5] [--seed 0]

The ILO heads (``training.ilo_train``) learn on cached frozen-encoder features. When a head misses its aims, is it
the head or the features? This fits scikit-learn's L2-regularised logistic regression, one model shared by the six
zones (each zone's feature vector plus its one-hot zone), on the same patient-level folds as the heads'
cross-validation, and prints the out-of-fold per-zone presence AUC and the film's abnormal-vs-normal AUC scored as
its most suspicious zone. A probe that scores about as well as the trained head says the features are the limit.
It ships nothing and writes nothing.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from engine.ilo.codes import ZONES
from training.cross_validation import patient_folds
from training.ilo_phantom_head import DEFAULT_DATA
from training.ilo_train import FeatureSet, load_feature_set


def _with_zone(features: np.ndarray) -> np.ndarray:
    """(N, 6, D) -> (6N, D + 6): each zone's vector and its one-hot zone (one probe for all six zones)."""
    n, zones, _ = features.shape
    return np.hstack([features.reshape(n * zones, -1), np.tile(np.eye(zones, dtype=features.dtype), (n, 1))])


def probe_zone_scores(fs: FeatureSet, folds: int, seed: int, c: float) -> np.ndarray:
    """Out-of-fold presence probabilities (N, 6), each film scored by the probe fitted without its patient."""
    features, present = fs.view("zones"), fs.truth.zone_present
    scores = np.zeros(present.shape)
    for train, test in patient_folds(fs.truth.category, fs.truth.groups, folds, seed):
        probe = make_pipeline(StandardScaler(), LogisticRegression(C=c, max_iter=1000))
        probe.fit(_with_zone(features[train]), present[train].reshape(-1))
        scores[test] = probe.predict_proba(_with_zone(features[test]))[:, 1].reshape(len(test), -1)
    return scores


def summarise(fs: FeatureSet, scores: np.ndarray) -> dict[str, float]:
    zone_auc = {zone: 100 * roc_auc_score(fs.truth.zone_present[:, k], scores[:, k]) for k, zone in enumerate(ZONES)}
    return {"zone_auc": float(np.mean(list(zone_auc.values()))),
            "film_auc_max_zone": 100 * float(roc_auc_score(fs.truth.abnormal, scores.max(axis=1))),
            **{f"zone_auc_{zone}": float(value) for zone, value in zone_auc.items()}}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--c", type=float, nargs="+", default=[0.003, 0.03],
                        help="inverse L2 strengths to try (every one is printed: no choice is made on the folds)")
    args = parser.parse_args(argv)
    fs = load_feature_set(args.data)
    for c in args.c:
        print(json.dumps({"C": c, "films": len(fs.hashes), **summarise(fs, probe_zone_scores(fs, args.folds,  # noqa: T201
                                                                                              args.seed, c))}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
