"""One training run: the paper's recipe on cached lung crops, resumable, cancellable, reporting progress.

Model selection (best validation AUC), early stopping, the operating threshold (Youden's J) and the
temperature-scaling calibration all come from the validation split handed in here — never from data that
is reported as a test result (see ``training.cross_validation``).
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from engine.errors import Cancelled, TrainingError
from engine.model.config import PreprocessConfig
from engine.model.pneumollm import build_model
from engine.model.registry import load_profile
from engine.model.runtime import Runtime
from engine.paths import write_atomic
from engine.preprocess import crops_to_tensor
from training.augment import RegionAugmenter
from training.config import FinetuneConfig
from training.distributed import accelerator, is_main_process, rank_and_world
from training.metrics import binary_metrics, fit_temperature, grade_metrics, operating_threshold, softmax

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TrainingEvent:
    """What the GUI and the CLI draw while training runs."""

    stage: str  # "segmenting" | "training" | "validated" | "fold done" | "finishing" | "done"
    epoch: int = 0
    epochs: int = 0
    step: int = 0
    steps: int = 0
    loss: float | None = None
    metrics: dict[str, float] = field(default_factory=dict)
    eta_s: float | None = None
    fold: int | None = None  # 0-based; None = the final model on all data
    folds: int = 0
    message: str = ""


Callback = Callable[[TrainingEvent], None]


@dataclass
class TrainResult:
    model: nn.Module
    best_epoch: int
    threshold: float  # chosen on the validation split by ``FinetuneConfig.operating_point``
    temperature: float
    val_metrics: dict[str, float]
    history: list[dict[str, Any]]
    seconds: float
    val_positive: np.ndarray  # (n_val,) bool: the validation split's truth ...
    val_probability: np.ndarray  # (n_val,) ... and its calibrated probabilities (for the operating-point table)
    val_grade_metrics: dict[str, float] | None = None  # ordered grades: QWK and per-grade sensitivity


def make_model(config: FinetuneConfig, grades: int = 0) -> tuple[nn.Module, PreprocessConfig, str]:
    """Build the model a config describes (``grades`` > 0: with an ordinal head for that many ordered grades).
    Returns (model, preprocessing, profile name)."""
    profile = load_profile(config.profile, vision_weights=config.vision_weights, llm_path=config.llm_path)
    model_config = replace(profile.model, **config.model_switches(), ordinal_grades=grades)
    if grades and config.baseline:
        raise TrainingError("The plain CNN baseline has no ordinal head — train PneumoLLM on graded data.")
    return build_model(model_config, baseline=config.baseline), profile.preprocess, profile.name


def parameter_groups(model: nn.Module, weight_decay: float) -> list[dict[str, Any]]:
    """Weight decay on matrices and kernels only; none on biases and norm weights (ndim < 2)."""
    decay, no_decay = [], []
    for parameter in model.parameters():
        if parameter.requires_grad:
            (decay if parameter.ndim >= 2 else no_decay).append(parameter)
    return [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]


def lr_factor(step: int, warmup_steps: int, total_steps: int) -> float:
    """Linear warm-up, then cosine decay to zero."""
    if step < warmup_steps:
        return (step + 1) / warmup_steps
    progress = (step - warmup_steps) / max(1, total_steps - warmup_steps)
    return 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress)))


class Trainer:
    def __init__(self, config: FinetuneConfig, model: nn.Module, preprocess: PreprocessConfig, *,
                 run_dir: Path | None = None, callback: Callback | None = None,
                 cancelled: Callable[[], bool] = lambda: False, fold: int | None = None, folds: int = 0,
                 positive_index: int = 1) -> None:
        self.config = config
        self.positive_index = positive_index
        self.model = model
        self.preprocess = preprocess
        self.run_dir = run_dir
        self.callback = callback or (lambda event: None)
        self.cancelled = cancelled
        self.fold, self.folds = fold, folds
        self.accelerator = accelerator()
        self.runtime = Runtime.select(config.device) if self.accelerator is None else \
            Runtime.for_device(self.accelerator.device)
        self.runtime.place(model)
        self.optimizer = torch.optim.AdamW(parameter_groups(model, config.weight_decay), lr=config.lr,
                                           betas=(config.beta1, config.beta2))
        # the module the training step runs: DDP-wrapped under accelerate (gradients averaged across ranks);
        # self.model stays the plain module for validation, state dicts and saving
        self.train_model: nn.Module = model
        if self.accelerator is not None:
            self.train_model, self.optimizer = self.accelerator.prepare(model, self.optimizer)
        # fp16 needs loss scaling; bf16 and fp32 do not (under accelerate, it scales).
        self.scaler = torch.amp.GradScaler("cuda", enabled=self.runtime.amp_dtype == torch.float16
                                           and self.accelerator is None)

    # -- public -----------------------------------------------------------------------------------------
    def fit(self, train_crops: np.ndarray, train_y: np.ndarray, val_crops: np.ndarray, val_y: np.ndarray,
            *, resume: bool = False, augmenter: RegionAugmenter | None = None,
            train_grades: np.ndarray | None = None, val_grades: np.ndarray | None = None) -> TrainResult:
        """Train on (crops, class indices); select, calibrate and threshold on the validation part.

        With an ``augmenter`` (the same images' cached regions, ``training.augment``) each step trains on freshly
        varied crops; without one, on ``train_crops`` as they are.
        """
        config = self.config
        if config.threads:
            torch.set_num_threads(config.threads)
        positive = self.positive_index
        steps_per_epoch = math.ceil(len(train_crops) / config.batch_size)
        total_steps = steps_per_epoch * config.epochs
        warmup_steps = max(1, steps_per_epoch * config.warmup_epochs)
        state = self._load_progress() if resume else None
        start_epoch, history = (state["epoch"], state["history"]) if state else (0, [])
        best = state["best"] if state else {"epoch": -1, "auc": -1.0, "loss": float("inf")}
        best_weights = self._read_weights("best") if state else None
        started = time.perf_counter()
        train_tensor = torch.from_numpy(np.ascontiguousarray(train_crops))
        labels = torch.from_numpy(np.asarray(train_y, dtype=np.int64))
        grades = None if train_grades is None else torch.from_numpy(np.asarray(train_grades, dtype=np.int64))
        for epoch in range(start_epoch, config.epochs):
            self.model.train()
            order = np.random.default_rng(config.seed * 10_007 + epoch).permutation(len(train_crops))
            losses = []
            for step_in_epoch, offset in enumerate(range(0, len(order), config.batch_size)):
                if self.cancelled():
                    raise Cancelled("Training was cancelled.")
                index = torch.from_numpy(shard(order[offset : offset + config.batch_size]))
                inputs = augmenter.batch(index.numpy(), epoch, step_in_epoch) if augmenter else train_tensor[index]
                step = epoch * steps_per_epoch + step_in_epoch
                for group in self.optimizer.param_groups:
                    group["lr"] = config.lr * lr_factor(step, warmup_steps, total_steps)
                losses.append(self._step(inputs, labels[index], None if grades is None else grades[index]))
                done = step + 1 - start_epoch * steps_per_epoch
                elapsed = time.perf_counter() - started
                eta = elapsed / done * (total_steps - step - 1) if done else None
                self.callback(TrainingEvent("training", epoch + 1, config.epochs, step_in_epoch + 1, steps_per_epoch,
                                            losses[-1], {}, eta, self.fold, self.folds))
            logits, _ = predict_logits(self.model, val_crops, self.preprocess, self.runtime)
            val_loss = float(F.cross_entropy(torch.from_numpy(logits), torch.from_numpy(np.asarray(val_y))).item())
            probability = softmax(logits)[:, positive]
            metrics = binary_metrics(np.asarray(val_y) == positive, probability, 0.5)
            record = {"epoch": epoch + 1, "train_loss": float(np.mean(losses)), "val_loss": val_loss,
                      "val_auc": metrics["auc"], "val_accuracy_at_0.5": metrics["accuracy"],
                      "lr": self.optimizer.param_groups[0]["lr"]}
            history.append(record)
            improved = metrics["auc"] > best["auc"] or (metrics["auc"] == best["auc"] and val_loss < best["loss"])
            if improved:
                best = {"epoch": epoch + 1, "auc": metrics["auc"], "loss": val_loss}
                best_weights = {k: v.detach().cpu().clone() for k, v in self.model.trained_state_dict().items()}
                self._write_weights("best", best_weights)
            self._save_progress(epoch + 1, history, best)
            self.callback(TrainingEvent("validated", epoch + 1, config.epochs, steps_per_epoch, steps_per_epoch,
                                        record["train_loss"], {"val_auc": metrics["auc"], "val_loss": val_loss},
                                        None, self.fold, self.folds))
            if config.patience and epoch + 1 - best["epoch"] >= config.patience:
                log.info("early stop at epoch %d (best %d)", epoch + 1, best["epoch"])
                break
        if best_weights is None:
            raise TrainingError("Training finished without a single validated epoch.")
        self.model.load_state_dict({k: v.to(self.runtime.device) for k, v in best_weights.items()}, strict=False)
        logits, _ = predict_logits(self.model, val_crops, self.preprocess, self.runtime)
        val_positive = np.asarray(val_y) == positive
        temperature = fit_temperature(logits, np.asarray(val_y))
        calibrated = softmax(logits, temperature)[:, positive]
        threshold = operating_threshold(config.operating_point, val_positive, calibrated)
        val_metrics = binary_metrics(val_positive, calibrated, threshold)
        val_grade_metrics = None
        if val_grades is not None and getattr(self.model, "grade_head", None) is not None:
            _, _, grade_logits = predict_outputs(self.model, val_crops, self.preprocess, self.runtime)
            names = tuple(str(g) for g in range(grade_logits.shape[1] + 1))
            val_grade_metrics = grade_metrics(np.asarray(val_grades), grade_logits, names)
        return TrainResult(self.model, int(best["epoch"]), threshold, temperature, val_metrics, history,
                           time.perf_counter() - started, val_positive, calibrated, val_grade_metrics)

    # -- internals --------------------------------------------------------------------------------------
    def _step(self, inputs: torch.Tensor, labels: torch.Tensor, grades: torch.Tensor | None = None) -> float:
        device = self.runtime.device
        x = crops_to_tensor(inputs.to(device), self.preprocess)
        acc = self.accelerator
        with contextlib.ExitStack() as stack:
            if acc is not None:  # gradient accumulation: the optimizer steps every k-th call
                stack.enter_context(acc.accumulate(self.train_model))
            with acc.autocast() if acc is not None else self.runtime.autocast():
                output = self.train_model(x)
            loss = F.cross_entropy(output.logits.float(), labels.to(device))
            if grades is not None and output.grade_logits is not None:
                loss = loss + ordinal_loss(output.grade_logits.float(), grades.to(device))
            if acc is not None:
                acc.backward(loss)
                self.optimizer.step()
                self.optimizer.zero_grad(set_to_none=True)
            else:
                self.optimizer.zero_grad(set_to_none=True)
                self.scaler.scale(loss).backward()
                self.scaler.step(self.optimizer)
                self.scaler.update()
        return float(loss.detach())

    def _file(self, name: str) -> Path | None:
        return None if self.run_dir is None else self.run_dir / name

    def _writes(self) -> bool:
        """Only one process writes run files; the other ranks read what it wrote."""
        return self.run_dir is not None and is_main_process()

    def _write_weights(self, name: str, weights: dict[str, torch.Tensor]) -> None:
        from safetensors.torch import save

        path = self._file(f"{name}.safetensors")
        if path is not None and self._writes():
            write_atomic(path, save({k: v.contiguous() for k, v in weights.items()}))

    def _read_weights(self, name: str) -> dict[str, torch.Tensor] | None:
        from safetensors.torch import load_file

        path = self._file(f"{name}.safetensors")
        return load_file(str(path)) if path is not None and path.exists() else None

    def _save_progress(self, epoch: int, history: list[dict[str, Any]], best: dict[str, Any]) -> None:
        """After every epoch: last weights + optimizer (safetensors), then the JSON that marks them complete."""
        if not self._writes():
            return
        assert self.run_dir is not None
        from safetensors.torch import save

        tensors = {f"model.{k}": v.detach().cpu().contiguous() for k, v in self.model.trained_state_dict().items()}
        optimizer_state = self.optimizer.state_dict()
        scalars: dict[str, dict[str, float]] = {}
        for index, values in optimizer_state["state"].items():
            for key, value in values.items():
                if torch.is_tensor(value) and value.ndim > 0:
                    tensors[f"optim.{index}.{key}"] = value.detach().cpu().contiguous()
                else:
                    scalars.setdefault(str(index), {})[key] = float(value)
        tensors["scaler.scale"] = torch.tensor([self.scaler.get_scale() if self.scaler.is_enabled() else 1.0])
        write_atomic(self.run_dir / f"last-epoch-{epoch}.safetensors", save(tensors))
        progress = {"epoch": epoch, "history": history, "best": best, "optimizer_scalars": scalars,
                    "weights": f"last-epoch-{epoch}.safetensors", "config": self.config.to_json()}
        write_atomic(self.run_dir / "progress.json", json.dumps(progress, indent=2).encode())
        for old in self.run_dir.glob("last-epoch-*.safetensors"):
            if old.name != progress["weights"]:
                old.unlink(missing_ok=True)

    def _load_progress(self) -> dict[str, Any] | None:
        from safetensors.torch import load_file

        if self.run_dir is None or not (self.run_dir / "progress.json").exists():
            return None
        progress = json.loads((self.run_dir / "progress.json").read_text())
        tensors = load_file(str(self.run_dir / progress["weights"]))
        model_state = {k.removeprefix("model."): v for k, v in tensors.items() if k.startswith("model.")}
        self.model.load_state_dict({k: v.to(self.runtime.device) for k, v in model_state.items()}, strict=False)
        optimizer_state = self.optimizer.state_dict()
        state: dict[int, dict[str, Any]] = {}
        for name, value in tensors.items():
            if name.startswith("optim."):
                _, index, key = name.split(".", 2)
                state.setdefault(int(index), {})[key] = value.to(self.runtime.device)
        for index, values in progress["optimizer_scalars"].items():
            for key, value in values.items():
                state.setdefault(int(index), {})[key] = torch.tensor(value)
        optimizer_state["state"] = state
        self.optimizer.load_state_dict(optimizer_state)
        log.info("resuming after epoch %d", progress["epoch"])
        return progress


def shard(indices: np.ndarray) -> np.ndarray:
    """This rank's slice of a batch (all of it in a single process). Every rank gets at least one sample, so
    no rank waits in the gradient all-reduce for another that had nothing to do."""
    rank, world = rank_and_world()
    if world == 1:
        return indices
    if len(indices) < world:
        indices = np.resize(indices, world)
    return indices[rank::world]


def ordinal_loss(cumulative_logits: torch.Tensor, grades: torch.Tensor) -> torch.Tensor:
    """CORAL: binary cross-entropy of each task "grade > k" (B, K-1) against the true grades (B,)."""
    thresholds = torch.arange(cumulative_logits.shape[1], device=grades.device)
    targets = (grades[:, None] > thresholds[None, :]).float()
    return F.binary_cross_entropy_with_logits(cumulative_logits, targets)


@torch.inference_mode()
def predict_outputs(model: nn.Module, crops: np.ndarray, preprocess: PreprocessConfig, runtime: Runtime,
                    batch_size: int = 32) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """(logits (N, classes), embeddings (N, W), cumulative grade logits (N, K-1) or None) for cached crops."""
    was_training = model.training
    model.eval()
    logits, embeddings, grades = [], [], []
    for offset in range(0, len(crops), batch_size):
        batch = torch.from_numpy(np.ascontiguousarray(crops[offset : offset + batch_size])).to(runtime.device)
        with runtime.autocast():
            output = model(crops_to_tensor(batch, preprocess))
        logits.append(output.logits.float().cpu().numpy())
        embeddings.append(output.embedding.float().cpu().numpy())
        grade_logits = getattr(output, "grade_logits", None)
        if grade_logits is not None:
            grades.append(grade_logits.float().cpu().numpy())
    model.train(was_training)
    width = getattr(model, "width", 0)
    return (np.concatenate(logits) if logits else np.zeros((0, 2), np.float32),
            np.concatenate(embeddings) if embeddings else np.zeros((0, width), np.float32),
            np.concatenate(grades) if grades else None)


def predict_logits(model: nn.Module, crops: np.ndarray, preprocess: PreprocessConfig, runtime: Runtime,
                   batch_size: int = 32) -> tuple[np.ndarray, np.ndarray]:
    """(logits (N, classes), embeddings (N, W)) for cached crops, in eval mode."""
    logits, embeddings, _ = predict_outputs(model, crops, preprocess, runtime, batch_size)
    return logits, embeddings


@torch.inference_mode()
def domain_features(model: nn.Module, wholes: np.ndarray, preprocess: PreprocessConfig, runtime: Runtime,
                    batch_size: int = 32) -> np.ndarray:
    """(N, F) out-of-domain features (``model.domain_features``) of whole radiographs (N, S, S) uint8."""
    was_training = model.training
    model.eval()
    parts = []
    for offset in range(0, len(wholes), batch_size):
        batch = torch.from_numpy(np.ascontiguousarray(wholes[offset : offset + batch_size])).to(runtime.device)
        with runtime.autocast():
            parts.append(model.domain_features(crops_to_tensor(batch, preprocess)).float().cpu().numpy())
    model.train(was_training)
    return np.concatenate(parts) if parts else np.zeros((0, 0), np.float32)
