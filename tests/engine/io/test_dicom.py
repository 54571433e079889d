"""DICOM ingest: real files from ../shared/data/dicom and generated edge cases."""

from __future__ import annotations

import hashlib
import io
import logging
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pytest
from PIL import Image
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence

from engine.errors import DicomReadError, UnsupportedImageError
from engine.flags import codes
from engine.io import autocontrast_uint8, load_image
from engine.io.image import window_uint8
from tests.dicom_factory import (
    GSPS_STORAGE,
    PHI_VALUES,
    SC_STORAGE,
    SR_STORAGE,
    chest_like,
    make_dicom,
)

RG1 = ("RG1_UNCI.dcm", "RG1_UNCR.dcm", "RG1_J2KI.dcm", "RG1_J2KR.dcm")
CR_JPEG = "1.2.276.0.7230010.3.1.4.8323329.6904.1517875201.850819.dcm"


def lung_and_mediastinum(display: np.ndarray) -> tuple[float, float]:
    """Mean grey of both mid-lung fields and of the mediastinum on a frontal chest image."""
    rows, cols = display.shape
    band = slice(int(rows * 0.35), int(rows * 0.55))
    lungs = np.concatenate([display[band, int(cols * 0.22):int(cols * 0.32)].ravel(),
                            display[band, int(cols * 0.68):int(cols * 0.78)].ravel()])
    mediastinum = display[band, int(cols * 0.47):int(cols * 0.53)]
    return float(lungs.mean()), float(mediastinum.mean())


# --- real files ----------------------------------------------------------------------------------------

def test_rg1_encodings_agree(dicom_dir: Path) -> None:
    images = {name: load_image(dicom_dir / name) for name in RG1}
    reference = images["RG1_UNCR.dcm"].pixels
    for name, image in images.items():
        assert image.pixels.shape == reference.shape == (1955, 1841), name
        assert image.meta.photometric == "MONOCHROME1"
        # Same orientation and close values; the J2K copies are not bit-exact with each other.
        corr = np.corrcoef(image.pixels[::4, ::4].ravel(), reference[::4, ::4].ravel())[0, 1]
        assert corr > 0.995, (name, corr)
        diff = np.abs(image.display.astype(int) - images["RG1_UNCR.dcm"].display.astype(int))
        assert diff.mean() < 2.0, (name, diff.mean())
    # Each uncompressed copy matches its JPEG 2000 twin exactly or nearly.
    assert np.abs(images["RG1_UNCI.dcm"].pixels - images["RG1_J2KI.dcm"].pixels).max() <= 1
    assert np.abs(images["RG1_UNCR.dcm"].pixels - images["RG1_J2KR.dcm"].pixels).max() <= 1


def test_monochrome1_lungs_darker_than_mediastinum(dicom_dir: Path) -> None:
    image = load_image(dicom_dir / "RG1_UNCR.dcm")
    lungs, mediastinum = lung_and_mediastinum(image.display)
    assert lungs + 20 < mediastinum, (lungs, mediastinum)
    lungs_m, mediastinum_m = lung_and_mediastinum(image.model_uint8)
    assert lungs_m + 20 < mediastinum_m, (lungs_m, mediastinum_m)


def test_jpeg_baseline_cr_decodes(dicom_dir: Path) -> None:
    image = load_image(dicom_dir / CR_JPEG)
    assert image.display.shape == (1024, 1024)
    assert image.meta.transfer_syntax == "1.2.840.10008.1.2.4.50"
    assert image.meta.pixel_spacing == (0.168, 0.168)
    lungs, mediastinum = lung_and_mediastinum(image.display)
    assert lungs < mediastinum


def test_fake_monochrome1_is_the_inverse_of_its_original(dicom_dir: Path) -> None:
    original = load_image(dicom_dir / CR_JPEG).display.astype(float)
    relabelled = load_image(dicom_dir / "Fake_MONOHR1.dcm").display.astype(float)
    assert np.corrcoef(original.ravel(), 255 - relabelled.ravel())[0, 1] > 0.99


def test_zero_pixel_spacing_is_null(dicom_dir: Path) -> None:
    assert load_image(dicom_dir / "RG1_UNCI.dcm").meta.pixel_spacing is None


def test_model_uint8_matches_matplotlib_imsave(dicom_dir: Path) -> None:
    image = load_image(dicom_dir / "RG1_UNCR.dcm")
    crop = image.pixels[600:856, 600:856]
    buffer = io.BytesIO()
    plt.imsave(buffer, crop, cmap="gray", format="png")
    reference = np.asarray(Image.open(buffer))[..., 0]  # grey: R = G = B
    assert np.array_equal(autocontrast_uint8(crop), reference)


def test_reading_never_changes_the_source(dicom_dir: Path) -> None:
    for name in (*RG1, CR_JPEG):
        path = dicom_dir / name
        before = (path.stat().st_mtime_ns, hashlib.sha256(path.read_bytes()).hexdigest())
        load_image(path)
        assert (path.stat().st_mtime_ns, hashlib.sha256(path.read_bytes()).hexdigest()) == before


# --- generated edge cases ------------------------------------------------------------------------------

def test_rescale_slope_and_intercept_are_applied(tmp_path: Path) -> None:
    raw = chest_like()
    path = make_dicom(tmp_path / "rescaled.dcm", raw, RescaleSlope=2, RescaleIntercept=-1000)
    image = load_image(path)
    np.testing.assert_allclose(image.pixels, raw.astype(np.float32) * 2 - 1000)


def test_window_from_file_drives_display(tmp_path: Path) -> None:
    raw = chest_like(high=4000)
    path = make_dicom(tmp_path / "windowed.dcm", raw, WindowCenter=1000, WindowWidth=400)
    image = load_image(path)
    assert image.default_window == (1000.0, 400.0)
    np.testing.assert_array_equal(image.display, window_uint8(raw, 1000, 400))
    # Lungs (1000) sit mid-window; the body (3000) is above it and saturates.
    assert image.display.max() == 255 and 100 < np.median(image.display[128, 60:80]) < 160


def test_voi_lut_sequence_beats_window(tmp_path: Path) -> None:
    raw = chest_like(high=1000).astype(np.uint16)
    item = Dataset()
    item.LUTDescriptor = [1024, 0, 16]
    item.LUTData = (np.arange(1024) * 64).astype("<u2").tobytes()
    path = make_dicom(tmp_path / "voilut.dcm", raw, VOILUTSequence=Sequence([item]), WindowCenter=10,
                      WindowWidth=2)
    image = load_image(path)
    expected = np.round(raw.astype(float) * 64 * 255 / 65535)
    assert np.abs(image.display.astype(int) - expected.astype(int)).max() <= 1


@pytest.mark.parametrize(
    ("photometric", "shape", "inverted"),
    [("MONOCHROME1", None, True), ("MONOCHROME1", "INVERSE", True), ("MONOCHROME1", "IDENTITY", True),
     ("MONOCHROME2", None, False), ("MONOCHROME2", "IDENTITY", False), ("MONOCHROME2", "INVERSE", True)],
)
def test_polarity_is_applied_exactly_once(tmp_path: Path, photometric: str, shape: str | None,
                                          inverted: bool) -> None:
    raw = chest_like()
    extra = {"PresentationLUTShape": shape} if shape else {}
    image = load_image(make_dicom(tmp_path / "p.dcm", raw, photometric=photometric, **extra))
    lungs, body = image.display[128, 72], image.display[10, 10]
    # MONOCHROME2 stores lungs low = dark; after an inversion the lungs turn bright.
    assert (lungs > body) == inverted
    assert (image.pixels[128, 72] > image.pixels[10, 10]) == inverted


def test_signed_pixels_decode(tmp_path: Path) -> None:
    raw = (chest_like(high=2000).astype(np.int16) - 1000).astype(np.int16)
    image = load_image(make_dicom(tmp_path / "signed.dcm", raw))
    np.testing.assert_allclose(image.pixels, raw.astype(np.float32))


def test_rgb_dicom_collapses_to_grey(tmp_path: Path) -> None:
    grey = chest_like(dtype=np.uint8, high=250)
    rgb = np.stack([grey, grey, grey], axis=-1)
    image = load_image(make_dicom(tmp_path / "rgb.dcm", rgb))
    assert image.display.shape == grey.shape
    assert codes(image.meta.flags) == ["colour_converted"]


def test_text_file_named_dcm(tmp_path: Path) -> None:
    path = tmp_path / "notes.dcm"
    path.write_text("Patient was seen on Tuesday.\n" * 20)
    with pytest.raises(DicomReadError, match="Not a DICOM file"):
        load_image(path)


def test_wrong_magic(tmp_path: Path) -> None:
    good = make_dicom(tmp_path / "good.dcm", chest_like())
    data = bytearray(good.read_bytes())
    data[128:132] = b"XXXX"
    bad = tmp_path / "badmagic.dcm"
    bad.write_bytes(bytes(data))
    with pytest.raises(DicomReadError):
        load_image(bad)


def test_truncated_pixel_data(tmp_path: Path) -> None:
    good = make_dicom(tmp_path / "good.dcm", chest_like())
    cut = tmp_path / "cut.dcm"
    cut.write_bytes(good.read_bytes()[:-5000])
    with pytest.raises(DicomReadError, match="truncated|damaged"):
        load_image(cut)


def test_truncated_header(tmp_path: Path) -> None:
    good = make_dicom(tmp_path / "good.dcm", chest_like())
    cut = tmp_path / "cut.dcm"
    cut.write_bytes(good.read_bytes()[:400])
    with pytest.raises(DicomReadError):
        load_image(cut)


def test_missing_pixel_data(tmp_path: Path) -> None:
    path = make_dicom(tmp_path / "nopixels.dcm", None, Rows=512, Columns=512)
    with pytest.raises(DicomReadError, match="no pixel data"):
        load_image(path)


def test_absurd_dimensions(tmp_path: Path) -> None:
    path = make_dicom(tmp_path / "huge.dcm", chest_like(64, 64))
    import pydicom

    ds = pydicom.dcmread(path)
    ds.Rows = 60000
    ds.save_as(path)
    with pytest.raises(UnsupportedImageError, match="outside what a radiograph can be"):
        load_image(path)


def test_multi_frame_gets_a_clear_message(tmp_path: Path) -> None:
    frames = np.stack([chest_like(64, 64)] * 3)
    path = make_dicom(tmp_path / "multi.dcm", frames[0], NumberOfFrames=3)
    import pydicom

    ds = pydicom.dcmread(path)
    ds.PixelData = frames.tobytes()
    ds.save_as(path)
    with pytest.raises(UnsupportedImageError, match="Multi-frame object \\(3 frames\\)"):
        load_image(path)


@pytest.mark.parametrize(("sop", "modality", "reason"), [
    (SR_STORAGE, "SR", "structured report"),
    (GSPS_STORAGE, "PR", "presentation state"),
])
def test_non_image_objects_are_refused(tmp_path: Path, sop: str, modality: str, reason: str) -> None:
    path = make_dicom(tmp_path / "obj.dcm", None, sop_class=sop, modality=modality)
    with pytest.raises(UnsupportedImageError, match=reason):
        load_image(path)


def test_screen_capture_is_refused_but_a_converted_chest_film_is_not(tmp_path: Path) -> None:
    text = make_dicom(tmp_path / "sc.dcm", chest_like(dtype=np.uint8, high=250), sop_class=SC_STORAGE,
                      modality="OT", ConversionType="WSD")
    with pytest.raises(UnsupportedImageError, match="secondary capture"):
        load_image(text)
    film = make_dicom(tmp_path / "film.dcm", chest_like(dtype=np.uint8, high=250), sop_class=SC_STORAGE,
                      modality="CR", ConversionType="WSD", BodyPartExamined="CHEST")
    assert load_image(film).display.shape == (256, 240)


@pytest.mark.parametrize(("attributes", "flag"), [
    ({"ViewPosition": "LL"}, "lateral view"),
    ({"modality": "CT"}, "modality CT"),
    ({"modality": "US"}, "modality US"),
    ({"BodyPartExamined": "HAND"}, "body part HAND"),
])
def test_review_flags(tmp_path: Path, attributes: dict[str, str], flag: str) -> None:
    image = load_image(make_dicom(tmp_path / "f.dcm", chest_like(), **attributes))
    assert any(flag in f.message for f in image.meta.flags), image.meta.flags


def test_no_phi_in_logs_or_errors(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    good = make_dicom(tmp_path / "good.dcm", chest_like())
    cut = tmp_path / "cut.dcm"
    cut.write_bytes(good.read_bytes()[:-100])
    messages = []
    load_image(good)
    for path in (cut, make_dicom(tmp_path / "sr.dcm", None, sop_class=SR_STORAGE, modality="SR")):
        with pytest.raises((DicomReadError, UnsupportedImageError)) as info:
            load_image(path)
        messages.append(info.value.user_message)
    text = caplog.text + "\n".join(messages)
    for value in PHI_VALUES.values():
        assert value not in text
