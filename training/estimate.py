"""How long will a fine-tuning run take on this machine? Measured, not guessed.

``measure`` builds the model a config describes and times a few real optimiser steps (``Trainer._step``, with
the same augmentation) plus one evaluation forward pass; ``extrapolate`` scales that to the whole run:
steps per epoch × epochs for every cross-validation fold and the final model, plus the validation passes
after each epoch, the held-out predictions of each fold and the reference map of the final model. Lung
segmentation of the data (done once, then cached) is not included.
"""

from __future__ import annotations

import math
import statistics
import time
from dataclasses import dataclass

import numpy as np
import torch
from safetensors.torch import save

from training.augment import RegionAugmenter
from training.cache import CachedRegion
from training.config import FinetuneConfig
from training.finetune import Trainer, make_model, predict_logits


@dataclass(frozen=True)
class StepTiming:
    """What one measurement found."""

    step_s: float  # one optimiser step on a batch of ``batch_size`` crops
    eval_s_per_image: float  # forward only (validation, test predictions)
    batch_size: int
    device: str
    setup_s: float = 0.0  # building the model and its optimiser, once per fold and for the final model
    save_s: float = 0.0  # writing the epoch's resumable state (weights + optimiser), once per epoch


def measure(config: FinetuneConfig, *, batches: int = 2, crops: np.ndarray | None = None) -> StepTiming:
    """Time ``batches`` optimiser steps (with the run's augmentations) after one untimed warm-up step.

    Args:
        config: the run's settings (profile, ablations, batch size, device).
        batches: how many timed steps; the median is used.
        crops: (N, S, S) uint8 lung crops to train on; random ones of the profile's input size when None
            (the content does not change the time a step takes).
    """
    start = time.perf_counter()
    model, preprocess, _ = make_model(config)
    trainer = Trainer(config, model, preprocess)
    setup_s = time.perf_counter() - start
    size = preprocess.input_size
    generator = np.random.default_rng(config.seed)
    if crops is None or len(crops) == 0:
        crops = generator.integers(0, 256, (config.batch_size, size, size), dtype=np.uint8)
    index = np.resize(np.arange(len(crops)), config.batch_size)  # repeat given crops up to one full batch
    batch = torch.from_numpy(np.ascontiguousarray(crops[index]))
    labels = torch.from_numpy(np.arange(config.batch_size) % 2)
    # The augmentations run on lung regions; whole crops stand in for them (same cost per image).
    regions = [CachedRegion(crop, (8, 8, size - 8, size - 8), size, size, (), False, crop) for crop in crops[index]]
    augmenter = RegionAugmenter(regions, size, None, seed=config.seed) if config.augment else None
    model.train()
    timings = []
    for step in range(max(1, batches) + 1):
        start = time.perf_counter()
        inputs = augmenter.batch(np.arange(len(regions)), 0, step) if augmenter else batch
        trainer._step(inputs, labels)
        if trainer.runtime.device.type == "cuda":
            torch.cuda.synchronize()
        if step:  # the first step pays for lazy initialisation
            timings.append(time.perf_counter() - start)
    start = time.perf_counter()
    predict_logits(model, crops[index], preprocess, trainer.runtime, batch_size=config.batch_size)
    eval_s = (time.perf_counter() - start) / config.batch_size
    start = time.perf_counter()
    state = {k: v.detach().cpu().contiguous() for k, v in model.trained_state_dict().items()}
    save(state)  # weights; the optimiser's two moments are about twice that again
    save_s = 3 * (time.perf_counter() - start)
    return StepTiming(statistics.median(timings), eval_s, config.batch_size, trainer.runtime.label, setup_s, save_s)


def extrapolate(timing: StepTiming, config: FinetuneConfig, n_images: int, folds: int) -> float:
    """Seconds for a whole run of ``n_images`` with ``folds`` cross-validation folds (1 = none)."""
    runs: list[tuple[int, int]] = []  # (images trained on, images held out and predicted once)
    if folds > 1:
        train_all = n_images * (folds - 1) / folds
        runs += [(round(train_all), round(n_images / folds))] * folds
    runs.append((n_images, n_images))  # the final model predicts every image once for its reference map
    seconds = 0.0
    for available, predicted in runs:
        validation = round(available * config.val_fraction)
        steps_per_epoch = math.ceil(max(1, available - validation) / timing.batch_size)
        per_epoch = steps_per_epoch * timing.step_s + validation * timing.eval_s_per_image + timing.save_s
        seconds += timing.setup_s + config.epochs * per_epoch
        seconds += (validation + predicted) * timing.eval_s_per_image  # calibration + held-out predictions
    return seconds


def estimate_seconds(config: FinetuneConfig, n_images: int, folds: int, *, batches: int = 2,
                     crops: np.ndarray | None = None) -> float:
    """Measured estimate of a whole run (cross-validation folds + the final model), in seconds."""
    return extrapolate(measure(config, batches=batches, crops=crops), config, n_images, folds)
