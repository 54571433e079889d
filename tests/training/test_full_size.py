"""Full-size films as a user meets them: the training cache presents films as inference does, and the model
card's full-size paragraph says which aims the measured numbers meet."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from engine.model.config import PreprocessConfig
from engine.segment import LungSegmenter
from tests.dicom_factory import chest_like
from training.cache import RegionCache
from training.full_size import aims, card_paragraph, write_into_card

GRID = PreprocessConfig(effective_side=201, source_long_side=224, film_grid=224, film_jpeg_quality=75)


def block(normals_flagged: int, held: int) -> dict:
    return {"films": "kermany/fullres-dev", "n": 8, "threshold": 0.62,
            "per_class": {"NORMAL": {"n": 4, "flagged": normals_flagged, "not flagged": 4 - normals_flagged,
                                     "not diagnosed": 0},
                          "PNEUMONIA": {"n": 4, "flagged": 4, "not flagged": 0, "not diagnosed": 0}},
            "not_diagnosed": held, "not_diagnosed_fraction": held / 8, "out_of_domain_warned": held,
            "novelty_median": 60.0, "copy_novelty_median": 58.0, "copy_median_abs_delta": 0.01,
            "copy_max_abs_delta": 0.2, "copy_decision_flips": 0}


def test_the_aims_are_read_from_the_numbers() -> None:
    assert "normals flagged 0 of 4 (aim at most 1 in 8: met)" in aims(block(0, 0))
    assert "normals flagged 1 of 4 (aim at most 1 in 8: **not met**)" in aims(block(1, 0))
    assert "held back 12.5 % (aim under 5 %: **not met**)" in aims(block(0, 1))


def test_the_card_paragraph_is_replaced_not_repeated(tmp_path: Path) -> None:
    card = tmp_path / "MODEL_CARD.md"
    card.write_text("# Card\n\n**Geometry.** x\n\n**Reproduce.** `cmd`\n\n**Limits.** y\n")
    write_into_card(tmp_path, card_paragraph(block(2, 5), None))
    write_into_card(tmp_path, card_paragraph(block(0, 0), None))
    text = card.read_text()
    assert text.count("**Full-size films**") == 1 and text.count("**Full-size aims**") == 1
    assert "normals flagged 0 of 4" in text and "normals flagged 2 of 4" not in text
    assert text.index("**Full-size aims**") < text.index("**Reproduce.**") and "**Limits.** y" in text


def test_the_cache_presents_films_as_inference_does(segmenter: LungSegmenter, tmp_path: Path) -> None:
    path = tmp_path / "film.png"
    Image.fromarray(chest_like(700, 900, dtype=np.uint8, high=255)).save(path)
    plain = RegionCache(segmenter, root=tmp_path / "regions")
    gridded = RegionCache(segmenter, root=tmp_path / "regions", presentation=GRID)
    assert plain.folder != gridded.folder  # entries made on the grid never answer for films at their own size
    for cache, long_side in ((plain, 900), (gridded, 224)):
        keys, failed = cache.prepare([path])
        assert not failed and cache.get(keys[path]).source_long_side == long_side
