"""The JPEG 2000 codestream check: intact codestreams pass, overwritten ones are caught (decoders do not)."""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import pydicom
import pytest
from pydicom.encaps import generate_frames
from pydicom.uid import JPEG2000, ExplicitVRLittleEndian, JPEG2000Lossless

from engine.io.j2k_integrity import codestream_problem


def frame_of(ds: pydicom.Dataset) -> bytes:
    return next(generate_frames(ds.PixelData, number_of_frames=1))


@pytest.fixture(scope="module")
def encoded(dicom_dir: Path) -> list[bytes]:
    """Real codestreams (the RG1 files' encoder) and OpenJPEG's, lossless and lossy, 8 and 12 bits."""
    frames = [frame_of(pydicom.dcmread(dicom_dir / name)) for name in ("RG1_J2KR.dcm", "RG1_J2KI.dcm")]
    base = pydicom.dcmread(dicom_dir / "RG1_UNCR.dcm")
    pixels = base.pixel_array[::6, ::6]
    for bits in (8, 12):
        ds = copy.deepcopy(base)
        values = (pixels >> 7).astype(np.uint8) if bits == 8 else (pixels >> 3).astype(np.uint16)
        ds.Rows, ds.Columns = values.shape
        ds.BitsAllocated, ds.BitsStored, ds.HighBit = (8 if bits == 8 else 16), bits, bits - 1
        ds.PixelData = np.ascontiguousarray(values).tobytes()
        ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
        for syntax, options in ((JPEG2000Lossless, {}), (JPEG2000, {"j2k_cr": [15]})):
            compressed = copy.deepcopy(ds)
            compressed.compress(syntax, **options)
            frames.append(frame_of(compressed))
    return frames


def test_intact_codestreams_pass(encoded: list[bytes]) -> None:
    assert [codestream_problem(frame) for frame in encoded] == [None] * len(encoded)


@pytest.mark.parametrize("where", [0.2, 0.5, 0.8])
def test_overwritten_tile_data_is_caught(encoded: list[bytes], where: float) -> None:
    for frame in encoded[:2]:
        damaged = bytearray(frame)
        at = int(len(frame) * where)
        damaged[at : at + 2048] = np.random.default_rng(3).integers(0, 256, 2048, dtype=np.uint8).tobytes()
        assert codestream_problem(bytes(damaged)) is not None


def test_a_cut_short_codestream_is_caught(encoded: list[bytes]) -> None:
    assert codestream_problem(encoded[0][: len(encoded[0]) // 2]) == "a tile-part is cut short"


def test_not_a_codestream_gives_no_verdict() -> None:
    assert codestream_problem(b"\x00" * 100) is None
