"""The training-duration estimate (training/estimate.py): measured on this machine, extrapolated run by run."""

from __future__ import annotations

import numpy as np
import pytest

from training.config import FinetuneConfig
from training.estimate import StepTiming, estimate_seconds, extrapolate

TINY_PROFILE = "tiny-test"  # registered by tests/training/conftest.py


def tiny_config(profile: str, epochs: int) -> FinetuneConfig:
    return FinetuneConfig(profile=profile, epochs=epochs, batch_size=8, warmup_epochs=1, val_fraction=0.25, seed=3)


def test_estimate_is_measured() -> None:
    config = tiny_config(TINY_PROFILE, 2)
    assert estimate_seconds(config, 24, 2, batches=1, crops=np.zeros((3, 224, 224), np.uint8)) > 0


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
