"""The six ILO lung zones from a lung mask.

The ILO classification divides each lung into upper, middle and lower zones by horizontal lines at one third
and two thirds of the vertical distance from the lung's apex to the dome of its hemidiaphragm. Each lung is
measured on its own, so the two lungs' boundaries need not be level.

From a mask: the apex is the lung's top row. The dome is the highest point of the diaphragm's contour; on a
mask the diaphragm is the lower lung border in the *lateral half* of the lung (the medial lower border of the
left lung is the heart, which would put the "dome" too high), and its highest point there is the dome. The lower
zone continues below the dome into the costophrenic recess, so the three zones tile the lung exactly.

Sides follow the radiological display convention of a frontal film: the patient's right lung is on the image's
left (smaller x).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from engine.errors import SegmentationError
from engine.ilo.codes import ZONES

Box = tuple[int, int, int, int]  # x0, y0, x1, y1 (x1/y1 exclusive), original pixel coordinates


@dataclass(frozen=True)
class Zone:
    name: str  # one of engine.ilo.codes.ZONES
    mask: np.ndarray = field(repr=False)  # (H, W) bool
    box: Box
    area_px: int
    top: int  # first row of the zone
    bottom: int  # first row below the zone


@dataclass(frozen=True)
class LungGeometry:
    """One lung's apex and dome rows, from which its zone boundaries follow."""

    side: str  # "right" or "left" (the patient's)
    apex: int  # top row of the lung
    dome: int  # row of the diaphragm's highest point
    bottom: int  # one past the lung's lowest row (the costophrenic recess)

    @property
    def boundaries(self) -> tuple[int, int]:
        """Rows where the middle and the lower zones start: 1/3 and 2/3 of apex -> dome."""
        height = self.dome - self.apex
        return self.apex + round(height / 3), self.apex + round(2 * height / 3)


@dataclass(frozen=True)
class LungZones:
    """The six zones of a lung mask, in ``ZONES`` order (right upper, middle, lower; left upper, middle, lower)."""

    zones: tuple[Zone, ...]
    lungs: tuple[LungGeometry, LungGeometry]  # right, left
    lung_area_px: int

    def __getitem__(self, name: str) -> Zone:
        for zone in self.zones:
            if zone.name == name:
                return zone
        raise KeyError(f"no zone {name!r}; zones: {', '.join(ZONES)}")

    def label_map(self) -> np.ndarray:
        """(H, W) int8: the zone's index in ``ZONES`` for lung pixels, -1 elsewhere."""
        labels = np.full(self.zones[0].mask.shape, -1, np.int8)
        for index, zone in enumerate(self.zones):
            labels[zone.mask] = index
        return labels

    def to_json(self) -> dict[str, object]:
        return {"lung_area_px": self.lung_area_px,
                "zones": [{"name": z.name, "area_px": z.area_px, "box": box_json(z.box)} for z in self.zones]}


def box_json(box: Box) -> dict[str, int]:
    x0, y0, x1, y1 = box
    return {"x": x0, "y": y0, "width": x1 - x0, "height": y1 - y0}


def split_lungs(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(right lung, left lung) masks. The two largest regions are the lungs; smaller pieces join the lung whose
    centre is nearer in x; a single region (lungs touching) is cut at its widest gap, else at its centre."""
    from scipy import ndimage  # here, not at import: the viewer imports this module before its window shows

    labels, count = ndimage.label(mask)
    if count == 0:
        raise SegmentationError("No lungs in the mask — the zones need a lung segmentation.")
    if count == 1:
        return _cut_single_region(mask)
    sizes = ndimage.sum_labels(mask, labels, index=np.arange(1, count + 1))
    first, second = (int(i) + 1 for i in np.argsort(sizes)[::-1][:2])
    centre_x = {lab: ndimage.center_of_mass(labels == lab)[1] for lab in (first, second)}
    right_label, left_label = sorted((first, second), key=centre_x.get)
    right, left = labels == right_label, labels == left_label
    for lab in range(1, count + 1):
        if lab in (first, second):
            continue
        piece = labels == lab
        x = ndimage.center_of_mass(piece)[1]
        if abs(x - centre_x[right_label]) <= abs(x - centre_x[left_label]):
            right |= piece
        else:
            left |= piece
    return right, left


def _cut_single_region(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    cols = np.flatnonzero(mask.any(axis=0))
    x0, x1 = cols[0], cols[-1] + 1
    # The mediastinum is where the fewest lung pixels are, in the middle half of the mask's width.
    counts = mask[:, x0:x1].sum(axis=0)
    lo, hi = (x1 - x0) // 4, 3 * (x1 - x0) // 4
    cut = x0 + lo + int(np.argmin(counts[lo:hi])) if hi > lo else (x0 + x1) // 2
    right, left = mask.copy(), mask.copy()
    right[:, cut:] = False
    left[:, :cut] = False
    if not right.any() or not left.any():
        raise SegmentationError("Only one lung in the mask — the zones need both lungs (a frontal view).")
    return right, left


def lung_geometry(lung: np.ndarray, side: str) -> LungGeometry:
    """Apex, dome and lowest row of one lung mask (see the module docstring for the dome)."""
    rows = np.flatnonzero(lung.any(axis=1))
    cols = np.flatnonzero(lung.any(axis=0))
    apex, bottom = int(rows[0]), int(rows[-1]) + 1
    x0, x1 = int(cols[0]), int(cols[-1]) + 1
    middle = (x0 + x1) // 2
    lateral = range(x0, middle) if side == "right" else range(middle, x1)  # image left = patient's right
    lowest = [int(np.flatnonzero(lung[:, x])[-1]) + 1 for x in lateral if lung[:, x].any()]
    dome = min(lowest) if lowest else bottom
    dome = max(dome, apex + 3)  # at least one row per zone
    return LungGeometry(side, apex, dome, bottom)


def lung_zones(mask: np.ndarray) -> LungZones:
    """The six ILO zones of a (H, W) lung mask."""
    mask = np.asarray(mask, bool)
    right, left = split_lungs(mask)
    zones: list[Zone] = []
    geometries = []
    for side, lung in (("right", right), ("left", left)):
        geometry = lung_geometry(lung, side)
        geometries.append(geometry)
        first, second = geometry.boundaries
        for level, (top, stop) in zip(("upper", "middle", "lower"),
                                      ((0, first), (first, second), (second, mask.shape[0])), strict=True):
            part = np.zeros_like(lung)
            part[top:stop] = lung[top:stop]
            zones.append(Zone(f"{side}_{level}", part, _box(part), int(part.sum()), max(top, geometry.apex),
                              min(stop, geometry.bottom)))
    return LungZones(tuple(zones), (geometries[0], geometries[1]), int(mask.sum()))


def _box(part: np.ndarray) -> Box:
    if not part.any():
        return 0, 0, 0, 0
    rows = np.flatnonzero(part.any(axis=1))
    cols = np.flatnonzero(part.any(axis=0))
    return int(cols[0]), int(rows[0]), int(cols[-1]) + 1, int(rows[-1]) + 1
