"""The six ILO zones on real lung masks (JSRT/SCR, covid-v7): they tile the mask; heights follow the definition."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from engine.errors import SegmentationError
from engine.ilo.codes import ZONES
from engine.ilo.zones import lung_zones

SAMPLES = 8


def _mask(path: Path) -> np.ndarray:
    return np.asarray(Image.open(path).convert("L")) > 127


def _real_masks(shared_data: Path) -> list[tuple[str, np.ndarray, np.ndarray | None]]:
    """(name, both lungs, the patient's right lung when the source keeps them apart)."""
    masks = []
    for right_path in sorted((shared_data / "jsrt" / "masks" / "right_lung").glob("*.png"))[:SAMPLES]:
        right = _mask(right_path)
        left = _mask(shared_data / "jsrt" / "masks" / "left_lung" / right_path.name)
        masks.append((right_path.name, right | left, right))
    for path in sorted((shared_data / "covid-v7" / "masks").glob("*.png"))[:SAMPLES]:
        masks.append((path.name, _mask(path), None))
    return masks


def test_zones_tile_the_mask_and_follow_the_definition(shared_data: Path) -> None:
    for name, mask, right_lung in _real_masks(shared_data):
        zones = lung_zones(mask)
        assert [z.name for z in zones.zones] == list(ZONES)
        stacked = np.stack([z.mask for z in zones.zones])
        assert (stacked.sum(axis=0) == mask).all(), f"{name}: zones do not tile the mask exactly"
        assert zones.lung_area_px == int(mask.sum()) == sum(z.area_px for z in zones.zones)
        for lung in zones.lungs:
            assert lung.apex < lung.dome <= lung.bottom, name
            first, second = lung.boundaries
            height = lung.dome - lung.apex
            assert abs((first - lung.apex) - height / 3) <= 0.5 and abs((second - lung.apex) - 2 * height / 3) <= 0.5
            upper, middle, lower = (zones[f"{lung.side}_{level}"] for level in ("upper", "middle", "lower"))
            assert upper.area_px and middle.area_px and lower.area_px, name
            assert upper.box[1] == lung.apex and upper.box[3] <= first
            assert middle.box[1] >= first and middle.box[3] <= second
            assert lower.box[1] >= second and lower.box[3] == lung.bottom
            # The dome lies above the costophrenic recess, in the lung's lower half.
            assert lung.apex + (lung.bottom - lung.apex) / 2 < lung.dome < lung.bottom, name
        if right_lung is not None:  # the patient's right lung is on the image's left
            right_zones = zones["right_upper"].mask | zones["right_middle"].mask | zones["right_lower"].mask
            assert (right_zones == right_lung).all(), name


def test_no_lungs_is_a_clear_error() -> None:
    with pytest.raises(SegmentationError, match="No lungs"):
        lung_zones(np.zeros((64, 64), bool))


def test_touching_lungs_are_cut_at_the_mediastinum() -> None:
    mask = np.zeros((100, 120), bool)
    mask[10:90, 10:55] = True
    mask[10:90, 65:110] = True
    mask[40:50, 55:65] = True  # a bridge
    zones = lung_zones(mask)
    assert zones["right_upper"].box[2] <= 65 and zones["left_upper"].box[0] >= 55
