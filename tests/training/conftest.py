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


def write_graded_set(shared_data: Path, root: Path, per_grade: int = 10, seed: int = 0) -> Path:
    """A machinery-test set of ordered grades 0-3 (not a clinical result): real JSRT radiographs with small round
    opacities painted inside the manual lung masks, more of them at each grade — profusion, as ILO grades it."""
    rng = np.random.default_rng(seed)
    names = sorted((shared_data / "jsrt" / "images").glob("*.png"))[: 4 * per_grade]
    dots_per_grade = (0, 20, 50, 110)
    for number, path in enumerate(names):
        grade = number % 4
        image = np.asarray(Image.open(path).convert("L"), np.float32)
        lungs = np.zeros(image.shape, bool)
        for side in ("left_lung", "right_lung"):
            lungs |= np.asarray(Image.open(shared_data / "jsrt" / "masks" / side / path.name).convert("L")) > 127
        ys, xs = np.nonzero(lungs)
        yy, xx = np.mgrid[: image.shape[0], : image.shape[1]]
        for pick in rng.integers(0, len(ys), dots_per_grade[grade]):
            image[(yy - ys[pick]) ** 2 + (xx - xs[pick]) ** 2 <= 9] += 45
        (root / str(grade)).mkdir(parents=True, exist_ok=True)
        Image.fromarray(np.clip(image, 0, 255).astype(np.uint8)).save(root / str(grade) / path.name)
    return root
