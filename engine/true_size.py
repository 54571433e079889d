"""Physical scale for a B reader: which pixel spacing a radiograph's size in mm comes from, how many millimetres
one screen pixel covers, the "true size" zoom, distances in mm and the opacity-size gauge.

Pure arithmetic on ``ImageMeta`` and numbers (no Qt): the viewer measures the screen, this module does the maths.

The spacing choice (DICOM PS3.3 C.8.11.7, "Pixel Spacing" vs "Imager Pixel Spacing"): Pixel Spacing that differs
from Imager Pixel Spacing was calibrated by the modality (at the patient) and is used as it is; otherwise the
Imager Pixel Spacing (at the detector) is divided by the Estimated Radiographic Magnification Factor when the
file gives one, so distances are at the patient; without a factor it stays at the detector, and the label says
so. A file with neither tag has no physical scale: no true size, no millimetres.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from engine.io.image import ImageMeta

# The ILO small-opacity sizes a gauge shows: p up to 1.5 mm, q 1.5-3 mm, r 3-10 mm (diameters on the film).
GAUGE_DIAMETERS_MM: dict[str, float] = {"p": 1.5, "q": 3.0, "r": 10.0}
NO_SPACING = "This file gives no pixel spacing: no true size, and distances are in image pixels."


@dataclass(frozen=True)
class PhysicalSpacing:
    """Millimetres per image pixel, down a column (row_mm) and along a row (column_mm), and where they came from."""

    row_mm: float
    column_mm: float
    source: str  # e.g. "Imager Pixel Spacing ÷ magnification 1.10 (at the patient)"

    def describe(self) -> str:
        size = f"{self.column_mm:.3f} mm" if math.isclose(self.row_mm, self.column_mm) \
            else f"{self.row_mm:.3f} × {self.column_mm:.3f} mm"
        return f"{size} a pixel — {self.source}"


def physical_spacing(meta: ImageMeta) -> PhysicalSpacing | None:
    """The spacing distances and true size use (see the module docstring); None when the file gives none."""
    imager, calibrated = meta.imager_pixel_spacing, meta.pixel_spacing
    if calibrated is not None and (imager is None or not _same(calibrated, imager)):
        where = "Pixel Spacing (calibrated by the modality)" if imager is not None else "Pixel Spacing"
        if meta.kind != "dicom":
            where = "the file's pixel spacing"
        return PhysicalSpacing(calibrated[0], calibrated[1], where)
    if imager is None:
        return None
    factor = meta.magnification_factor
    if factor is not None and factor > 0 and not math.isclose(factor, 1.0):
        return PhysicalSpacing(imager[0] / factor, imager[1] / factor,
                               f"Imager Pixel Spacing ÷ magnification {factor:.2f} (at the patient)")
    return PhysicalSpacing(imager[0], imager[1], "Imager Pixel Spacing (at the detector; no magnification factor)")


def acquisition_pitch_mm(meta: ImageMeta) -> float | None:
    """The detector's pixel pitch (the larger of the two), which the digital-reading rule limits; None: unknown."""
    spacing = meta.imager_pixel_spacing or meta.pixel_spacing
    return None if spacing is None else max(spacing)


def mm_per_screen_pixel(monitor_width_mm: float, screen_width_px: int) -> float:
    """Millimetres one (logical) screen pixel covers on a monitor whose visible width is ``monitor_width_mm``."""
    if not monitor_width_mm > 0 or screen_width_px <= 0:
        raise ValueError(f"a monitor width ({monitor_width_mm} mm) and a screen width ({screen_width_px} px) "
                         "must both be positive")
    return monitor_width_mm / screen_width_px


def monitor_width_from_bar(bar_px: int, measured_mm: float, screen_width_px: int) -> float:
    """The monitor's visible width in mm, from a bar of ``bar_px`` screen pixels measured as ``measured_mm``."""
    if bar_px <= 0 or not measured_mm > 0:
        raise ValueError("the bar's length on screen and its measured length must both be positive")
    return measured_mm / bar_px * screen_width_px


def true_size_scale(spacing: PhysicalSpacing, mm_per_px: float) -> tuple[float, float]:
    """(x, y) screen pixels per image pixel that show the image at its physical size."""
    return spacing.column_mm / mm_per_px, spacing.row_mm / mm_per_px


def distance(start: tuple[float, float], end: tuple[float, float], spacing: PhysicalSpacing | None) -> float:
    """The distance between two (x, y) image points: in mm with a spacing, else in image pixels."""
    dx, dy = end[0] - start[0], end[1] - start[1]
    if spacing is None:
        return math.hypot(dx, dy)
    return math.hypot(dx * spacing.column_mm, dy * spacing.row_mm)


def distance_label(start: tuple[float, float], end: tuple[float, float], spacing: PhysicalSpacing | None) -> str:
    """'23.4 mm', or '168 px (no pixel spacing)'."""
    value = distance(start, end, spacing)
    return f"{value:.1f} mm" if spacing is not None else f"{value:.0f} px (no pixel spacing)"


def gauge_radii_px(spacing: PhysicalSpacing) -> dict[str, tuple[float, float]]:
    """Each gauge circle's (x, y) radius in image pixels: an ellipse where pixels are not square."""
    return {name: (mm / 2 / spacing.column_mm, mm / 2 / spacing.row_mm) for name, mm in GAUGE_DIAMETERS_MM.items()}


def _same(a: tuple[float, float], b: tuple[float, float]) -> bool:
    return all(math.isclose(x, y, rel_tol=1e-4) for x, y in zip(a, b, strict=True))
