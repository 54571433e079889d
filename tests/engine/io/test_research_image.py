"""MetaImage / NRRD / NIfTI radiographs written with SimpleITK itself, read back through ``load_image``."""

from __future__ import annotations

import gzip
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import SimpleITK as sitk
from PIL import Image

from engine.errors import DicomReadError, UnsupportedImageError
from engine.io import load_image
from engine.io.research_image import detached_pixel_files, is_detached_pixel_data, is_research_file, research_suffix
from engine.io.study_scan import scan_folder
from tests.dicom_factory import chest_like

ROOT = Path(__file__).resolve().parents[3]
SUFFIXES = (".mha", ".mhd", ".nrrd", ".nhdr", ".nii", ".nii.gz")


def asymmetric(rows: int = 70, columns: int = 90, dtype: type = np.uint16) -> np.ndarray:
    """A chest-like image whose every row and column differ, so a flip or a transpose cannot go unseen."""
    grey = chest_like(rows, columns, dtype=np.float32, high=3000)
    grey += np.arange(rows, dtype=np.float32)[:, None] * 7 + np.arange(columns, dtype=np.float32)[None, :]
    grey[:5, :11] = 4000  # a bright corner block: top-left, wider than tall
    return grey.astype(dtype)


def write(path: Path, array: np.ndarray, spacing: tuple[float, ...] | None = None, *, vector: bool = False) -> Path:
    image = sitk.GetImageFromArray(array, isVector=vector)
    if spacing is not None:
        image.SetSpacing(spacing)
    sitk.WriteImage(image, str(path))
    return path


@pytest.mark.parametrize("suffix", SUFFIXES)
def test_round_trip_keeps_values_orientation_and_spacing(tmp_path: Path, suffix: str) -> None:
    grey = asymmetric()
    path = write(tmp_path / f"chest{suffix}", grey, spacing=(0.2, 0.35))  # ITK order: x (columns), y (rows)
    image = load_image(path)
    assert image.meta.kind == "research" and image.meta.decoder == "SimpleITK"
    assert (image.meta.rows, image.meta.columns) == grey.shape and image.display.shape == grey.shape
    np.testing.assert_array_equal(image.stored, grey)  # no transposition, no flip
    np.testing.assert_array_equal(image.pixels, grey.astype(np.float32))
    assert image.meta.bits_stored == 16
    assert image.meta.pixel_spacing == pytest.approx((0.35, 0.2))  # (row, column) in mm, like DICOM
    assert image.display.dtype == np.uint8 and image.display.min() == 0 and image.display.max() == 255
    assert image.display[0, 0] == 255 and image.display[-1, 0] < 255  # the bright block stays top-left


def test_8bit_keeps_display_values_and_unstated_spacing_is_none(tmp_path: Path) -> None:
    grey = asymmetric(dtype=np.uint8) // 16
    image = load_image(write(tmp_path / "eight.mha", grey))
    np.testing.assert_array_equal(image.display, grey)
    assert image.meta.bits_stored == 8
    assert image.meta.pixel_spacing is None  # ITK's 1 x 1 default is not a stated spacing


def test_float_and_signed_values_as_stored(tmp_path: Path) -> None:
    values = asymmetric().astype(np.float32) / 1000.0 - 1.5
    image = load_image(write(tmp_path / "float.nii.gz", values))
    np.testing.assert_allclose(image.pixels, values)
    assert image.meta.bits_stored is None
    signed = asymmetric().astype(np.int16) - 2000
    image = load_image(write(tmp_path / "signed.nrrd", signed))
    np.testing.assert_array_equal(image.pixels, signed.astype(np.float32))
    assert image.pixels.min() < 0


def test_one_slice_volume_is_an_image(tmp_path: Path) -> None:
    grey = asymmetric()
    image = load_image(write(tmp_path / "slice.nii", grey[None], spacing=(0.2, 0.35, 5.0)))
    np.testing.assert_array_equal(image.stored, grey)
    assert image.meta.pixel_spacing == pytest.approx((0.35, 0.2))


def test_rgb_collapses_to_grey_like_png(tmp_path: Path) -> None:
    grey = asymmetric(dtype=np.uint8)
    image = load_image(write(tmp_path / "rgb.mha", np.stack([grey] * 3, axis=-1), vector=True))
    np.testing.assert_array_equal(image.display, grey)  # grey stored as RGB keeps exact values


def test_volume_vector_and_damaged_files_get_clear_messages(tmp_path: Path, capfd: pytest.CaptureFixture) -> None:
    volume = np.stack([asymmetric()] * 3)
    with pytest.raises(UnsupportedImageError, match=r"NIfTI volume of 3 slices \(90 x 70 pixels each\)"):
        load_image(write(tmp_path / "ct.nii.gz", volume))
    field = np.zeros((70, 90, 6), np.float32)
    with pytest.raises(UnsupportedImageError, match="vector image with 6 values per pixel"):
        load_image(write(tmp_path / "field.nrrd", field, vector=True))
    with pytest.raises(UnsupportedImageError, match="outside what a radiograph can be"):
        load_image(write(tmp_path / "tiny.mha", np.zeros((8, 8), np.uint8)))
    nan = asymmetric().astype(np.float32)
    nan[3, 3] = np.nan
    with pytest.raises(UnsupportedImageError, match="NaN or infinite"):
        load_image(write(tmp_path / "nan.mha", nan))

    (tmp_path / "junk.nii").write_bytes(b"not a nifti header" * 40)
    with pytest.raises(DicomReadError, match="Not a readable NIfTI file"):
        load_image(tmp_path / "junk.nii")
    assert "nifti" not in capfd.readouterr().err.lower()  # niftilib's complaint stays off the terminal
    # ITK fills a truncated NIfTI's missing pixels with zeros without a word; we refuse it.
    plain = write(tmp_path / "cut.nii", asymmetric())
    plain.write_bytes(plain.read_bytes()[:2000])
    packed = write(tmp_path / "cut.nii.gz", asymmetric())
    packed.write_bytes(gzip.compress(gzip.decompress(packed.read_bytes())[:2000]))
    stream = write(tmp_path / "stream.nii.gz", asymmetric())
    stream.write_bytes(stream.read_bytes()[:600])  # the gzip stream itself cut off
    for cut in (plain, packed, stream):
        with pytest.raises(DicomReadError, match="NIfTI pixel data could not be read"):
            load_image(cut)
    header = write(tmp_path / "lost.mhd", asymmetric())
    header.with_suffix(".raw").unlink()
    with pytest.raises(DicomReadError, match="separate pixel-data file is missing"):
        load_image(header)


def test_names_decide_the_format_but_content_still_wins(tmp_path: Path) -> None:
    assert research_suffix(Path("a/CHEST.NII.GZ")) == ".nii.gz" and research_suffix(Path("x.gz")) is None
    assert not is_research_file(Path(".nii")) and not is_research_file(Path("notes.txt"))
    grey = asymmetric(dtype=np.uint8)
    Image.fromarray(grey).save(tmp_path / "really_png.nii", format="PNG")  # a PNG misnamed: read as the PNG it is
    image = load_image(tmp_path / "really_png.nii")
    assert image.meta.kind == "raster"
    np.testing.assert_array_equal(image.display, grey)


def test_folder_scan_finds_them_and_hides_detached_pixel_data(tmp_path: Path) -> None:
    (tmp_path / "set").mkdir()
    for suffix in SUFFIXES:
        write(tmp_path / "set" / f"case{suffix.replace('.', '_')}{suffix}", asymmetric())
    assert is_detached_pixel_data(tmp_path / "set" / "case_mhd.raw")
    (tmp_path / "set" / "orphan.raw").write_bytes(b"\0" * 16)  # no header beside it: an unknown file
    result = scan_folder(tmp_path)
    found = sorted(meta.path.name for meta in result.images())
    assert found == sorted(f"case{s.replace('.', '_')}{s}" for s in SUFFIXES)
    assert {meta.kind for meta in result.images()} == {"research"}
    assert set(result.studies) == {"folder:set"}
    assert [(s.path.name, s.reason) for s in result.skipped] == [("orphan.raw", "not an image file (.raw)")]
    for meta in result.images():
        np.testing.assert_array_equal(load_image(meta.path).stored, asymmetric())


def test_simpleitk_is_imported_only_when_a_research_file_is_read(tmp_path: Path) -> None:
    png = tmp_path / "a.png"
    Image.fromarray(asymmetric(dtype=np.uint8)).save(png)
    write(tmp_path / "b.mha", asymmetric())
    code = ("import sys; from engine.io import load_image; import engine.io.study_scan, training.data; "
            f"load_image({str(png)!r}); print('SimpleITK' in sys.modules); "
            f"load_image({str(tmp_path / 'b.mha')!r}); print('SimpleITK' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["False", "True"]


@pytest.mark.parametrize("suffix", [".mhd", ".nhdr"])
def test_content_hash_covers_detached_pixel_data(tmp_path: Path, suffix: str) -> None:
    from engine.paths import file_sha256

    # Same size, same data-file name: the two headers are byte-identical, only the pixels differ. Crop-cache keys
    # and a head's training-image fingerprints must still tell them apart.
    (tmp_path / "normal").mkdir()
    (tmp_path / "abnormal").mkdir()
    first = write(tmp_path / "normal" / f"case{suffix}", asymmetric())
    second = write(tmp_path / "abnormal" / f"case{suffix}", asymmetric() + np.uint16(1))
    assert first.read_bytes() == second.read_bytes()
    assert detached_pixel_files(first) == (first.with_suffix(".raw"),)
    assert file_sha256(first) != file_sha256(second)
    before = file_sha256(first)
    write(first.with_suffix(".tmp" + suffix), asymmetric() + np.uint16(2))  # rewrite the pixels only
    first.with_suffix(".tmp.raw").replace(first.with_suffix(".raw"))
    assert file_sha256(first) != before
    single = write(tmp_path / "single.mha", asymmetric())
    assert detached_pixel_files(single) == () and detached_pixel_files(tmp_path / "x.nii") == ()
