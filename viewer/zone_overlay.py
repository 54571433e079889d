"""The six ILO lung zones drawn over the radiograph: a translucent colour per zone and the zone boundaries.

Kept beside the reading view rather than inside it: one more item in the view's scene, shown on request from the
ILO panel. The RGBA picture is made in the model worker (``zone_picture``), so the GUI thread only uploads it.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtGui import QPixmap
from PySide6.QtWidgets import QGraphicsPixmapItem

from engine.ilo.zones import LungZones
from viewer.reading_view import ReadingView, to_qimage_rgba

# Upper, middle, lower: the same three hues on both sides, so a level reads alike left and right.
LEVEL_RGB = ((80, 170, 255), (120, 220, 120), (250, 170, 60))
FILL_ALPHA = 60
LINE_ALPHA = 230


def zone_picture(zones: LungZones) -> np.ndarray:
    """(H, W, 4) uint8: each zone tinted by its level, its border drawn opaque."""
    labels = zones.label_map()
    rgba = np.zeros((*labels.shape, 4), np.uint8)
    for index in range(len(zones.zones)):
        inside = labels == index
        rgba[inside] = (*LEVEL_RGB[index % 3], FILL_ALPHA)
    # Borders: where the label changes between neighbouring pixels inside the lungs (zone lines and lung edge).
    edge = np.zeros(labels.shape, bool)
    edge[:-1] |= labels[:-1] != labels[1:]
    edge[:, :-1] |= labels[:, :-1] != labels[:, 1:]
    width = max(1, max(labels.shape) // 600)
    for _ in range(width - 1):
        edge[1:] |= edge[:-1]
        edge[:, 1:] |= edge[:, :-1]
    edge &= labels >= 0
    rgba[edge, 3] = LINE_ALPHA
    return rgba


class ZoneOverlay:
    """One pixmap item in ``view``'s scene, above the saliency map and below the lung contour."""

    Z_VALUE = 1.5

    def __init__(self, view: ReadingView) -> None:
        self.item = QGraphicsPixmapItem()
        self.item.setZValue(self.Z_VALUE)
        self.item.setVisible(False)
        view.scene().addItem(self.item)
        self.wanted = False

    def set_picture(self, rgba: np.ndarray | None) -> None:
        self.item.setPixmap(QPixmap() if rgba is None else QPixmap.fromImage(to_qimage_rgba(rgba)))
        self.item.setVisible(self.wanted and self.present)

    def set_visible(self, visible: bool) -> None:
        self.wanted = visible
        self.item.setVisible(visible and self.present)

    @property
    def present(self) -> bool:
        return not self.item.pixmap().isNull()
