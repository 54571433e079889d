"""The consistency probe: presentations of one radiograph, |delta p| against the native one, decision flips."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from engine.consistency import PRESENTATIONS, consistency, present
from engine.diagnoser import Diagnoser
from tests.dicom_factory import chest_like
from tests.head_factory import make_tiny_head


def test_presentations_change_size_or_encoding_only() -> None:
    image = chest_like(200, 180, dtype=np.uint8, high=250)
    assert present(image, "native") is image
    assert present(image, "half").shape == (100, 90) and present(image, "double").shape == (400, 360)
    jpeg = present(image, "jpeg70")
    assert jpeg.shape == image.shape and 0 < np.abs(jpeg.astype(int) - image).mean() < 10
    with pytest.raises(ValueError, match="unknown presentation"):
        present(image, "sepia")


def test_consistency_reports_per_presentation_and_counts_failures(tmp_path: Path, segmenter) -> None:
    diagnoser = Diagnoser(make_tiny_head(tmp_path / "head", with_map=False), segmenter=segmenter)
    paths = []
    for index in range(3):
        path = tmp_path / f"x{index}.png"
        Image.fromarray(chest_like(220 + 10 * index, 200, dtype=np.uint8, high=240)).save(path)
        paths.append(path)
    (tmp_path / "broken.png").write_bytes(b"not a png")
    report = consistency(diagnoser, [*paths, tmp_path / "broken.png"])
    assert report["n"] == 3 and report["skipped"] == 1
    assert set(report["presentations"]) == set(PRESENTATIONS)
    for block in (*report["presentations"].values(), report["overall"]):
        assert 0.0 <= block["median_abs_delta"] <= block["p95_abs_delta"] <= 1.0
        assert 0.0 <= block["flip_rate"] <= 1.0
