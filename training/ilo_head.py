"""An ILO head on disk: train the final model, save it as a head folder, and what ``pneumollm train`` runs on
ILO-graded data (cross-validation, then the head).

A head folder is a normal head folder (``head.safetensors`` with the trained weights only, ``head.json``, the
training films' hashes) whose card carries an ``ilo`` section: the view, the feature settings, the names of the
grades and zones (and ``shapes`` for a head with a shape output, ``ilo.version`` 2), and the patients held out of
its training (``holdout``), so ``pneumollm evaluate`` can score only films the head has never seen.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

from engine.ilo.codes import PROFUSION, ZONES
from engine.ilo.zone_features import FEATURE_VERSION, TAPS, ZONE_MARGIN, ZONE_SHAPE
from engine.model.backbones import count_parameters
from engine.model.checkpoint import save_checkpoint
from engine.model.config import PreprocessConfig
from engine.model.head_card import HeadCard, IntendedUse, write_training_hashes
from engine.model.ilo_model import ILO_HEAD_VERSION, ILO_KIND, SHAPE_LETTERS, encoder_fingerprints
from engine.paths import write_atomic
from training.cross_validation import patient_folds
from training.ilo_train import FeatureSet, Fitted, IloTrainConfig, cross_validate, fit, inner_split

HEAD_LABELS = ("0", "1+")  # abnormal means profusion 1/0 or more


def holdout_split(fs: FeatureSet, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(training films, held-out films): whole patients, stratified by major category."""
    everything = np.arange(len(fs.hashes))
    if fraction <= 0:
        return everything, everything[:0]
    train, held = patient_folds(fs.truth.category, fs.truth.groups, max(2, round(1 / fraction)), seed + 101)[0]
    return train, held


def save_ilo_head(folder: Path, fitted: Fitted, config: IloTrainConfig, fs: FeatureSet, trained: np.ndarray,
                  held_out: np.ndarray, *, intended_use: IntendedUse, cv_report: dict[str, Any] | None,
                  note: str = "") -> Path:
    """The head folder: weights, card (with the ILO section), the training films' hashes."""
    model = fitted.model
    total, trainable = count_parameters(model)
    held_patients = sorted({str(p) for p in fs.truth.groups[held_out]})
    info = {"kind": ILO_KIND, "version": ILO_HEAD_VERSION, "view": config.view, "grades": list(PROFUSION),
            "zones": list(ZONES), "categories": ["0", "1", "2", "3"],
            **({"shapes": list(SHAPE_LETTERS)} if model.shape_head is not None else {}),
            "features": {"version": FEATURE_VERSION, "encoder": "efficientnet_lite0 (ImageNet), frozen",
                         "taps": list(TAPS), "zone_shape": list(ZONE_SHAPE), "zone_margin": ZONE_MARGIN,
                         "whole_size": 224},
            "holdout": {"patients": held_patients, "films": int(len(held_out)),
                        "rule": "patient-level, stratified by major category; never trained on, never used to choose"}}
    card = HeadCard(
        profile="embedded", model=model.config, preprocess=PreprocessConfig(), labels=HEAD_LABELS, positive_index=1,
        threshold=fitted.threshold, temperature=fitted.temperature,
        fingerprints=encoder_fingerprints(model.config, model.decoder), variant=config.variant,
        threshold_source="Youden's J on the validation split inside the training patients",
        intended_use=intended_use, grades=("0", "1", "2", "3"),
        parameters={"total": total, "trainable": trainable},
        training={**fs.dataset.summary(), "note": note, "config": asdict(config), "best_epoch": fitted.best_epoch,
                  "n_train_and_val": int(len(trained)), "n_held_out": int(len(held_out)),
                  "minutes": round(fitted.seconds / 60, 2)},
        metrics={"cross_validation": cv_report["summary"] if cv_report else None,
                 "cross_validation_pooled": _headline(cv_report["pooled"]) if cv_report else None},
        created=time.strftime("%Y-%m-%d %H:%M:%S"), extra={"ilo": info})
    folder = save_checkpoint(Path(folder), {k: v.half() if v.is_floating_point() and v.ndim >= 2 else v
                                            for k, v in model.trained_state_dict().items()}, card)
    write_training_hashes(folder, [fs.hashes[i] for i in trained])
    return folder


def _headline(metrics: dict[str, Any]) -> dict[str, Any]:
    keys = ("auc", "sensitivity", "specificity", "kappa_category", "kappa_grade", "zone_auc", "within_one_subcategory",
            "shape_accuracy", "n", "n_patients", "ci")
    return {k: metrics[k] for k in keys if k in metrics}


def train_ilo_head(config: IloTrainConfig, fs: FeatureSet, folder: Path, *, holdout: float = 0.0,
                   intended_use: IntendedUse | None = None, cv_report: dict[str, Any] | None = None,
                   note: str = "") -> tuple[Path, np.ndarray]:
    """The final head on the training patients (``holdout`` of the patients kept out); returns (folder, the
    held-out films' indices)."""
    trained, held = holdout_split(fs, holdout, config.seed)
    train, val = inner_split(fs, trained, config.val_fraction, config.seed)
    fitted = fit(config, fs, train, val)
    use = intended_use or IntendedUse(population="adult", description="ILO small-opacity grading, trained on "
                                      f"{len(trained)} graded films; research use only")
    return save_ilo_head(folder, fitted, config, fs, trained, held, intended_use=use, cv_report=cv_report,
                         note=note), held


def run_ilo_training(source: str | Path, out_dir: str | Path, config: IloTrainConfig, *, folds: int = 5,
                     holdout: float = 0.0, callback=None) -> dict[str, Any]:
    """``pneumollm train`` on ILO-graded data: patient-level cross-validation (folds > 1), then the head in
    ``OUT/model``."""
    from training.ilo_train import load_feature_set

    out_dir = Path(out_dir)
    fs = load_feature_set(source)
    fs.dataset.check_usable(max(1, folds))
    cv_report = cross_validate(config, fs, folds, config.seed, callback) if folds > 1 else None
    folder, held = train_ilo_head(config, fs, out_dir / "model", holdout=holdout, cv_report=cv_report)
    report = {"ok": True, "error": None, "model": str(folder), "data": fs.dataset.summary(),
              "skipped": [{"path": str(p), "reason": r} for p, r in fs.dataset.skipped], "variant": config.variant,
              "epochs": config.epochs, "held_out_films": int(len(held)),
              "cross_validation": None if cv_report is None else {k: v for k, v in cv_report.items()
                                                                  if k != "predictions"}}
    write_atomic(out_dir / "report.json", json.dumps(report, indent=2, default=float).encode())
    if cv_report is not None:
        write_atomic(out_dir / "cross_validation.json", json.dumps(cv_report, default=float).encode())
    return report
