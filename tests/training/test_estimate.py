"""The training-duration estimate (training/estimate.py): measured on this machine, extrapolated run by run."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from engine.paths import file_sha256
from engine.segment import LungSegmenter
from tests.training.conftest import write_synthetic_set
from training.cache import RegionCache
from training.config import FinetuneConfig
from training.estimate import (
    CropTiming,
    MapTiming,
    StepTiming,
    estimate_seconds,
    extrapolate,
    extrapolate_parts,
    measure,
    measure_crops,
    measure_map,
)

TINY_PROFILE = "tiny-test"  # registered by tests/training/conftest.py


def tiny_config(profile: str, epochs: int) -> FinetuneConfig:
    return FinetuneConfig(profile=profile, epochs=epochs, batch_size=8, warmup_epochs=1, val_fraction=0.25, seed=3)


def test_estimate_is_measured() -> None:
    config = tiny_config(TINY_PROFILE, 2)
    assert estimate_seconds(config, 24, 2, batches=1, crops=np.zeros((3, 224, 224), np.uint8)) > 0
    assert measure(config, batches=1).embedding_width > 0  # what the reference map's t-SNE is timed at


def timing(**costs: float) -> StepTiming:
    """A measurement where only the given costs are non-zero."""
    return StepTiming(**{"step_s": 0.0, "eval_s_per_image": 0.0, "setup_s": 0.0, "save_s": 0.0, **costs},
                      batch_size=8, device="CPU")


def test_extrapolation_counts_each_run_epoch_and_image() -> None:
    config = tiny_config(TINY_PROFILE, 2)
    assert extrapolate(timing(), config, 100, 5) == 0  # nothing measured costs anything: nothing to wait for
    # a model is built once per run: once without cross-validation, once per fold plus the final model with
    assert extrapolate(timing(setup_s=5.0), config, 100, 1) == pytest.approx(5.0)
    assert extrapolate(timing(setup_s=5.0), config, 100, 5) == pytest.approx(6 * 5.0)
    # the resumable state is saved once per epoch of every run
    assert extrapolate(timing(save_s=0.5), config, 100, 1) == pytest.approx(config.epochs * 0.5)
    assert extrapolate(timing(save_s=0.5), config, 100, 3) == pytest.approx(4 * config.epochs * 0.5)
    # training steps grow with the epochs, linearly, and with the images, by whole batches
    steps = timing(step_s=1.0)
    two, four, six = (extrapolate(steps, tiny_config(TINY_PROFILE, epochs), 100, 1) for epochs in (2, 4, 6))
    assert 0 < two < four < six and four - two == pytest.approx(six - four)
    assert extrapolate(steps, config, 101, 1) >= extrapolate(steps, config, 100, 1)
    assert extrapolate(steps, config, 1000, 1) > 5 * extrapolate(steps, config, 100, 1)
    # predictions: every image at least once (held out, or for the final model's reference map), plus validation
    per_image = extrapolate(timing(eval_s_per_image=1.0), config, 100, 1)
    assert per_image > 100 and extrapolate(timing(eval_s_per_image=1.0), config, 100, 5) > per_image
    assert extrapolate(timing(step_s=2.0, eval_s_per_image=0.1, setup_s=5.0, save_s=0.5), config, 100, 5) > \
        4 * extrapolate(timing(step_s=2.0, eval_s_per_image=0.1, setup_s=5.0, save_s=0.5), config, 100, 1)


def test_parts_add_the_lung_crops_still_to_make_and_the_reference_map() -> None:
    config, steps = tiny_config(TINY_PROFILE, 2), timing(step_s=1.0, eval_s_per_image=0.01)
    alone = extrapolate(steps, config, 100, 2)
    assert extrapolate_parts(steps, config, 100, 2).total_s == pytest.approx(alone)  # nothing more measured
    # 40 images uncached, 2 of them made while measuring: 38 left at 0.5 s each
    crops = CropTiming(uncached=40, s_per_image=0.5, timed=2)
    parts = extrapolate_parts(steps, config, 100, 2, crops)
    assert parts.steps_s == pytest.approx(alone) and parts.crops_s == pytest.approx(38 * 0.5) and parts.map_s == 0
    # the t-SNE scaled by n log n from its sample, plus one whole-radiograph forward pass per mapped case
    tsne = MapTiming(points=1200, sample=300, sample_s=3.0)
    parts = extrapolate_parts(steps, config, 1200, 2, crops, tsne)
    scaled = 3.0 * (1200 * math.log(1200)) / (300 * math.log(300))
    assert parts.map_s == pytest.approx(scaled + 1200 * 0.01)
    assert parts.total_s == pytest.approx(extrapolate(steps, config, 1200, 2) + 38 * 0.5 + scaled + 1200 * 0.01)
    assert MapTiming(points=300, sample=300, sample_s=3.0).seconds == pytest.approx(3.0)  # measured as it is
    # with a second, smaller sample the time is a + b·n log n through both: a fixed cost is not scaled
    fixed = MapTiming(points=1200, sample=300, sample_s=3.0, small=150, small_s=3.0)
    assert fixed.seconds == pytest.approx(3.0)
    b = 1.0 / (300 * math.log(300) - 150 * math.log(150))
    line = MapTiming(points=1200, sample=300, sample_s=3.0, small=150, small_s=2.0)
    assert line.seconds == pytest.approx(3.0 - b * 300 * math.log(300) + b * 1200 * math.log(1200))
    assert MapTiming(1200, 300, 1.0, "", 150, 3.0).seconds == pytest.approx(1.0)  # faster on more points: b = 0
    steep = MapTiming(points=1200, sample=300, sample_s=3.0, small=150, small_s=0.5)  # a < 0: plain scaling
    assert steep.seconds == pytest.approx(scaled)
    # a part that could not be measured adds nothing (the wizard says so) and leaves the rest
    failed = extrapolate_parts(steps, config, 1200, 2, CropTiming(40, 0.0, 0, "broken"), MapTiming(0, 0, 0.0, "no"))
    assert failed.total_s == pytest.approx(extrapolate(steps, config, 1200, 2))


def test_uncached_images_are_counted_and_one_is_timed(tmp_path: Path, segmenter: LungSegmenter) -> None:
    data = write_synthetic_set(tmp_path / "data", per_class=3)
    paths = sorted(data.rglob("*.png"))
    root = tmp_path / "regions"
    cache = RegionCache(segmenter, root)
    cache.prepare(paths[:2])  # two prepared before
    assert len(cache.uncached(paths)) == 4
    measured = measure_crops(paths, segmenter, None, root=root, timed=1)
    assert measured.uncached == 4 and measured.timed == 1 and measured.s_per_image > 0 and not measured.error
    assert len(cache.uncached(paths)) == 3  # the timed one got its real entry, as training would make it
    assert cache.get(file_sha256(paths[2])) is not None
    assert measure_crops(paths[:2], segmenter, None, root=root) == CropTiming(0, 0.0, 0)  # all cached: nothing to do


def test_reference_map_is_timed_on_a_sample() -> None:
    measured = measure_map(16, 50, sample=40)
    assert (measured.points, measured.sample, measured.small, measured.error) == (50, 40, 20, "")
    assert measured.sample_s > 0 and measured.small_s > 0
    assert measured.seconds >= measured.sample_s  # 50 points cost no less than the 40 timed
    assert measure_map(16, 30, sample=40).small == 0  # the whole map timed: nothing to scale
    assert measure_map(0, 50).error  # no width measured: said, not guessed
