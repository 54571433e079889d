"""``load_image``: the reader is chosen by content, folders and missing files get one clear line."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from engine.errors import DicomReadError, UnsupportedImageError
from engine.io import is_dicom_file, load_image
from tests.dicom_factory import chest_like, make_dicom


def test_dicom_named_png_is_read_as_dicom(tmp_path: Path) -> None:
    path = make_dicom(tmp_path / "scan.png", chest_like(128, 128))
    assert is_dicom_file(path)
    image = load_image(path)
    assert image.meta.kind == "dicom" and image.meta.decoder == "pydicom"


def test_png_is_read_as_raster(tmp_path: Path) -> None:
    Image.fromarray(chest_like(dtype=np.uint8, high=250)).save(tmp_path / "a.png")
    image = load_image(tmp_path / "a.png")
    assert image.meta.kind == "raster" and image.display.dtype == np.uint8


@pytest.mark.parametrize(("make", "error", "text"), [
    (lambda folder: folder / "missing.dcm", DicomReadError, "not found"),
    (lambda folder: folder, UnsupportedImageError, "folder"),
])
def test_clear_line_for_paths_that_are_not_images(tmp_path: Path, make, error: type, text: str) -> None:
    with pytest.raises(error, match=text) as info:
        load_image(make(tmp_path))
    assert "\n" not in info.value.user_message
