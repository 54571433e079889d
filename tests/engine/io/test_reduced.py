"""The model path's reduced decodes (``engine.io.reduced``, ``load_for_model``): sizes, exactness at reduce 0, the
Pillow JPEG 2000 size quirk, and the same refusals as ``load_image`` on the broken-and-odd corpus."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pydicom
import pytest
from PIL import Image
from pydicom.encaps import generate_frames

from engine.errors import PneumoError
from engine.io import load_for_model, load_image
from engine.io.reduced import area_reduce, decode_j2k, decode_jpeg, reduced_shape, reduction_for
from engine.lung_crop import LungCrop
from engine.segment import at_full_resolution
from tests.corpus.build import ENTRIES, build


def test_reduction_keeps_the_shorter_side() -> None:
    assert reduction_for(1955, 1841, 256) == 4  # 1841 / 8 = 231 < 256
    assert reduction_for(1024, 1024, 256) == 4
    assert reduction_for(2373, 2373, 256) == 8
    assert reduction_for(2373, 2373, 256, max_factor=2) == 2
    assert reduction_for(300, 900, 256) == 1
    assert reduced_shape(1955, 1841, 4) == (489, 461)  # ceil, as OpenJPEG and libjpeg return them


def test_area_reduce_averages_blocks_partial_edges_included() -> None:
    array = np.arange(7 * 5, dtype=np.uint16).reshape(7, 5)
    reduced = area_reduce(array, 2)
    assert reduced.shape == (4, 3) and reduced.dtype == np.uint16
    assert reduced[0, 0] == round(array[:2, :2].mean())
    assert reduced[3, 2] == array[6, 4]  # the corner block holds one pixel
    assert reduced[1, 2] == round(array[2:4, 4].mean())
    floats = area_reduce(array.astype(np.float32), 2)
    assert floats.dtype == np.float32 and floats[0, 1] == pytest.approx(array[:2, 2:4].mean())
    assert area_reduce(array, 1) is array


def _j2k(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="JPEG2000", irreversible=False, no_jp2=True)
    return buffer.getvalue()


def _ramp(height: int, width: int) -> np.ndarray:
    y, x = np.mgrid[0:height, 0:width]
    return ((x * 3 + y * 2) % 251).astype(np.uint8)


def test_pillow_quirk_is_worked_around() -> None:
    """Pillow 13 rounds the reduced size (201 px / 4 -> 50) where OpenJPEG decodes ceil (51), and fails."""
    codestream = _j2k(_ramp(201, 203))
    plain = Image.open(io.BytesIO(codestream))
    plain.reduce = 2
    with pytest.raises(OSError, match="broken data stream"):
        plain.load()
    reduced = decode_j2k(codestream, 4)
    assert reduced.shape == reduced_shape(201, 203, 4) == (51, 51)
    # The LL band is a low-pass image: close to the block means, never the raw samples.
    assert np.abs(reduced.astype(float) - area_reduce(_ramp(201, 203), 4)).mean() < 40


def test_j2k_at_reduce_0_is_the_lossless_image() -> None:
    array = _ramp(97, 130)
    assert np.array_equal(decode_j2k(_j2k(array), 1), array)


def test_j2k_of_fewer_bits_keeps_its_values(dicom_dir: Path) -> None:
    """RG1 is 15-bit: Pillow scales samples to 16 bits, the decoder shifts them back (pydicom's values, exactly)."""
    ds = pydicom.dcmread(dicom_dir / "RG1_J2KR.dcm")
    frame = next(generate_frames(ds.PixelData, number_of_frames=1))
    assert np.array_equal(decode_j2k(frame, 1), ds.pixel_array)
    reduced = load_for_model(dicom_dir / "RG1_J2KR.dcm", 256)
    assert reduced.reduction == 4 and reduced.stored.shape == (489, 461)
    assert (reduced.meta.rows, reduced.meta.columns) == (1955, 1841)  # the file's own size
    assert reduced.meta.decoder == "Pillow"
    span = float(ds.pixel_array.max()) - float(ds.pixel_array.min())
    difference = np.abs(reduced.stored.astype(float) - area_reduce(ds.pixel_array, 4))
    assert difference.mean() < 0.02 * span  # the LL band, at the samples' own scale (not shifted by a bit)


def test_jpeg_is_scaled_in_the_dct_domain() -> None:
    array = np.asarray(Image.fromarray(_ramp(1024, 1000)).resize((1000, 1024), Image.BILINEAR))
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="JPEG", quality=95)
    full, applied_full = decode_jpeg(buffer.getvalue(), 1)
    scaled, applied = decode_jpeg(buffer.getvalue(), 4)
    assert applied_full == 1 and full.shape == (1024, 1000)
    assert applied == 4 and scaled.shape == (256, 250)


def test_load_for_model_matches_load_image_when_nothing_is_reduced(dicom_dir: Path, tmp_path: Path) -> None:
    for path in (dicom_dir / "RG1_J2KR.dcm", dicom_dir / "RG1_UNCR.dcm"):
        full, model = load_image(path), load_for_model(path, 4096)
        assert model.reduction == 1
        assert np.array_equal(full.stored, model.stored) and np.array_equal(full.model_uint8, model.model_uint8)
    png = tmp_path / "small.png"
    Image.fromarray(_ramp(300, 400)).save(png)
    assert load_for_model(png, 256).reduction == 1


def test_rasters_are_reduced_to_the_model_side(tmp_path: Path) -> None:
    png, jpeg = tmp_path / "film.png", tmp_path / "film.jpg"
    Image.fromarray(_ramp(1100, 1030)).save(png)
    Image.fromarray(_ramp(1100, 1030)).save(jpeg, quality=95)
    for path, decoder in ((png, "Pillow"), (jpeg, "Pillow")):
        image = load_for_model(path, 256)
        assert image.reduction == 4 and image.stored.shape == (275, 258), path
        assert (image.meta.rows, image.meta.columns) == (1100, 1030) and image.meta.decoder == decoder
    assert np.array_equal(load_for_model(png, 256).stored, area_reduce(load_image(png).stored, 4))


def test_a_crop_found_on_a_reduced_image_is_reported_in_file_pixels() -> None:
    mask = np.zeros((10, 12), bool)
    mask[2:8, 3:9] = True
    crop = LungCrop(mask, (3, 2, 9, 8), np.zeros((224, 224), np.uint8), 0.3, 2, (), False, {})
    full = at_full_resolution(crop, 4, 38, 45)
    assert full.box == (12, 8, 36, 32)
    assert full.mask.shape == (38, 45) and full.mask.sum() == 24 * 24
    assert full.mask[8, 12] and not full.mask[7, 12] and not full.mask[8, 36]
    assert at_full_resolution(crop, 1, 10, 12) is crop


@pytest.fixture(scope="module")
def corpus(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> list:
    return build(shared_data, tmp_path_factory.mktemp("corpus"))


def _verdict(load, path: Path) -> tuple[str, str]:
    try:
        image = load(path)
    except PneumoError as exc:
        return type(exc).__name__, exc.one_line()
    return "read", ",".join(flag.code for flag in image.meta.flags)


@pytest.mark.parametrize("index", range(len(ENTRIES)), ids=[entry.name for entry in ENTRIES])
def test_reduced_decoding_refuses_what_the_full_decode_refuses(index: int, corpus: list) -> None:
    """Header checks and damaged-data checks are those of ``load_image``: the same error, or both read it."""
    _entry, path = corpus[index]
    assert _verdict(lambda p: load_for_model(p, 64), path) == _verdict(load_image, path)


def test_area_reduced_images_keep_the_films_range_for_the_8_bit_conversion(dicom_dir: Path, tmp_path: Path) -> None:
    """Block means narrow the range; the paper's autocontrast must still stretch the film's own min..max."""
    array = np.full((600, 640), 100, np.uint8)
    array[:300] = 60
    array[10, 10], array[500, 500] = 0, 255  # single extreme pixels, averaged away by the reduction
    png = tmp_path / "film.png"
    Image.fromarray(array).save(png)
    reduced = load_for_model(png, 256)
    assert reduced.reduction == 2 and reduced.stored.max() < 255
    assert np.abs(reduced.model_uint8.astype(int) - area_reduce(load_image(png).model_uint8, 2)).max() <= 1
    path = dicom_dir / "RG1_UNCR.dcm"  # MONOCHROME1: the polarity flip uses the full range too
    full, model = load_image(path), load_for_model(path, 256)
    assert model.reduction == 4
    assert np.abs(model.model_uint8.astype(float) - area_reduce(full.model_uint8, 4)).mean() < 1.0


def test_a_lung_box_too_small_for_the_crop_is_decoded_again_sharper(tmp_path: Path) -> None:
    from dataclasses import replace

    from engine.flags import Flag
    from engine.model.config import PreprocessConfig
    from engine.preprocess import _sharper_decode

    png = tmp_path / "film.png"
    Image.fromarray(_ramp(1100, 1030)).save(png)
    image = load_for_model(png, 256)
    image = replace(image, meta=replace(image.meta, flags=(Flag("outside_intended_use", "test"),)))
    config = PreprocessConfig(effective_side=201)

    def crop(box: tuple[int, int, int, int]) -> LungCrop:
        return LungCrop(np.zeros(image.stored.shape, bool), box, np.zeros((224, 224), np.uint8), 0.3, 2, (), False)

    assert _sharper_decode(image, crop((10, 10, 250, 260)), config) is None  # 250 px >= 201: sharp enough
    sharper = _sharper_decode(image, crop((100, 100, 160, 140)), config)  # 60 px = 240 file pixels: 1/1 needed
    assert sharper is not None and sharper.reduction == 1 and sharper.stored.shape == (1100, 1030)
    assert sharper.meta.flags == image.meta.flags  # what was added to the meta stays
    halved = _sharper_decode(image, crop((100, 100, 210, 140)), config)  # 110 px = 440 file pixels: 1/2 will do
    assert halved is not None and halved.reduction == 2
