"""Physical scale: which spacing a radiograph's millimetres come from, and the true-size and ruler maths."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from engine.io.image import ImageMeta
from engine.io.load import load_image
from engine.true_size import (
    GAUGE_DIAMETERS_MM,
    distance,
    distance_label,
    gauge_radii_px,
    mm_per_screen_pixel,
    monitor_width_from_bar,
    physical_spacing,
    true_size_scale,
)
from tests.dicom_factory import make_dicom


def _meta(**kwargs) -> ImageMeta:
    return ImageMeta(path=Path("x.dcm"), kind=kwargs.pop("kind", "dicom"), rows=100, columns=100, **kwargs)


def test_imager_spacing_is_divided_by_the_magnification_factor() -> None:
    spacing = physical_spacing(_meta(pixel_spacing=(0.2, 0.2), imager_pixel_spacing=(0.2, 0.2),
                                     magnification_factor=1.25))
    assert spacing.row_mm == pytest.approx(0.16) and spacing.column_mm == pytest.approx(0.16)
    assert "magnification 1.25" in spacing.source and "patient" in spacing.source


def test_imager_spacing_without_a_factor_is_at_the_detector() -> None:
    spacing = physical_spacing(_meta(pixel_spacing=(0.15, 0.15), imager_pixel_spacing=(0.15, 0.15)))
    assert spacing.column_mm == pytest.approx(0.15) and "detector" in spacing.source


def test_calibrated_pixel_spacing_wins_over_the_imager_spacing() -> None:
    spacing = physical_spacing(_meta(pixel_spacing=(0.13, 0.13), imager_pixel_spacing=(0.15, 0.15),
                                     magnification_factor=1.1))
    assert spacing.column_mm == pytest.approx(0.13) and "calibrated" in spacing.source


def test_no_spacing_no_physical_scale() -> None:
    assert physical_spacing(_meta()) is None
    assert physical_spacing(_meta(kind="raster")) is None
    assert distance_label((0, 0), (30, 40), None) == "50 px (no pixel spacing)"


def test_dicom_header_carries_the_tags_apart(tmp_path: Path) -> None:
    path = make_dicom(tmp_path / "a.dcm", np.zeros((64, 64), np.uint16), modality="DX", ImagerPixelSpacing=[0.2, 0.1],
                      EstimatedRadiographicMagnificationFactor="1.1")
    meta = load_image(path).meta
    assert meta.imager_pixel_spacing == (0.2, 0.1) and meta.magnification_factor == pytest.approx(1.1)
    assert meta.pixel_spacing == (0.2, 0.1)  # the existing field (and ``inspect --json``) is unchanged
    spacing = physical_spacing(meta)
    assert (spacing.row_mm, spacing.column_mm) == pytest.approx((0.2 / 1.1, 0.1 / 1.1))


def test_screen_and_true_size_maths() -> None:
    mm = mm_per_screen_pixel(520.0, 1920)
    assert mm == pytest.approx(520 / 1920)
    spacing = physical_spacing(_meta(pixel_spacing=(0.1, 0.2)))
    sx, sy = true_size_scale(spacing, mm)
    # One image pixel 0.2 mm wide covers 0.2 / (520/1920) screen pixels: 100 image columns span 20 mm on screen.
    assert 100 * sx * mm == pytest.approx(20.0) and 100 * sy * mm == pytest.approx(10.0)
    assert monitor_width_from_bar(500, 135.0, 1920) == pytest.approx(135 / 500 * 1920)
    with pytest.raises(ValueError, match="positive"):
        mm_per_screen_pixel(0, 1920)
    with pytest.raises(ValueError, match="positive"):
        monitor_width_from_bar(500, -1, 1920)


def test_distances_and_the_gauge_follow_the_spacing() -> None:
    spacing = physical_spacing(_meta(pixel_spacing=(0.1, 0.2)))
    assert distance((0, 0), (10, 0), spacing) == pytest.approx(2.0)  # 10 columns x 0.2 mm
    assert distance((0, 0), (0, 10), spacing) == pytest.approx(1.0)  # 10 rows x 0.1 mm
    assert distance_label((0, 0), (30, 40), spacing) == f"{np.hypot(6.0, 4.0):.1f} mm"
    radii = gauge_radii_px(spacing)
    assert set(radii) == {"p", "q", "r"} and GAUGE_DIAMETERS_MM == {"p": 1.5, "q": 3.0, "r": 10.0}
    assert radii["r"] == pytest.approx((10 / 2 / 0.2, 10 / 2 / 0.1))
