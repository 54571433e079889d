"""Every film presented as the head's training films were (``engine.presentation``): the grid, the JPEG round
trip, boxes and masks back in the file's pixels, and the same answer from a full and a reduced decode."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from engine.diagnoser import Diagnoser
from engine.io import load_for_model, load_image
from engine.model.config import PreprocessConfig
from engine.model.speedups import SpeedOptions
from engine.preprocess import model_min_side, prepare_batch
from engine.presentation import crop_in_file_pixels, on_training_grid, present
from engine.segment import LungSegmenter
from tests.dicom_factory import chest_like
from tests.head_factory import make_tiny_head

GRID = PreprocessConfig(effective_side=201, source_long_side=224, film_grid=224, film_jpeg_quality=75)


def film(path: Path, rows: int, columns: int, seed: int = 0) -> Path:
    """A grey JPEG chest-like film with detector-like noise."""
    rng = np.random.default_rng(seed)
    pixels = chest_like(rows, columns, dtype=np.float32, high=255.0) + rng.normal(0, 6, (rows, columns))
    Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8)).save(path, quality=95)
    return path


def test_films_on_the_grid_and_heads_without_one_are_taken_as_they_are(tmp_path: Path) -> None:
    on_grid = load_image(film(tmp_path / "copy.jpeg", 224, 224))
    large = load_image(film(tmp_path / "large.jpeg", 900, 1100))
    for image, config in ((on_grid, GRID), (large, PreprocessConfig())):
        presented = present(image, config)
        assert presented.scale is None and np.array_equal(presented.pixels, image.model_uint8)
    tiny = load_image(film(tmp_path / "tiny.jpeg", 100, 120))
    assert not on_training_grid(tiny, GRID)  # too small to segment reliably: keeps its size and its flag


def test_a_large_film_is_squashed_onto_the_grid_and_jpeg_coded(tmp_path: Path) -> None:
    image = load_image(film(tmp_path / "large.jpeg", 900, 1100))
    presented = present(image, GRID)
    assert presented.pixels.shape == (224, 224) and presented.pixels.dtype == np.uint8
    assert presented.scale == pytest.approx((1100 / 224, 900 / 224))
    assert presented.pixels.min() == 0 and presented.pixels.max() == 255  # its own automatic contrast
    plain = present(image, PreprocessConfig(film_grid=224))
    assert not np.array_equal(plain.pixels, presented.pixels)  # the JPEG round trip changed something
    # ... but not the picture (its contrast stretch may differ: ringing moves the extremes, as in the copies)
    assert np.corrcoef(plain.pixels.ravel(), presented.pixels.ravel())[0, 1] > 0.98


def test_boxes_and_masks_come_back_in_the_files_pixels(tmp_path: Path, segmenter: LungSegmenter) -> None:
    image = load_image(film(tmp_path / "large.jpeg", 900, 1100))
    presented = present(image, GRID)
    crop = segmenter.lung_crop(presented.pixels, effective_side=201)
    assert presented.scale is not None
    mapped = crop_in_file_pixels(crop, presented.scale, 900, 1100)
    assert mapped.mask.shape == (900, 1100)
    x0, y0, x1, y1 = crop.box
    assert mapped.box == pytest.approx((x0 * 1100 / 224, y0 * 900 / 224, x1 * 1100 / 224, y1 * 900 / 224), abs=1)
    assert abs(mapped.mask.mean() - crop.mask.mean()) < 0.01
    case = prepare_batch([image], segmenter, GRID)[0]
    assert case.lung_crop.mask.shape == (900, 1100) and case.tensor.shape == (3, 224, 224)


def test_a_reduced_decode_is_presented_as_the_full_one(tmp_path: Path) -> None:
    path = film(tmp_path / "large.jpeg", 1400, 1700)
    full, reduced = load_image(path), load_for_model(path, model_min_side(GRID))
    assert reduced.reduction > 1
    a, b = present(full, GRID), present(reduced, GRID)
    assert a.scale == b.scale  # both map onto the file's own pixels
    assert np.abs(a.pixels.astype(int) - b.pixels).mean() < 1.5


def test_predict_agrees_through_load_for_model_and_load_image(tmp_path: Path,
                                                             shipped_segmenter: LungSegmenter) -> None:
    head = make_tiny_head(tmp_path / "head", preprocess=GRID)
    exact = Diagnoser(head, segmenter=shipped_segmenter, speed=SpeedOptions(reduced_decode=False))
    reducing = Diagnoser(head, segmenter=shipped_segmenter)  # the default decodes for the model reduced
    path = film(tmp_path / "large.jpeg", 1400, 1700)
    via_image = exact.predict(load_image(path), allow_flagged=True)
    via_path = reducing.predict(path, allow_flagged=True)  # decoded by load_for_model
    assert reducing.model_side is not None and load_for_model(path, reducing.model_side).reduction > 1
    assert abs(via_image.probability - via_path.probability) < 0.01
    assert np.abs(np.subtract(via_image.lung_crop.box, via_path.lung_crop.box)).max() <= 2 * 1700 / 224
    assert via_image.lung_crop.mask.shape == via_path.lung_crop.mask.shape == (1400, 1700)


def test_a_film_opened_on_screen_gets_the_score_triage_gives_its_file(tmp_path: Path,
                                                                      shipped_segmenter: LungSegmenter) -> None:
    """The viewer decodes in full for the screen; the model still sees the file as triage decodes it."""
    head = make_tiny_head(tmp_path / "head", preprocess=GRID)
    diagnoser = Diagnoser(head, segmenter=shipped_segmenter)
    path = film(tmp_path / "large.jpeg", 1400, 1700)
    on_screen = load_image(path)
    model_view = diagnoser.model_image(on_screen)
    assert on_screen.reduction == 1 and model_view.reduction > 1 and model_view.meta is on_screen.meta
    via_screen = diagnoser.predict(on_screen, allow_flagged=True)
    via_path = diagnoser.predict(path, allow_flagged=True)
    assert via_screen.probability == via_path.probability
    assert via_screen.lung_crop.box == via_path.lung_crop.box
    # a film that nothing would reduce, and a file changed since it was opened, keep the screen's decode
    small = load_image(film(tmp_path / "small.jpeg", 300, 360))
    assert diagnoser.model_image(small) is small
    film(path, 1200, 1700, seed=1)
    assert diagnoser.model_image(on_screen) is on_screen
