"""Outlines for the DICOM objects: a mask's contours as closed polylines, the crop box as a rectangle.

Coordinates are DICOM image coordinates (PS3.3 C.10.5.1.2 and C.18.6.1.2): (column, row) in pixels with the top-
left corner of the top-left pixel at (0, 0), so a pixel's centre is at +0.5. Contours follow the mask's boundary at
half a pixel out (the 0.5 level between the mask's pixel centres) and are simplified to within ``tolerance`` pixels
(Douglas-Peucker), so a lung outline is a few hundred points, not thousands.
"""

from __future__ import annotations

import numpy as np

Box = tuple[int, int, int, int]  # x0, y0, x1, y1 (x1/y1 exclusive), original pixel coordinates


def mask_polylines(mask: np.ndarray, *, tolerance: float = 1.5, min_points: int = 4,
                   min_area_px: float = 64.0) -> list[np.ndarray]:
    """The outer contours of ``mask`` (H, W) as closed polylines, each (N, 2) float32 (column, row), first point
    repeated last; largest first. Specks under ``min_area_px`` and holes are left out (they are not outlines a
    reader wants drawn over a lung)."""
    import contourpy

    mask = np.asarray(mask, bool)
    if not mask.any():
        return []
    padded = np.pad(mask, 1).astype(np.float32)  # so contours at the image border close
    generator = contourpy.contour_generator(z=padded, line_type=contourpy.LineType.Separate)
    lines = []
    for line in generator.lines(0.5):
        points = np.asarray(line, np.float64) - 1.0 + 0.5  # undo the pad; pixel centres are at +0.5
        area = _signed_area(points)
        if abs(area) < min_area_px or not _encloses_mask(points, mask):
            continue
        simplified = simplify(points, tolerance)
        if len(simplified) >= min_points:
            lines.append((abs(area), simplified))
    lines.sort(key=lambda pair: -pair[0])
    return [line.astype(np.float32) for _, line in lines]


def box_polyline(box: Box) -> np.ndarray:
    """The crop rectangle's outline (closed, 5 points) around its pixels."""
    x0, y0, x1, y1 = (float(v) for v in box)
    return np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]], np.float32)


def simplify(points: np.ndarray, tolerance: float) -> np.ndarray:
    """Douglas-Peucker on a closed polyline (first point == last): the points within ``tolerance`` of the shape."""
    closed = np.allclose(points[0], points[-1])
    body = points[:-1] if closed else points
    if len(body) < 4:
        return points
    # Split a closed ring at its two farthest-apart points so each half is an open chain.
    far = int(np.argmax(((body - body[0]) ** 2).sum(axis=1)))
    first = _douglas_peucker(np.vstack([body[:far + 1]]), tolerance)
    second = _douglas_peucker(np.vstack([body[far:], body[:1]]), tolerance)
    return np.vstack([first[:-1], second])


def _douglas_peucker(chain: np.ndarray, tolerance: float) -> np.ndarray:
    keep = np.zeros(len(chain), bool)
    keep[0] = keep[-1] = True
    stack = [(0, len(chain) - 1)]
    while stack:
        start, end = stack.pop()
        if end - start < 2:
            continue
        a, b = chain[start], chain[end]
        segment = chain[start + 1:end]
        direction = b - a
        length = float(np.hypot(*direction))
        if length == 0:
            distances = np.hypot(*(segment - a).T)
        else:
            distances = np.abs(direction[0] * (segment[:, 1] - a[1]) - direction[1] * (segment[:, 0] - a[0])) / length
        index = int(np.argmax(distances))
        if distances[index] > tolerance:
            middle = start + 1 + index
            keep[middle] = True
            stack += [(start, middle), (middle, end)]
    return chain[keep]


def _signed_area(points: np.ndarray) -> float:
    x, y = points[:, 0], points[:, 1]
    return 0.5 * float(np.dot(x[:-1], y[1:]) - np.dot(x[1:], y[:-1]))


def _encloses_mask(points: np.ndarray, mask: np.ndarray) -> bool:
    """An outer contour has mask pixels just inside it; a hole's contour has background there. Decided by the
    pixel next to the contour's topmost point (the pixel below it is inside an outer contour)."""
    top = points[int(np.argmin(points[:, 1]))]
    row = int(np.floor(top[1] + 0.5))  # the first row below the topmost boundary point
    col = int(np.clip(np.floor(top[0]), 0, mask.shape[1] - 1))
    return bool(mask[np.clip(row, 0, mask.shape[0] - 1), col])
