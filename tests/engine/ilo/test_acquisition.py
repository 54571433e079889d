"""The digital-reading acquisition check: >= 10 bits stored and <= 200 um pixel pitch, a warning only."""

from __future__ import annotations

from pathlib import Path

from engine.ilo.acquisition import BELOW, check_acquisition
from engine.io.image import ImageMeta


def _meta(**kwargs) -> ImageMeta:
    return ImageMeta(path=Path("x.dcm"), kind="dicom", rows=100, columns=100, **kwargs)


def test_meets_both_limits() -> None:
    check = check_acquisition(_meta(bits_stored=12, pixel_spacing=(0.2, 0.2), imager_pixel_spacing=(0.2, 0.2)))
    assert not check.below and "meets" in check.message() and "200 µm" in check.message()


def test_too_few_bits_or_too_coarse_a_pitch_is_below() -> None:
    bits = check_acquisition(_meta(bits_stored=8, pixel_spacing=(0.168, 0.168)))
    assert bits.below and BELOW in bits.message() and "8 bits stored" in bits.message()
    assert "not blocked" in bits.message()
    pitch = check_acquisition(_meta(bits_stored=14, imager_pixel_spacing=(0.21, 0.19), pixel_spacing=(0.1, 0.1)))
    assert pitch.below and "210 µm pixel pitch" in pitch.message()  # the detector's pitch, not the calibrated one
    assert pitch.reasons == ("210 µm pixel pitch (at most 200 µm is required)",)


def test_unknown_values_are_said_not_guessed() -> None:
    check = check_acquisition(_meta(bits_stored=12))
    assert not check.below and "no pixel spacing" in check.message()
    both = check_acquisition(_meta(bits_stored=8))
    assert both.below and both.unknown == ("the file gives no pixel spacing",)
