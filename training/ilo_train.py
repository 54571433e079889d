"""Training the ILO heads (``engine.model.ilo_model``) on ILO-graded films: patient-level cross-validation, then a
head on the training patients, with a patient-level hold-out the head never sees.

The paper's recipe where it applies (AdamW, betas 0.9/0.95, weight decay 0.02, batch 16, 2 warm-up epochs then
cosine); the frozen encoder runs once per film (``training.ilo_features``), so an epoch is the heads alone. Every
choice - the checkpoint (lowest validation loss), the temperature, the abnormal threshold (Youden's J) - comes
from a patient-level validation split inside the training patients, never from the films that are scored.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.nn import functional as F

from engine.errors import TrainingError
from engine.model.config import ModelConfig
from engine.model.ilo_model import SHAPE_LETTERS, IloOutput, IloPneumoLLM, build_ilo_model
from training.cross_validation import patient_folds
from training.data import LabelledSet, load_labelled
from training.finetune import lr_factor, ordinal_loss, parameter_groups
from training.ilo_metrics import IloPredictions, IloTruthArrays, fold_summary, ilo_metrics
from training.metrics import fit_temperature, youden_threshold

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class IloTrainConfig:
    view: str = "zones"  # "zones" (zone resolution) | "whole" (the paper's 224 lung crop)
    epochs: int = 40
    batch_size: int = 16
    lr: float = 1e-3  # the heads on cached features learn faster than the paper's 3e-4 allows in 40 epochs
    weight_decay: float = 0.02
    beta1: float = 0.9
    beta2: float = 0.95
    warmup_epochs: int = 2
    val_fraction: float = 0.15
    source_width: int = 256  # n; the zone view's source projection is 3456 -> n
    use_llm: bool = False  # the frozen SmolLM2 (True: the paper's model; ~50 s per batch on a shared 2-core CPU)
    use_token_engine: bool = True
    use_emitter_mask: bool = True
    use_adapters: bool = True  # the LLM's adapters (encoder adapters stay at identity on cached features)
    seed: int = 0
    threads: int = 2
    loss_weights: dict[str, float] = field(default_factory=lambda: {
        "abnormal": 1.0, "category": 1.0, "grade": 1.0, "zones": 1.0, "zone_grade": 1.0, "shape": 1.0})
    shape_head: bool = True  # learn the primary shape when the training films record one (abnormal films only)

    def model_config(self) -> ModelConfig:
        return ModelConfig(source_width=self.source_width, use_llm=self.use_llm,
                           use_token_engine=self.use_token_engine, use_emitter_mask=self.use_emitter_mask,
                           use_adapters=self.use_adapters)

    @property
    def variant(self) -> str:
        off = [name for name, on in (("llm", self.use_llm), ("engine", self.use_token_engine),
                                     ("emitter", self.use_emitter_mask), ("adapters", self.use_adapters)) if not on]
        return f"{self.view}:" + ("pneumollm" if not off else "without-" + "-".join(off))


@dataclass
class FeatureSet:
    """The films of a labelled set as the ILO heads see them, with their truth."""

    dataset: LabelledSet
    inputs: dict[str, np.ndarray]  # "whole" (N, 1728), "zones" (N, 6, 3456)
    truth: IloTruthArrays
    hashes: list[str]

    def view(self, name: str) -> np.ndarray:
        return self.inputs[name]


def load_feature_set(source: str | Path | LabelledSet, *, progress: Callable | None = None) -> FeatureSet:
    """Read an ILO-graded set and its features (computed once, then from the cache)."""
    from engine.segment import LungSegmenter
    from training.ilo_features import FeatureCache

    dataset = source if isinstance(source, LabelledSet) else load_labelled(source)
    if not dataset.ilo_graded:
        raise TrainingError("The ILO heads need ILO readings: a CSV with path,grade,zones[,shape][,patient_id].")
    features, hashes, failed = FeatureCache(LungSegmenter()).features([i.path for i in dataset.items],
                                                                      progress=progress)
    dataset = dataset.without(failed)
    items = dataset.items
    truth = IloTruthArrays(np.array([i.ilo.abnormal for i in items]), np.array([i.ilo.category for i in items]),
                           np.array([i.ilo.grade for i in items]), np.array([i.ilo.zone_present for i in items]),
                           np.array([i.ilo.zone_grades for i in items]), np.array([i.patient for i in items]),
                           shape=shape_indices([i.ilo.shape for i in items]))
    inputs = {"whole": np.stack([f.whole for f in features]), "zones": np.stack([f.zones for f in features])}
    return FeatureSet(dataset, inputs, truth, hashes)


def shape_indices(shapes: list[str]) -> np.ndarray:
    """Each film's primary shape as an index into SHAPE_LETTERS; -1 where none is recorded."""
    return np.array([SHAPE_LETTERS.index(s) if s in SHAPE_LETTERS else -1 for s in shapes], np.int64)


def _shape_loss(output: IloOutput, batch: dict[str, torch.Tensor]) -> torch.Tensor:
    """Cross-entropy on the abnormal films with a recorded shape (normal films and films without a shape are masked
    out: a 0/0 film has no small opacities to have a shape, and a 0/1 film's are below ILO's threshold)."""
    known = (batch["shape"] >= 0) & batch["abnormal"].bool()
    if not bool(known.any()):
        return output.shape_logits.sum() * 0.0  # type: ignore[union-attr]
    return F.cross_entropy(output.shape_logits[known], batch["shape"][known])  # type: ignore[index]


def _loss(output: IloOutput, batch: dict[str, torch.Tensor], weights: dict[str, float]) -> torch.Tensor:
    zone_grades = batch["zone_grade"]
    parts = {
        "abnormal": F.cross_entropy(output.logits, batch["abnormal"].long()),
        "category": ordinal_loss(output.grade_logits, batch["category"]),
        "grade": ordinal_loss(output.profusion_logits, batch["grade"]),
        "zones": F.binary_cross_entropy_with_logits(output.zone_logits, batch["zone_present"].float()),
        "zone_grade": ordinal_loss(output.zone_profusion_logits.reshape(-1, output.zone_profusion_logits.shape[-1]),
                                   zone_grades.reshape(-1)),
    }
    if output.shape_logits is not None and "shape" in batch:
        parts["shape"] = _shape_loss(output, batch)
    return sum(weights.get(k, 1.0) * v for k, v in parts.items())


def _tensors(fs: FeatureSet, view: str, index: np.ndarray) -> dict[str, torch.Tensor]:
    t = fs.truth
    return {"x": torch.from_numpy(fs.view(view)[index]).float(), "abnormal": torch.from_numpy(t.abnormal[index]),
            "category": torch.from_numpy(t.category[index]).long(), "grade": torch.from_numpy(t.grade[index]).long(),
            "zone_present": torch.from_numpy(t.zone_present[index]),
            "zone_grade": torch.from_numpy(t.zone_grade[index]).long(),
            **({"shape": torch.from_numpy(t.shape[index]).long()} if t.shape is not None else {})}


def learns_shape(config: IloTrainConfig, fs: FeatureSet, train: np.ndarray) -> bool:
    """A shape head is built when asked for and some abnormal training film records its primary shape."""
    return config.shape_head and bool(fs.truth.shape_known()[train].any())


@torch.inference_mode()
def predict_raw(model: IloPneumoLLM, x: np.ndarray, batch_size: int = 64) -> dict[str, np.ndarray]:
    """The model's raw outputs for feature vectors, in eval mode."""
    was = model.training
    model.eval()
    parts: dict[str, list[np.ndarray]] = {k: [] for k in ("logits", "category", "profusion", "zones", "zone_grade")}
    for offset in range(0, len(x), batch_size):
        out = model(torch.from_numpy(np.ascontiguousarray(x[offset : offset + batch_size])).float())
        for key, value in (("logits", out.logits), ("category", out.grade_logits), ("profusion", out.profusion_logits),
                           ("zones", out.zone_logits), ("zone_grade", out.zone_profusion_logits),
                           ("shape", out.shape_logits)):
            if value is not None:  # no "shape" without a shape head
                parts.setdefault(key, []).append(value.float().numpy())
    model.train(was)
    return {k: np.concatenate(v) for k, v in parts.items()}


def to_predictions(raw: dict[str, np.ndarray], temperature: float) -> IloPredictions:
    return IloPredictions.from_outputs(raw["logits"], raw["category"], raw["profusion"], raw["zones"],
                                       raw["zone_grade"], temperature, raw.get("shape"))


@dataclass
class Fitted:
    model: IloPneumoLLM
    temperature: float
    threshold: float
    best_epoch: int
    history: list[dict[str, float]]
    seconds: float


def fit(config: IloTrainConfig, fs: FeatureSet, train: np.ndarray, val: np.ndarray) -> Fitted:
    """Train on ``train``; the checkpoint, temperature and threshold from ``val`` (both patient-level)."""
    if config.threads:
        torch.set_num_threads(config.threads)
    torch.manual_seed(config.seed)
    started = time.perf_counter()
    model = build_ilo_model(config.model_config(), config.view, learns_shape(config, fs, train))
    model.sources.standardise_from(torch.from_numpy(fs.view(config.view)[train]))
    optimizer = torch.optim.AdamW(parameter_groups(model, config.weight_decay), lr=config.lr,
                                  betas=(config.beta1, config.beta2))
    data, val_data = _tensors(fs, config.view, train), _tensors(fs, config.view, val)
    steps_per_epoch = math.ceil(len(train) / config.batch_size)
    total, warmup = steps_per_epoch * config.epochs, steps_per_epoch * config.warmup_epochs
    best = {"loss": float("inf"), "epoch": 0, "state": None}
    history = []
    rng = np.random.default_rng(config.seed)
    for epoch in range(config.epochs):
        model.train()
        order = rng.permutation(len(train))
        losses = []
        for step, offset in enumerate(range(0, len(order), config.batch_size)):
            pick = torch.from_numpy(order[offset : offset + config.batch_size])
            for group in optimizer.param_groups:
                group["lr"] = config.lr * lr_factor(epoch * steps_per_epoch + step, warmup, total)
            batch = {k: v[pick] for k, v in data.items()}
            loss = _loss(model(batch["x"]), batch, config.loss_weights)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            losses.append(float(loss.detach()))
        model.eval()
        with torch.inference_mode():
            val_loss = float(_loss(model(val_data["x"]), val_data, config.loss_weights))
        history.append({"epoch": epoch + 1, "train_loss": float(np.mean(losses)), "val_loss": val_loss})
        if val_loss < best["loss"]:
            best = {"loss": val_loss, "epoch": epoch + 1,
                    "state": {k: v.detach().clone() for k, v in model.state_dict().items()}}
    model.load_state_dict(best["state"])
    raw = predict_raw(model, fs.view(config.view)[val])
    labels = fs.truth.abnormal[val].astype(int)
    temperature = fit_temperature(raw["logits"], labels)
    threshold = youden_threshold(labels, to_predictions(raw, temperature).probability)
    return Fitted(model, temperature, threshold, int(best["epoch"]), history, time.perf_counter() - started)


def inner_split(fs: FeatureSet, indices: np.ndarray, val_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Patient-level train/validation split of ``indices``, stratified by major category."""
    splits = max(2, round(1 / val_fraction))
    train, val = patient_folds(fs.truth.category[indices], fs.truth.groups[indices], splits, seed)[0]
    return indices[train], indices[val]


def cross_validate(config: IloTrainConfig, fs: FeatureSet, folds: int = 5, seed: int = 0,
                   callback: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Patient-level stratified k-fold: per-fold figures, their spread, and the pooled out-of-fold figures."""
    n = len(fs.hashes)
    splits = patient_folds(fs.truth.category, fs.truth.groups, folds, seed)
    pooled_pred: dict[str, np.ndarray] = {}
    per_fold, records = [], []
    for number, (train_all, test) in enumerate(splits, start=1):
        assert not set(fs.truth.groups[train_all]) & set(fs.truth.groups[test]), "patient leak between folds"
        train, val = inner_split(fs, train_all, config.val_fraction, seed + number)
        fitted = fit(replace(config, seed=config.seed + number), fs, train, val)
        pred = to_predictions(predict_raw(fitted.model, fs.view(config.view)[test]), fitted.temperature)
        metrics = ilo_metrics(fs.truth.take(test), pred, fitted.threshold, bootstrap=0)
        per_fold.append(metrics)
        records.append({"fold": number, "n_train": int(len(train)), "n_val": int(len(val)), "n_test": int(len(test)),
                        "best_epoch": fitted.best_epoch, "threshold": fitted.threshold,
                        "temperature": fitted.temperature, "seconds": round(fitted.seconds, 1),
                        "metrics": {k: v for k, v in metrics.items() if k not in ("zones", "per_category", "ci")}})
        for key, value in pred.to_json().items():
            pooled_pred.setdefault(key, np.zeros((n, *np.asarray(value).shape[1:])))[test] = np.asarray(value)
        # each fold's own threshold: the pooled decision is that fold's
        pooled_pred.setdefault("flag", np.zeros(n))[test] = pred.probability >= fitted.threshold
        if callback:
            callback(f"{config.variant} fold {number}/{folds}: AUC {metrics['auc']:.1f}, kappa grade "
                     f"{metrics['kappa_grade']:.3f}, zone AUC {metrics['zone_auc']:.1f}")
    pooled = IloPredictions(pooled_pred["probability"], pooled_pred["category"].astype(int),
                            pooled_pred["grade"].astype(int), pooled_pred["zone_probability"],
                            pooled_pred["zone_grade"].astype(int), pooled_pred.get("shape_probability"))
    # pooled out-of-fold: every film scored once by the fold model that never saw its patient, decided at that
    # fold's own threshold
    pooled_metrics = ilo_metrics(fs.truth, pooled, 0.5, flagged=pooled_pred["flag"].astype(bool), seed=seed)
    return {"variant": config.variant, "config": _config_json(config), "folds": records,
            "summary": fold_summary(per_fold), "pooled": pooled_metrics, "predictions": pooled.to_json(),
            "seed": seed}


def _config_json(config: IloTrainConfig) -> dict[str, Any]:
    return asdict(config)
