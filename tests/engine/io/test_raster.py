"""PNG, JPEG and TIFF radiographs: 8- and 16-bit, RGB collapsed to grey, damaged files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import tifffile
from PIL import Image

from engine.errors import DicomReadError, UnsupportedImageError
from engine.io import load_image
from tests.dicom_factory import chest_like


def test_8bit_png_keeps_values(tmp_path: Path) -> None:
    grey = chest_like(dtype=np.uint8, high=250)
    Image.fromarray(grey).save(tmp_path / "a.png")
    image = load_image(tmp_path / "a.png")
    np.testing.assert_array_equal(image.display, grey)
    np.testing.assert_array_equal(image.pixels, grey.astype(np.float32))


def test_16bit_png_full_range(tmp_path: Path) -> None:
    grey = chest_like(dtype=np.uint16, high=60000)
    Image.fromarray(grey).save(tmp_path / "a16.png")
    image = load_image(tmp_path / "a16.png")
    np.testing.assert_array_equal(image.pixels, grey.astype(np.float32))
    assert image.meta.bits_stored == 16
    assert image.display.min() == 0 and image.display.max() == 255


def test_16bit_tiff(tmp_path: Path) -> None:
    grey = chest_like(dtype=np.uint16, high=4095)
    tifffile.imwrite(tmp_path / "a.tif", grey)
    image = load_image(tmp_path / "a.tif")
    np.testing.assert_array_equal(image.pixels, grey.astype(np.float32))
    assert image.meta.decoder == "tifffile"


def test_rgb_jpeg_collapses_to_grey(tmp_path: Path) -> None:
    grey = chest_like(dtype=np.uint8, high=250)
    rgb = np.stack([grey, (grey * 0.9).astype(np.uint8), grey], axis=-1)
    Image.fromarray(rgb).save(tmp_path / "a.jpg", quality=95)
    image = load_image(tmp_path / "a.jpg")
    assert image.display.shape == grey.shape
    assert np.abs(image.pixels - grey.astype(np.float32)).mean() < 20


def test_grey_stored_as_rgb_is_exact(tmp_path: Path) -> None:
    grey = chest_like(dtype=np.uint8, high=250)
    Image.fromarray(np.stack([grey] * 3, axis=-1)).save(tmp_path / "rgb.png")
    np.testing.assert_array_equal(load_image(tmp_path / "rgb.png").display, grey)


def test_damaged_png(tmp_path: Path) -> None:
    Image.fromarray(chest_like(dtype=np.uint8, high=250)).save(tmp_path / "a.png")
    data = (tmp_path / "a.png").read_bytes()
    (tmp_path / "cut.png").write_bytes(data[: len(data) // 3])
    with pytest.raises(DicomReadError, match="damaged or truncated"):
        load_image(tmp_path / "cut.png")


def test_text_named_png(tmp_path: Path) -> None:
    (tmp_path / "x.png").write_text("hello")
    with pytest.raises(DicomReadError, match="Not a readable image"):
        load_image(tmp_path / "x.png")


def test_tiny_and_missing(tmp_path: Path) -> None:
    Image.fromarray(np.zeros((8, 8), np.uint8)).save(tmp_path / "tiny.png")
    with pytest.raises(UnsupportedImageError):
        load_image(tmp_path / "tiny.png")
    with pytest.raises(DicomReadError, match="not found"):
        load_image(tmp_path / "absent.png")


def test_real_samples_decode(shared_data: Path) -> None:
    for path in sorted((shared_data / "samples").iterdir()):
        image = load_image(path)
        assert image.display.ndim == 2 and image.display.dtype == np.uint8, path.name
