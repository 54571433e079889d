"""``pneumollm evaluate DATA --model ILO_HEAD``: the ILO figures of an ILO head on ILO-graded films.

Films the head was trained on (its ``training_images.json``) are left out of every figure and counted
(``excluded_seen_in_training``): on the phantom that leaves the head's held-out patients, so the figures are
held-out figures, never training films scored as if unseen.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from engine.errors import TrainingError
from engine.model.head_card import is_simulation, read_training_hashes
from engine.model.ilo_model import ilo_info, load_ilo_head
from training.ilo_metrics import ilo_metrics
from training.ilo_train import load_feature_set, predict_raw, to_predictions


def evaluate_ilo_head(source: str | Path, model_dir: str | Path, *, bootstrap: int = 500, seed: int = 0,
                      include_training_films: bool = False) -> dict[str, Any]:
    model, card = load_ilo_head(model_dir)
    info = ilo_info(card) or {}
    fs = load_feature_set(source)
    trained = read_training_hashes(Path(model_dir)) or frozenset()
    seen = np.array([digest in trained for digest in fs.hashes], bool)
    keep = np.flatnonzero(~seen) if not include_training_films else np.arange(len(fs.hashes))
    if len(keep) == 0:
        raise TrainingError("Every film here was used to train this head: there is nothing held out to score.")
    truth = fs.truth.take(keep)
    raw = predict_raw(model, fs.view(str(info["view"]))[keep])
    pred = to_predictions(raw, card.temperature)
    metrics = ilo_metrics(truth, pred, card.threshold, bootstrap=bootstrap, seed=seed)
    held = set((info.get("holdout") or {}).get("patients", []))
    in_holdout = sum(str(p) in held for p in set(truth.groups.tolist()))
    return {"n": int(len(keep)), "n_positive": int(truth.abnormal.sum()), "threshold": card.threshold,
            "metrics": metrics, "model_id": card.model_id, "view": info.get("view"), "variant": card.variant,
            "simulation": is_simulation(card), "intended_use": card.intended_use.description,
            "excluded_seen_in_training": int(seen.sum()) if not include_training_films else 0,
            "split": ("films not in the head's training set" if not include_training_films else
                      "ALL films, training films included (not a held-out figure)")
            + f"; {in_holdout} of {len(set(truth.groups.tolist()))} patients are in the head's recorded hold-out",
            "data": fs.dataset.summary(),
            "units": "AUC, sensitivity, specificity and rates in percent; kappas as cohen_kappa_score returns them"}
