"""The 2-D reading view: fit, zoom (wheel), pan (left-drag), window/level (right-drag), invert, presets,
pixel read-out, and toggleable overlays (lung contour, crop rectangle, saliency) with opacity."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QBrush, QColor, QImage, QMouseEvent, QPainter, QPen, QPixmap, QWheelEvent
from PySide6.QtWidgets import QGraphicsPixmapItem, QGraphicsRectItem, QGraphicsScene, QGraphicsView

from engine.ingest import LoadedImage, window_uint8
from engine.segment import mask_outline

PRESETS = ("default", "full range", "lung", "bone")


def to_qimage_grey(array: np.ndarray) -> QImage:
    data = np.ascontiguousarray(array, dtype=np.uint8)
    image = QImage(data.data, data.shape[1], data.shape[0], data.shape[1], QImage.Format.Format_Grayscale8)
    return image.copy()  # own the pixels: the numpy buffer may go away


def to_qimage_rgba(array: np.ndarray) -> QImage:
    data = np.ascontiguousarray(array, dtype=np.uint8)
    image = QImage(data.data, data.shape[1], data.shape[0], data.shape[1] * 4, QImage.Format.Format_RGBA8888)
    return image.copy()


def preset_window(image: LoadedImage, name: str) -> tuple[float, float] | None:
    """(center, width) in ``image.pixels`` units; None = show the file's own display image."""
    if name == "default":
        return image.default_window
    values = image.pixels[:: max(1, image.pixels.shape[0] // 256), :: max(1, image.pixels.shape[1] // 256)]
    lo, p20, p50, p98, hi = np.percentile(values, [0, 20, 50, 98, 100])
    if name == "full range":
        return (lo + hi) / 2, max(hi - lo, 1e-3)
    if name == "lung":  # a wide window over the darker part, where aerated lung lives
        return (lo + p50) / 2, max((p50 - lo) * 1.6, 1e-3)
    if name == "bone":  # a narrower window over the bright end
        return (p50 + p98) / 2, max((p98 - p20) * 0.8, 1e-3)
    raise ValueError(name)


class ReadingView(QGraphicsView):
    pixel_info = Signal(str)
    window_changed = Signal(float, float)

    def __init__(self) -> None:
        super().__init__()
        self.setScene(QGraphicsScene(self))
        self.setBackgroundBrush(QBrush(QColor(12, 12, 12)))
        self.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
        self.setTransformationAnchor(QGraphicsView.ViewportAnchor.AnchorUnderMouse)
        self.setDragMode(QGraphicsView.DragMode.NoDrag)
        self.setMouseTracking(True)
        self.image: LoadedImage | None = None
        self.window: tuple[float, float] | None = None
        self.inverted = False
        self._pixmap = QGraphicsPixmapItem()
        self._pixmap.setTransformationMode(Qt.TransformationMode.SmoothTransformation)
        self._contour = QGraphicsPixmapItem()
        self._saliency = QGraphicsPixmapItem()
        self._box = QGraphicsRectItem()
        for z, item in enumerate((self._pixmap, self._saliency, self._contour, self._box)):
            item.setZValue(z)
            self.scene().addItem(item)
        self._box.setVisible(False)
        self._drag: tuple[str, QPointF, tuple[float, float] | None] | None = None
        self.displayed: np.ndarray | None = None  # the 8-bit image currently shown (tests read it)
        self.auto_fit = True  # keep fitting on resize until the user zooms or pans
        self.overlay_opacity = {"contour": 0.9, "box": 0.9, "saliency": 0.45}
        self.overlay_visible = {"contour": True, "box": True, "saliency": False}

    # -- image ------------------------------------------------------------------------------------------
    def set_image(self, image: LoadedImage) -> None:
        self.image = image
        self.window = image.default_window
        self.inverted = False
        self.clear_overlays()
        self._render()
        self.fit()

    def _render(self) -> None:
        if self.image is None:
            return
        shown = self.image.display if self.window is None else window_uint8(self.image.pixels, *self.window)
        if self.inverted:
            shown = 255 - shown
        self.displayed = shown
        self._pixmap.setPixmap(QPixmap.fromImage(to_qimage_grey(shown)))
        self.scene().setSceneRect(QRectF(0, 0, shown.shape[1], shown.shape[0]))

    def set_window(self, center: float, width: float) -> None:
        self.window = (float(center), max(float(width), 1e-3))
        self._render()
        self.window_changed.emit(*self.window)

    def apply_preset(self, name: str) -> None:
        if self.image is None:
            return
        window = preset_window(self.image, name)
        if window is None:
            self.window = None
            self._render()
        else:
            self.set_window(*window)

    def set_inverted(self, inverted: bool) -> None:
        self.inverted = inverted
        self._render()

    def reset(self) -> None:
        if self.image is not None:
            self.window = self.image.default_window
            self.inverted = False
            self._render()
            self.fit()

    def fit(self) -> None:
        self.auto_fit = True
        if self.image is not None:
            self.fitInView(self._pixmap, Qt.AspectRatioMode.KeepAspectRatio)

    def zoom(self, factor: float) -> None:
        self.auto_fit = False
        self.scale(factor, factor)

    def resizeEvent(self, event) -> None:  # noqa: ANN001
        super().resizeEvent(event)
        if self.auto_fit:
            self.fit()

    def showEvent(self, event) -> None:  # noqa: ANN001
        super().showEvent(event)
        if self.auto_fit:
            self.fit()

    # -- overlays ---------------------------------------------------------------------------------------
    def clear_overlays(self) -> None:
        self._contour.setPixmap(QPixmap())
        self._saliency.setPixmap(QPixmap())
        self._box.setVisible(False)

    def set_lung_overlay(self, mask: np.ndarray, box: tuple[int, int, int, int], fallback: bool) -> None:
        outline = mask_outline(mask, width=max(1, max(mask.shape) // 350))
        rgba = np.zeros((*mask.shape, 4), np.uint8)
        rgba[outline] = (60, 230, 110, 255)
        self._contour.setPixmap(QPixmap.fromImage(to_qimage_rgba(rgba)))
        x0, y0, x1, y1 = box
        self._box.setRect(QRectF(x0, y0, x1 - x0, y1 - y0))
        pen = QPen(QColor(230, 70, 70) if fallback else QColor(250, 210, 40))
        pen.setWidthF(max(2.0, max(mask.shape) / 400))
        pen.setStyle(Qt.PenStyle.DashLine if fallback else Qt.PenStyle.SolidLine)
        self._box.setPen(pen)
        self._apply_overlay_state()

    def set_saliency(self, cam: np.ndarray) -> None:
        from matplotlib import colormaps

        rgba = (colormaps["inferno"](cam) * 255).astype(np.uint8)
        rgba[..., 3] = (np.clip(cam * 1.5, 0, 1) * 255).astype(np.uint8)  # transparent where the map is low
        self._saliency.setPixmap(QPixmap.fromImage(to_qimage_rgba(rgba)))
        self._apply_overlay_state()

    def set_overlay(self, name: str, *, visible: bool | None = None, opacity: float | None = None) -> None:
        if visible is not None:
            self.overlay_visible[name] = visible
        if opacity is not None:
            self.overlay_opacity[name] = opacity
        self._apply_overlay_state()

    def _apply_overlay_state(self) -> None:
        for name, item in (("contour", self._contour), ("saliency", self._saliency), ("box", self._box)):
            item.setOpacity(self.overlay_opacity[name])
            has_content = not (isinstance(item, QGraphicsPixmapItem) and item.pixmap().isNull())
            if name == "box":
                has_content = not self._box.rect().isEmpty()
            item.setVisible(self.overlay_visible[name] and has_content)

    # -- mouse ------------------------------------------------------------------------------------------
    def wheelEvent(self, event: QWheelEvent) -> None:
        self.zoom(1.15 if event.angleDelta().y() > 0 else 1 / 1.15)

    def mousePressEvent(self, event: QMouseEvent) -> None:
        if self.image is None:
            return
        if event.button() == Qt.MouseButton.RightButton:
            window = self.window or preset_window(self.image, "full range")
            self._drag = ("window", event.position(), window)
        elif event.button() == Qt.MouseButton.LeftButton:
            self._drag = ("pan", event.position(), None)
            self.setCursor(Qt.CursorShape.ClosedHandCursor)

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        if self.image is None:
            return
        if self._drag is not None:
            kind, origin, window = self._drag
            delta = event.position() - origin
            if kind == "pan":
                self.auto_fit = False
                self.horizontalScrollBar().setValue(self.horizontalScrollBar().value() - int(delta.x()))
                self.verticalScrollBar().setValue(self.verticalScrollBar().value() - int(delta.y()))
                self._drag = (kind, event.position(), None)
            elif window is not None:
                lo, hi = self.image.value_range
                step = (hi - lo) / 500.0
                # Radiology convention: horizontal drag = width, vertical drag = level (center).
                self.set_window(window[0] - delta.y() * step, window[1] + delta.x() * step)
        self._report_pixel(event.position())

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        self._drag = None
        self.unsetCursor()

    def _report_pixel(self, position: QPointF) -> None:
        assert self.image is not None
        point = self.mapToScene(position.toPoint())
        x, y = int(point.x()), int(point.y())
        rows, cols = self.image.pixels.shape
        if 0 <= x < cols and 0 <= y < rows:
            value = float(self.image.pixels[y, x])
            window = "" if self.window is None else f"   W {self.window[1]:.0f} L {self.window[0]:.0f}"
            self.pixel_info.emit(f"x {x}  y {y}  value {value:.1f}{window}")
