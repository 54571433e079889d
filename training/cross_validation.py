"""Patient-level stratified k-fold cross-validation, then the final model on all data.

For each fold the reported test part is never seen during training: the training part is split again
(patient-level) into train and validation, and checkpoint selection, early stopping, the Youden threshold
and the temperature all come from that inner validation split. (The public reference implementation
selects its checkpoint on the split it reports; we do not.) With a ``val_order`` (patient id -> its place in the
order the films were acquired) that inner split is each class's latest-acquired patients instead of a random
draw, so the threshold and temperature are chosen on films apart from the training films by acquisition batch too.
"""

from __future__ import annotations

import json
import logging
import platform
import resource
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from sklearn.model_selection import StratifiedGroupKFold

from engine.errors import TrainingError
from engine.model.backbones import count_parameters
from engine.model.checkpoint import save_checkpoint
from engine.model.config import PreprocessConfig
from engine.model.head_card import TRAINING_HASHES, HeadCard, IntendedUse, describe_rule, write_training_hashes
from engine.model.pneumollm import frozen_fingerprints
from engine.model.registry import load_profile
from engine.paths import write_atomic
from engine.reference_map import ReferenceMap
from engine.segment import LungSegmenter
from training.augment import PRESETS, RegionAugmenter
from training.cache import CachedRegion, RegionCache
from training.config import CVConfig, FinetuneConfig
from training.data import LabelledSet, binary_classes, load_labelled, positive_class_index
from training.distributed import is_main_process, main_process_first, wait_for_everyone
from training.finetune import (
    Callback,
    Trainer,
    TrainingEvent,
    domain_features,
    make_model,
    predict_logits,
    predict_outputs,
)
from training.intended_use import derive_intended_use
from training.metrics import (
    OPERATING_RULES,
    binary_metrics,
    grade_metrics,
    operating_point_table,
    roc_points,
    softmax,
    summarise_folds,
)

log = logging.getLogger(__name__)
REFERENCE_MAP_CASES = 2000  # enough for a readable map; placing a case then takes about a second
# A patient id -> its place in acquisition order (later films compare larger), e.g. training.kermany's.
ValidationOrder = Callable[[str], Any]


@dataclass
class PreparedData:
    dataset: LabelledSet
    crops: np.ndarray  # (N, S, S) uint8 model crops for ``preprocess`` (engine.segment.model_crop)
    regions: list[CachedRegion]  # the cached lung regions the crops (and augmented crops) are made from
    preprocess: PreprocessConfig  # the geometry the crops follow; a trained head's card records it
    labels: np.ndarray  # (N,) class index
    groups: np.ndarray  # (N,) patient id
    fallback: np.ndarray  # (N,) bool: lung crop fell back to the centred crop
    hashes: list[str]  # content hash of each image (engine.paths.file_sha256), aligned with the arrays
    grades: np.ndarray | None = None  # (N,) grade index for ordered classes (ILO 0-3); ``labels`` is then grade >= 1

    @property
    def head_classes(self) -> tuple[str, ...]:
        """The binary head's labels ("0" / "1+" for grades)."""
        return binary_classes(self.dataset.classes)

    @property
    def positive(self) -> int:
        return 1 if self.grades is not None else positive_class_index(self.dataset.classes)

    @property
    def strata(self) -> np.ndarray:
        """What the patient-level splits keep balanced: the grades when there are any."""
        return self.grades if self.grades is not None else self.labels


def prepare_data(source: str | Path | LabelledSet, *, folds: int, preprocess: PreprocessConfig | None = None,
                 derive_geometry: bool = False, segmenter: LungSegmenter | None = None,
                 callback: Callback | None = None, cancelled: Callable[[], bool] = lambda: False) -> PreparedData:
    """Scan, segment (cached) and check a labelled set; unusable data is refused before training.

    ``derive_geometry`` (training): the crop geometry comes from these images — the median lung-rectangle side
    becomes the head's ``effective_side`` — else ``preprocess`` (an existing head's) is followed as it is.
    """
    dataset = source if isinstance(source, LabelledSet) else load_labelled(source)
    if not dataset.items:
        raise TrainingError("No images found in the training data.")
    cache = RegionCache(segmenter or LungSegmenter(), presentation=preprocess)  # an existing head's film grid

    def progress(p: Any) -> None:
        if callback:
            callback(TrainingEvent("segmenting", step=p.done, steps=p.total, eta_s=p.eta_s, message=p.describe()))

    keys, failed = cache.prepare([item.path for item in dataset.items], progress=progress, cancelled=cancelled)
    dataset = dataset.without(failed)
    dataset.check_usable(folds)
    regions = cache.load_all([keys[item.path] for item in dataset.items])
    preprocess = preprocess or PreprocessConfig()
    if derive_geometry:
        preprocess = replace(preprocess, **training_geometry(regions))
    crops = np.stack([entry.crop(preprocess.input_size, preprocess.effective_side) for entry in regions])
    grades = np.array([i.label for i in dataset.items]) if dataset.ordinal else None
    return PreparedData(dataset, crops, regions, preprocess, np.array(dataset.binary_labels()),
                        np.array([i.patient for i in dataset.items]), np.array([e.fallback for e in regions]),
                        [keys[item.path] for item in dataset.items], grades)


def training_geometry(regions: list[CachedRegion]) -> dict[str, int]:
    """The crop geometry a head learns: the typical lung-rectangle side and radiograph size of its data."""
    return {"effective_side": int(np.median([entry.box_side for entry in regions])),
            "source_long_side": int(np.median([entry.source_long_side for entry in regions]))}


def patient_folds(labels: np.ndarray, groups: np.ndarray, folds: int, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    splitter = StratifiedGroupKFold(n_splits=folds, shuffle=True, random_state=seed)
    return [(train, test) for train, test in splitter.split(np.zeros(len(labels)), labels, groups)]


def inner_split(indices: np.ndarray, labels: np.ndarray, groups: np.ndarray, val_fraction: float,
                seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Patient-level, stratified train/validation split of ``indices``."""
    subset = labels[indices]
    smallest = int(np.bincount(subset).min()) if len(np.unique(subset)) > 1 else 0
    if smallest < 2:
        raise TrainingError("Too few images of one class for a validation split inside the training data — "
                            "add images or use fewer folds.")
    # Small data sets cannot afford 1/val_fraction splits: every class must appear in every split.
    n_splits = min(max(2, round(1 / val_fraction)), smallest)
    train, val = patient_folds(subset, groups[indices], n_splits, seed)[0]
    return indices[train], indices[val]


def latest_split(indices: np.ndarray, labels: np.ndarray, groups: np.ndarray, val_fraction: float,
                 order: ValidationOrder) -> tuple[np.ndarray, np.ndarray]:
    """Train/validation split of ``indices`` whose validation part is, per class, the latest-acquired patients
    (about ``val_fraction`` of that class's images): apart from the training part by patient and by acquisition
    batch, as the next films a clinic sends will be. A patient taken for one class takes all their images."""
    later: set[str] = set()
    for label in np.unique(labels[indices]):
        members = indices[labels[indices] == label]
        images = Counter(groups[members].tolist())
        if len(images) < 2:
            raise TrainingError("Too few patients of one class for a validation split inside the training data — "
                                "add images or use fewer folds.")
        target, taken = val_fraction * len(members), 0
        # the newest first; ties by id, so the split does not depend on file order
        for patient in sorted(images, key=lambda p: (order(p), p), reverse=True)[:len(images) - 1]:
            if taken >= target:
                break
            later.add(patient)
            taken += images[patient]
    is_val = np.isin(groups[indices], sorted(later))
    train, val = indices[~is_val], indices[is_val]
    if len(np.unique(labels[train])) < len(np.unique(labels[indices])):
        raise TrainingError("The latest-acquired patients hold every image of one class — add earlier films or "
                            "use a random validation split.")
    return train, val


def validation_split(indices: np.ndarray, labels: np.ndarray, groups: np.ndarray, val_fraction: float, seed: int,
                     order: ValidationOrder | None) -> tuple[np.ndarray, np.ndarray]:
    """The inner split: the latest-acquired patients when their order is known, else a random patient draw."""
    if order is None:
        return inner_split(indices, labels, groups, val_fraction, seed)
    return latest_split(indices, labels, groups, val_fraction, order)


def describe_validation(order: ValidationOrder | None) -> str:
    return ("each class's latest-acquired patients (a later acquisition batch than the training films)"
            if order is not None else "patients drawn at random, class-stratified")


def peak_memory_mb() -> float:
    if torch.cuda.is_available():
        return torch.cuda.max_memory_allocated() / 2**20
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 1024 if platform.system() != "Darwin" else peak / 2**20


def train_and_report(config: FinetuneConfig, data: PreparedData, train_idx: np.ndarray, val_idx: np.ndarray,
                     run_dir: Path, *, resume: bool, callback: Callback | None, cancelled: Callable[[], bool],
                     fold: int | None, folds: int) -> tuple[Any, Any]:
    torch.manual_seed(config.seed + (fold or 0))
    model, profile_preprocess, _ = make_model(config, grades=0 if data.grades is None else len(data.dataset.classes))
    # The profile's normalisation, the data's crop geometry.
    preprocess = replace(data.preprocess, mean=profile_preprocess.mean, std=profile_preprocess.std)
    positive = data.positive
    trainer = Trainer(config, model, preprocess, run_dir=run_dir, callback=callback, cancelled=cancelled,
                      fold=fold, folds=folds, positive_index=positive)
    augmenter = RegionAugmenter([data.regions[i] for i in train_idx], preprocess.input_size,
                                preprocess.effective_side, PRESETS[config.augment_preset],
                                seed=config.seed + 7919 * (fold or 0)) if config.augment else None
    grades = data.grades
    result = trainer.fit(data.crops[train_idx], data.labels[train_idx], data.crops[val_idx], data.labels[val_idx],
                         resume=resume, augmenter=augmenter,
                         train_grades=None if grades is None else grades[train_idx],
                         val_grades=None if grades is None else grades[val_idx])
    return result, trainer


def run_cross_validation(config: FinetuneConfig, cv: CVConfig, data: PreparedData, out_dir: Path, *,
                         resume: bool = False, callback: Callback | None = None,
                         cancelled: Callable[[], bool] = lambda: False,
                         val_order: ValidationOrder | None = None) -> dict[str, Any]:
    """Per-fold test metrics (threshold and temperature from each fold's inner validation split)."""
    positive = data.positive
    per_fold, pooled_y, pooled_p = [], [], []
    splits = patient_folds(data.strata, data.groups, cv.folds, cv.seed)
    for fold, (train_all, test) in enumerate(splits):
        fold_dir = out_dir / "folds" / f"fold-{fold + 1}"
        done_file = fold_dir / "result.json"
        if resume and done_file.exists():
            record = json.loads(done_file.read_text())
        else:
            assert not set(data.groups[train_all]) & set(data.groups[test]), "patient leak between folds"
            train, val = validation_split(train_all, data.strata, data.groups, config.val_fraction, cv.seed + fold,
                                          val_order)
            result, trainer = train_and_report(config, data, train, val, fold_dir, resume=resume,
                                               callback=callback, cancelled=cancelled, fold=fold, folds=cv.folds)
            logits, _, grade_logits = predict_outputs(result.model, data.crops[test], trainer.preprocess,
                                                      trainer.runtime)
            probability = softmax(logits, result.temperature)[:, positive]
            y_test = data.labels[test] == positive
            record = {"fold": fold + 1, "metrics": binary_metrics(y_test, probability, result.threshold),
                      "threshold": result.threshold, "temperature": result.temperature,
                      "best_epoch": result.best_epoch, "val_metrics": result.val_metrics,
                      "n_train": int(len(train)), "n_val": int(len(val)), "n_test": int(len(test)),
                      "n_test_positive": int(y_test.sum()), "minutes": result.seconds / 60,
                      "peak_memory_mb": peak_memory_mb(),
                      "roc": roc_points(y_test, probability), "history": result.history,
                      "test_labels": y_test.astype(int).tolist(), "test_probability": probability.tolist()}
            if grade_logits is not None and data.grades is not None:
                record["grade_metrics"] = grade_metrics(data.grades[test], grade_logits, data.dataset.classes)
            if is_main_process():
                write_atomic(done_file, json.dumps(record, indent=2).encode())
            if callback:
                callback(TrainingEvent("fold done", fold=fold, folds=cv.folds, metrics=record["metrics"]))
        per_fold.append(record)
        pooled_y.extend(record["test_labels"])
        pooled_p.extend(record["test_probability"])
    graded = [r["grade_metrics"] for r in per_fold if "grade_metrics" in r]
    return {"folds": [{k: v for k, v in r.items() if k not in ("test_labels", "test_probability", "history")}
                      for r in per_fold],
            "summary": summarise_folds([r["metrics"] for r in per_fold]),
            "grade_summary": summarise_folds(graded) if graded else None,
            "pooled_roc": roc_points(np.array(pooled_y), np.array(pooled_p)),
            "minutes": float(sum(r["minutes"] for r in per_fold)),
            "peak_memory_mb": float(max(r["peak_memory_mb"] for r in per_fold))}


def train_final_model(config: FinetuneConfig, data: PreparedData, out_dir: Path, *, resume: bool = False,
                      callback: Callback | None = None, cancelled: Callable[[], bool] = lambda: False,
                      cv_report: dict[str, Any] | None = None, data_note: str = "",
                      reference_map: bool = True, intended_use: IntendedUse | None = None,
                      val_order: ValidationOrder | None = None) -> Path:
    """Train on all data (inner validation split), save the installable head to ``out_dir / 'model'``."""
    indices = np.arange(len(data.labels))
    train, val = validation_split(indices, data.strata, data.groups, config.val_fraction, config.seed, val_order)
    result, trainer = train_and_report(config, data, train, val, out_dir / "final", resume=resume,
                                       callback=callback, cancelled=cancelled, fold=None, folds=0)
    model = result.model
    profile = config.profile
    say = callback or (lambda event: None)  # the steps after the last epoch take a while: the GUI says which
    say(TrainingEvent("finishing", message="Finishing the final model: operating points and saving the head…"))
    total, trainable = count_parameters(model)
    positive = data.positive
    card = HeadCard(
        profile=profile, model=model.config, preprocess=trainer.preprocess, labels=data.head_classes,
        grades=tuple(data.dataset.classes) if data.grades is not None else (),
        positive_index=positive, threshold=result.threshold, temperature=result.temperature,
        fingerprints=frozen_fingerprints(model), variant=config.variant, baseline=config.baseline,
        threshold_source=f"{describe_rule(config.operating_point)} on the validation split inside the training data"
                         + (" (its latest-acquired patients)" if val_order is not None else ""),
        operating_points=operating_point_table(result.val_positive, result.val_probability, OPERATING_RULES,
                                               seed=config.seed),
        intended_use=intended_use or derive_intended_use(data.dataset),
        parameters={"total": total, "trainable": trainable},
        training={**data.dataset.summary(), "note": data_note, "epochs": config.epochs,
                  "best_epoch": result.best_epoch, "n_train": int(len(train)), "n_val": int(len(val)),
                  "n_val_positive": int(result.val_positive.sum()), "validation_split": describe_validation(val_order),
                  "config": config.to_json(), "minutes": round(result.seconds / 60, 1),
                  "image_hashes": TRAINING_HASHES,
                  "augmentations": ({"preset": config.augment_preset, **PRESETS[config.augment_preset].describe()}
                                    if config.augment else None)},
        metrics={"validation": result.val_metrics,
                 "cross_validation": cv_report["summary"] if cv_report else None,
                 "cross_validation_folds": len(cv_report["folds"]) if cv_report else 0,
                 "grades_validation": result.val_grade_metrics,
                 "grades_cross_validation": cv_report.get("grade_summary") if cv_report else None},
        roc=cv_report["pooled_roc"] if cv_report else None, created=time.strftime("%Y-%m-%d %H:%M:%S"))
    folder = out_dir / "model"
    if not is_main_process():  # under a data-parallel launcher every rank trained the same model; one saves it
        return folder
    folder = save_checkpoint(folder, model.trained_state_dict(), card)
    write_training_hashes(folder, data.hashes)
    if reference_map:
        say(TrainingEvent("finishing", message=f"Building the reference map: embedding {len(data.crops)} images, "
                                               f"then a t-SNE of up to {REFERENCE_MAP_CASES} of them…"))
        logits, embeddings = predict_logits(model, data.crops, trainer.preprocess, trainer.runtime)
        rng = np.random.default_rng(config.seed)
        keep = np.sort(rng.permutation(len(embeddings))[:REFERENCE_MAP_CASES])
        wholes = np.stack([data.regions[i].whole for i in keep])
        domain = domain_features(model, wholes, trainer.preprocess, trainer.runtime)
        ReferenceMap.fit(embeddings[keep], data.labels[keep], data.head_classes, seed=config.seed,
                         domain=domain).save(folder)
    return folder


def run_training(source: str | Path, out_dir: str | Path, config: FinetuneConfig, cv: CVConfig, *,
                 resume: bool = False, callback: Callback | None = None, cancelled: Callable[[], bool] = lambda: False,
                 segmenter: LungSegmenter | None = None, data_note: str = "",
                 intended_use: IntendedUse | None = None, val_order: ValidationOrder | None = None) -> dict[str, Any]:
    """What ``pneumollm train`` and the wizard run: cross-validation (folds > 1), then the final model.

    ``intended_use``: what the head is for, when the caller knows better than the data's tags (else derived).
    ``val_order``: where each patient stands in acquisition order, when the caller knows (``latest_split``).
    """
    out_dir = Path(out_dir)
    run_file = out_dir / "run.json"
    if resume and run_file.exists():
        previous = json.loads(run_file.read_text())
        if (previous.get("config") != config.to_json() or previous.get("cv") != cv.__dict__
                or previous.get("validation", describe_validation(None)) != describe_validation(val_order)):
            raise TrainingError("--resume needs the same settings as the interrupted run (see run.json).")
    elif not resume and ((out_dir / "folds").exists() or (out_dir / "final").exists()):
        raise TrainingError(f"{out_dir} already holds a run — choose another --out or add --resume.")
    with main_process_first():  # the main process fills the crop cache; the other ranks then read it
        data = prepare_data(source, folds=cv.folds, preprocess=profile_preprocess(config), derive_geometry=True,
                            segmenter=segmenter, callback=callback, cancelled=cancelled)
    if is_main_process():
        write_atomic(run_file, json.dumps({"config": config.to_json(), "cv": cv.__dict__, "source": str(source),
                                           "validation": describe_validation(val_order),
                                           "data": data.dataset.summary()}, indent=2).encode())
    cv_report = None
    if cv.folds > 1:
        cv_report = run_cross_validation(config, cv, data, out_dir, resume=resume, callback=callback,
                                         cancelled=cancelled, val_order=val_order)
    model_dir = train_final_model(config, data, out_dir, resume=resume, callback=callback, cancelled=cancelled,
                                  cv_report=cv_report, data_note=data_note, intended_use=intended_use,
                                  val_order=val_order)
    report = {"ok": True, "error": None, "model": str(model_dir), "data": data.dataset.summary(),
              "skipped": [{"path": str(p), "reason": r} for p, r in data.dataset.skipped],
              "fallback_crops": int(data.fallback.sum()), "variant": config.variant,
              "cross_validation": cv_report, "epochs": config.epochs}
    if is_main_process():
        write_atomic(out_dir / "report.json", json.dumps(report, indent=2).encode())
    wait_for_everyone()
    if callback:
        callback(TrainingEvent("done", message=f"Model saved to {model_dir}"))
    return report


def profile_preprocess(config: FinetuneConfig) -> PreprocessConfig:
    """The profile's preprocessing, without building the model (the crop cache needs the input size)."""
    return load_profile(config.profile, vision_weights=config.vision_weights, llm_path=config.llm_path).preprocess
