"""How long will a fine-tuning run take on this machine? Measured, not guessed.

``measure`` builds the model a config describes and times a few real optimiser steps (``Trainer._step``, with
the same augmentation) plus one evaluation forward pass; ``extrapolate`` scales that to the whole run:
steps per epoch × epochs for every cross-validation fold and the final model, plus the validation passes
after each epoch, the held-out predictions of each fold and the forward passes of the final model's reference map.
``measure_crops`` and ``measure_map`` time the rest, also on this machine: segmenting the images not cached yet
(done once, then cached) and the reference map's t-SNE; ``extrapolate_parts`` adds them up.
"""

from __future__ import annotations

import math
import statistics
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import save

from engine.model.config import PreprocessConfig
from engine.segment import LungSegmenter
from training.augment import RegionAugmenter
from training.cache import CachedRegion, RegionCache
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
    embedding_width: int = 0  # the width of the model's embedding (the reference map's t-SNE input); 0: unknown


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
    _, embeddings = predict_logits(model, crops[index], preprocess, trainer.runtime, batch_size=config.batch_size)
    eval_s = (time.perf_counter() - start) / config.batch_size
    start = time.perf_counter()
    state = {k: v.detach().cpu().contiguous() for k, v in model.trained_state_dict().items()}
    save(state)  # weights; the optimiser's two moments are about twice that again
    save_s = 3 * (time.perf_counter() - start)
    return StepTiming(statistics.median(timings), eval_s, config.batch_size, trainer.runtime.label, setup_s, save_s,
                      int(embeddings.shape[1]) if embeddings.ndim == 2 else 0)


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


# -- the parts outside the training steps: lung crops not cached yet, and the reference map's t-SNE -----------
MAP_SAMPLE = 300  # points the t-SNE is timed on: a few seconds, and large enough for its n log n to show


@dataclass(frozen=True)
class CropTiming:
    """The lung crops training still has to make: ``uncached`` images, ``s_per_image`` each (measured)."""

    uncached: int  # images of the data set without a cached region when measuring began
    s_per_image: float  # segmenting one of them with the cache's own path (0 when none was uncached)
    timed: int = 0  # of ``uncached``, already made while measuring (cached now: training reads them)
    error: str = ""  # why it could not be measured ("" when it was)

    @property
    def seconds(self) -> float:
        return max(0, self.uncached - self.timed) * self.s_per_image


@dataclass(frozen=True)
class MapTiming:
    """The reference map's t-SNE: measured on ``sample`` points (and on ``small`` of them), scaled to ``points``."""

    points: int  # what the final model maps: min(images, REFERENCE_MAP_CASES)
    sample: int
    sample_s: float
    error: str = ""
    small: int = 0  # a second, smaller sample (0: none), so a fixed cost is not scaled with the points
    small_s: float = 0.0

    @property
    def seconds(self) -> float:
        """``a + b·n log n`` through the two samples' times (openTSNE's Barnes–Hut gradient on a fixed number of
        iterations grows as n log n; a busy machine adds a fixed cost per iteration, which must not be scaled),
        with b ≥ 0; from one sample, or where a would be negative: scaled by n log n / m log m."""
        if self.error or self.sample < 2 or self.points < 2:
            return 0.0
        if self.points <= self.sample:
            return self.sample_s
        grow = _n_log_n(self.sample)
        if 2 <= self.small < self.sample:
            slope = max(0.0, (self.sample_s - self.small_s) / (grow - _n_log_n(self.small)))
            fixed = self.sample_s - slope * grow
            if fixed >= 0:
                return fixed + slope * _n_log_n(self.points)
        return self.sample_s * _n_log_n(self.points) / grow


def _n_log_n(n: int) -> float:
    return n * math.log(n)


@dataclass(frozen=True)
class EstimateParts:
    steps_s: float  # ``extrapolate``: the training steps, evaluations and the final model's forward passes
    crops_s: float
    map_s: float

    @property
    def total_s(self) -> float:
        return self.steps_s + self.crops_s + self.map_s


def measure_crops(paths: list[Path], segmenter: LungSegmenter, presentation: PreprocessConfig | None, *,
                  root: Path | None = None, timed: int = 2) -> CropTiming:
    """Count the images without a cached region and time the cache's own ``prepare`` on up to ``timed`` of them,
    one at a time (the entries it writes are the ones training would write); with two, the second is used: the
    first may pay for the segmenter's lazy start."""
    cache = RegionCache(segmenter, root, presentation)
    todo = cache.uncached(paths)
    times = []
    for path in todo[:timed]:
        start = time.perf_counter()
        _, failed = cache.prepare([path])
        if path not in failed:
            times.append(time.perf_counter() - start)
    if todo and not times:
        return CropTiming(len(todo), 0.0, 0, "the images tried could not be segmented")
    return CropTiming(len(todo), times[-1] if times else 0.0, len(times))


def measure_map(width: int, n_images: int, *, sample: int = MAP_SAMPLE, seed: int = 0) -> MapTiming:
    """Time ``ReferenceMap.fit`` (openTSNE, as the final model runs it) on random ``width``-wide embeddings: on
    ``sample`` points and, when the map is larger than that, on half of them too (see ``MapTiming.seconds``)."""
    from engine.reference_map import ReferenceMap
    from training.cross_validation import REFERENCE_MAP_CASES

    points = min(n_images, REFERENCE_MAP_CASES)
    sample = min(points, sample)
    if width < 1 or sample < 2:
        return MapTiming(points, sample, 0.0, "no embedding width measured" if width < 1 else "")
    generator = np.random.default_rng(seed)

    def fit_seconds(count: int) -> float:
        embeddings = generator.standard_normal((count, width)).astype(np.float32)
        start = time.perf_counter()
        ReferenceMap.fit(embeddings, np.arange(count) % 2, ("a", "b"), seed=seed)
        return time.perf_counter() - start

    small = sample // 2 if points > sample and sample >= 4 else 0
    small_s = fit_seconds(small) if small else 0.0  # first: it also pays for importing openTSNE
    return MapTiming(points, sample, fit_seconds(sample), "", small, small_s)


def extrapolate_parts(timing: StepTiming, config: FinetuneConfig, n_images: int, folds: int,
                      crops: CropTiming | None = None, map_timing: MapTiming | None = None) -> EstimateParts:
    """``extrapolate`` plus the lung crops still to make and the reference map: its t-SNE and the whole-radiograph
    forward passes of its cases (``domain_features``, counted at the measured forward pass per image)."""
    crops_s = crops.seconds if crops is not None and not crops.error else 0.0
    map_s = 0.0
    if map_timing is not None and not map_timing.error:
        map_s = map_timing.seconds + map_timing.points * timing.eval_s_per_image
    return EstimateParts(extrapolate(timing, config, n_images, folds), crops_s, map_s)
