"""Zone evidence: a change confined to one zone moves that zone's evidence most; Grad-CAM mass sums to one."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image
from scipy import ndimage

from engine.ilo.codes import ZONES
from engine.ilo.zone_evidence import gradcam_mass, zone_evidence
from engine.ilo.zones import lung_zones
from engine.lung_crop import LungCrop

SIZE = 224


def _two_lungs() -> np.ndarray:
    mask = np.zeros((300, 280), bool)
    yy, xx = np.mgrid[:300, :280]
    mask |= ((xx - 80) / 55) ** 2 + ((yy - 150) / 120) ** 2 <= 1
    mask |= ((xx - 200) / 55) ** 2 + ((yy - 150) / 120) ** 2 <= 1
    return mask


def _texture_score(crops: np.ndarray) -> np.ndarray:
    """A stand-in scorer that sees texture anywhere in the crop (fine detail, as small opacities are)."""
    energy = np.array([np.abs(ndimage.laplace(crop.astype(np.float64))).mean() for crop in crops])
    return 1 - np.exp(-energy / 20)


@pytest.mark.parametrize("target", ZONES)
def test_change_in_one_zone_moves_that_zone_most(target: str) -> None:
    mask = _two_lungs()
    zones = lung_zones(mask)
    rng = np.random.default_rng(0)
    image = np.full(mask.shape, 120, np.uint8)
    image[zones[target].mask] = rng.integers(60, 200, int(zones[target].area_px)).astype(np.uint8)
    box = (0, 0, mask.shape[1], mask.shape[0])
    crop = np.asarray(Image.fromarray(image).resize((SIZE, SIZE)))
    lung_crop = LungCrop(mask, box, crop, float(mask.mean()), 2, (), False)
    report = zone_evidence(zones, lung_crop, _texture_score)
    evidence = {z.name: z.occlusion_evidence for z in report.zones}
    assert max(evidence, key=evidence.get) == target
    assert evidence[target] > 0.05 and all(abs(v) < evidence[target] / 5 for k, v in evidence.items() if k != target)
    assert report.strongest(min_evidence=0.05)[0].name == target
    assert "not a reading" in report.note


def test_gradcam_mass_is_each_zones_share() -> None:
    zones = lung_zones(_two_lungs())
    cam = np.zeros(zones.zones[0].mask.shape, np.float32)
    cam[zones["left_middle"].mask] = 1.0
    cam[zones["right_upper"].mask] = 0.5
    masses = dict(zip(ZONES, gradcam_mass(cam, zones), strict=True))
    assert masses["left_middle"] > masses["right_upper"] > 0 and masses["left_lower"] == 0
    assert sum(masses.values()) == pytest.approx(1.0)
    assert gradcam_mass(np.zeros_like(cam), zones).sum() == 0
