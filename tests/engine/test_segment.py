"""Lung crop: post-processing and quality checks on synthetic maps, then the shipped network on real films."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from engine.flags import codes
from engine.io import load_image
from engine.lung_crop import mask_outline
from engine.segment import SEG_SIZE, LungSegmenter, clean_mask, crop_from_probability, lung_box
from tests.dicom_factory import chest_like, make_dicom


def ellipses(centres: list[tuple[float, float]], radii: tuple[float, float] = (0.14, 0.3), size: int = SEG_SIZE,
             angle: float = 0.0) -> np.ndarray:
    yy, xx = np.mgrid[0:size, 0:size] / size
    out = np.zeros((size, size), np.float32)
    for cx, cy in centres:
        dx, dy = xx - cx, yy - cy
        c, s = np.cos(np.radians(angle)), np.sin(np.radians(angle))
        u, v = c * dx + s * dy, -s * dx + c * dy
        out[(u / radii[0]) ** 2 + (v / radii[1]) ** 2 < 1] = 0.95
    return out


LUNGS = [(0.3, 0.5), (0.7, 0.5)]


def film(size: int = 400) -> np.ndarray:
    """A frontal chest in display sense: dark lungs where the ellipses are, brighter around them."""
    lungs = np.asarray(Image.fromarray((ellipses(LUNGS) * 255).astype(np.uint8)).resize((size, size))) > 127
    image = np.full((size, size), 170, np.uint8)
    image[lungs] = 60
    return image


def test_two_lungs_give_a_tight_box() -> None:
    result = crop_from_probability(film(), ellipses(LUNGS))
    assert result.ok and not result.fallback and result.lung_count == 2
    x0, y0, x1, y1 = result.box
    assert 0.1 * 400 < x0 < 0.18 * 400 and 0.82 * 400 < x1 < 0.9 * 400
    assert 0.16 * 400 < y0 < 0.22 * 400 and 0.78 * 400 < y1 < 0.85 * 400
    assert result.crop.shape == (224, 224) and result.mask.shape == (400, 400)
    assert 0.15 < result.lung_fraction < 0.35


def test_clean_mask_keeps_the_two_largest_and_drops_specks() -> None:
    probability = ellipses(LUNGS, radii=(0.12, 0.3))
    probability = np.maximum(probability, ellipses([(0.5, 0.92)], radii=(0.08, 0.05)))  # a third, smaller blob
    probability[5:7, 5:7] = 0.9  # a speck
    mask, regions = clean_mask(probability)
    assert regions == 3  # the speck is not counted
    assert mask[128, 77] and mask[128, 179] and not mask[235, 128] and not mask[6, 6]


@pytest.mark.parametrize(("probability", "reason"), [
    (np.zeros((SEG_SIZE, SEG_SIZE), np.float32), "no lungs found"),
    (ellipses([(0.5, 0.5)], radii=(0.25, 0.3)), "only one lung"),
    (ellipses([(0.3, 0.5), (0.7, 0.5)], radii=(0.05, 0.08)), "implausible lung area"),
    (ellipses([(0.3, 0.5), (0.7, 0.5)], radii=(0.14, 0.3), angle=0) * np.r_[np.ones(SEG_SIZE // 2),
     np.zeros(SEG_SIZE - SEG_SIZE // 2)][None, :] + ellipses([(0.7, 0.5)], radii=(0.04, 0.08)), "much smaller"),
])
def test_failed_segmentations_fall_back_with_a_reason(probability: np.ndarray, reason: str) -> None:
    result = crop_from_probability(film(), probability)
    assert result.fallback and not result.ok
    assert any(reason in flag.message for flag in result.flags), result.flags
    assert "fallback_crop" in codes(result.flags)
    assert result.box == (40, 40, 360, 360)


def test_tilted_lungs_are_flagged_as_rotated() -> None:
    tilted = ellipses([(0.32, 0.38), (0.68, 0.62)], radii=(0.12, 0.22))
    result = crop_from_probability(film(), tilted)
    assert any(flag.code == "rotated" for flag in result.flags), result.flags


def test_bright_lungs_are_flagged_as_inverted() -> None:
    result = crop_from_probability(255 - film(), ellipses(LUNGS))
    assert any(flag.code == "looks_inverted" for flag in result.flags)
    assert not result.fallback  # the box is still right; the polarity is what is wrong


def test_blank_image_is_flagged_without_running_the_network() -> None:
    segmenter = LungSegmenter.__new__(LungSegmenter)  # no network: it must not be needed
    result = LungSegmenter.lung_crop(segmenter, np.full((300, 300), 77, np.uint8))
    assert result.fallback and codes(result.flags)[0] == "blank_image"


def test_outline_is_the_boundary() -> None:
    mask = np.zeros((50, 50), bool)
    mask[10:40, 10:40] = True
    outline = mask_outline(mask, width=1)
    assert outline[10, 20] and not outline[25, 25] and not outline[5, 5]
    assert lung_box(mask, margin=0.0) == (10, 10, 40, 40)


# --- the shipped network on real radiographs ----------------------------------------------------------



def test_real_films_are_segmented_well(shared_data: Path, shipped_segmenter: LungSegmenter) -> None:
    for path in [shared_data / "jsrt" / "images" / "JPCLN001.png", shared_data / "dicom" / "RG1_UNCR.dcm",
                 shared_data / "samples" / "h0001.png"]:
        image = load_image(path).model_uint8
        result = shipped_segmenter.lung_crop(image)
        assert result.ok, (path.name, result.flags)
        assert 0.15 < result.lung_fraction < 0.6
        x0, y0, x1, y1 = result.box
        assert (x1 - x0) > 0.5 * image.shape[1] and (y1 - y0) > 0.4 * image.shape[0]


def test_jsrt_mask_agrees_with_the_manual_mask(shared_data: Path, shipped_segmenter: LungSegmenter) -> None:
    name = "JPCNN010.png"
    image = load_image(shared_data / "jsrt" / "images" / name).model_uint8
    truth = np.zeros(image.shape, bool)
    for side in ("left_lung", "right_lung"):
        truth |= np.asarray(Image.open(shared_data / "jsrt" / "masks" / side / name)) > 127
    mask = shipped_segmenter.lung_crop(image).mask
    dice = 2 * (mask & truth).sum() / (mask.sum() + truth.sum())
    assert dice > 0.9


@pytest.mark.parametrize("damage", ["inverted", "rotated", "tiny", "blank"])
def test_bad_input_is_flagged_not_crashed(shared_data: Path, shipped_segmenter: LungSegmenter, damage: str) -> None:
    image = load_image(shared_data / "jsrt" / "images" / "JPCLN003.png").model_uint8
    if damage == "inverted":
        image = 255 - image
    elif damage == "rotated":
        image = np.asarray(Image.fromarray(image).rotate(90))
    elif damage == "tiny":
        image = np.asarray(Image.fromarray(image).resize((64, 64)))
    else:
        image = np.zeros_like(image)
    result = shipped_segmenter.lung_crop(image)
    assert result.flags, damage
    expected = {"inverted": "inverted", "rotated": "", "tiny": "low resolution", "blank": "blank"}[damage]
    assert any(expected in flag.message for flag in result.flags), result.flags


def test_segment_cli(dicom_dir: Path, tmp_path: Path) -> None:
    command = [sys.executable, "-m", "commands", "segment", str(dicom_dir / "RG1_UNCI.dcm"), "--mask",
               str(tmp_path / "m.png"), "--crop", str(tmp_path / "c.png"), "--json"]
    result = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    payload = json.loads(result.stdout)
    box = payload["lung_box"]
    assert box["width"] > 900 and box["height"] > 900 and payload["quality_ok"]
    assert set(payload["timings_ms"]) >= {"decode", "segmentation_forward", "segmentation_total"}
    mask = Image.open(tmp_path / "m.png")
    assert mask.size == (1841, 1955) and set(np.unique(np.asarray(mask))) == {0, 255}
    assert Image.open(tmp_path / "c.png").size == (224, 224)
    lateral = make_dicom(tmp_path / "lat.dcm", chest_like(256, 256), ViewPosition="LL")
    payload = json.loads(subprocess.run([*command[:4], str(lateral), "--json"], capture_output=True, text=True,
                                        timeout=300).stdout)
    assert not payload["quality_ok"] and any("lateral" in f for f in payload["quality_flags"])


def test_model_crop_brings_a_large_film_to_the_training_resolution() -> None:
    """A detailed 1024 px film, and the 256 px copy a training set would hold: with ``effective_side`` the large
    film's crop matches the small one's; without it, the crop keeps detail the head never saw."""
    from engine.segment import model_crop, resize_area

    rng = np.random.default_rng(0)
    large = np.clip(rng.normal(128, 40, (1024, 1024)), 0, 255).astype(np.uint8)  # fine texture everywhere
    small = resize_area(large, 256, 256)
    box = (40, 30, 220, 230)  # 200 px long side in the small film
    big_box = tuple(4 * v for v in box)
    reference = model_crop(small, box, 224).astype(float)
    normalised = model_crop(large, big_box, 224, effective_side=200).astype(float)
    sharp = model_crop(large, big_box, 224).astype(float)
    assert np.abs(normalised - reference).mean() < 0.5 * np.abs(sharp - reference).mean()
    # a box already smaller than effective_side is not touched
    assert np.array_equal(model_crop(small, box, 224, effective_side=400), model_crop(small, box, 224))
