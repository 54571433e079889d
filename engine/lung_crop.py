"""Where the lungs are and the model's crop: the segmentation's result, torch-free (results cross processes).

``engine.segment`` produces a ``LungCrop``; exports, the viewer and the result type read it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from engine.flags import Flag, codes, messages

CROP_SIZE = 224  # the model's input side (the paper's); PreprocessConfig.input_size defaults to it


@dataclass(frozen=True)
class LungCrop:
    """Where the lungs are, the model's 224x224 input, and whether to trust it."""

    mask: np.ndarray = field(repr=False)  # (H, W) bool, original image size
    box: tuple[int, int, int, int]  # x0, y0, x1, y1 (x1/y1 exclusive), original pixel coordinates
    crop: np.ndarray = field(repr=False)  # uint8 (224, 224), the model input
    lung_fraction: float  # lung pixels / image pixels
    lung_count: int  # lung components found before keeping the two largest
    flags: tuple[Flag, ...]  # quality problems; empty means the segmentation looks right
    fallback: bool  # True: the box is the centred fallback crop, not the lungs
    timings_ms: dict[str, float] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.flags

    def to_json(self) -> dict[str, object]:
        x0, y0, x1, y1 = self.box
        return {
            "lung_box": {"x": x0, "y": y0, "width": x1 - x0, "height": y1 - y0},
            "lung_area_fraction": round(self.lung_fraction, 4),
            "lungs_found": self.lung_count,
            "quality_ok": self.ok,
            "quality_flags": messages(self.flags),
            "quality_flag_codes": codes(self.flags),
            "fallback_crop": self.fallback,
            "timings_ms": {k: round(v, 1) for k, v in self.timings_ms.items()},
        }


def mask_outline(mask: np.ndarray, width: int = 2) -> np.ndarray:
    """The mask's boundary pixels (for drawing the contour over the image)."""
    from scipy import ndimage  # lazily: the result type is read by processes that never draw

    return mask & ~ndimage.binary_erosion(mask, iterations=width)


def lung_outline(mask: np.ndarray) -> np.ndarray:
    """The lung mask's contour for the screen: a line about 1/350 of the image wide (a full-size morphology, so
    worker side)."""
    return mask_outline(mask, width=max(1, max(mask.shape) // 350))
