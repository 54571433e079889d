"""A tiny-model profile and a small synthetic labelled set for fast, real training runs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from engine.model.registry import Profile, register_profile
from tests.dicom_factory import chest_like
from tests.engine.model_fixtures import TINY


@register_profile("tiny-test")
def _tiny_profile() -> Profile:
    return Profile(name="tiny-test", description="tiny random backbones (tests only)", model=TINY)


def write_synthetic_set(root: Path, per_class: int = 12, seed: int = 0) -> Path:
    """Two classes that differ visibly: 'abnormal' has a bright opacity in the right lung."""
    rng = np.random.default_rng(seed)
    for label in ("normal", "abnormal"):
        (root / label).mkdir(parents=True, exist_ok=True)
        for index in range(per_class):
            image = chest_like(160, 150, dtype=np.float32, high=200) + rng.normal(0, 6, (160, 150))
            if label == "abnormal":
                image[60:100, 95:125] += 60
            Image.fromarray(np.clip(image, 0, 255).astype(np.uint8)).save(root / label / f"{label}_{index:02d}.png")
    return root


@pytest.fixture()
def synthetic_set(tmp_path: Path) -> Path:
    return write_synthetic_set(tmp_path / "data")


@pytest.fixture(autouse=True)
def private_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PNEUMOLLM_CACHE", str(tmp_path / "cache"))
