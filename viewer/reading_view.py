"""The 2-D reading view (Weasis/RadiAnt conventions): fit, zoom (wheel), pan (left-drag), window/level
(right-drag), invert, presets, pixel read-out, and toggleable overlays (lung contour, crop rectangle,
Grad-CAM saliency) with opacity. Layout and display only: it gets decoded images and arrays, never a model."""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from PySide6.QtCore import QPointF, QRectF, Qt, Signal
from PySide6.QtGui import (
    QBrush,
    QColor,
    QFont,
    QFontMetricsF,
    QImage,
    QKeyEvent,
    QMouseEvent,
    QPainter,
    QPen,
    QPixmap,
    QTransform,
    QWheelEvent,
    qRgba,
)
from PySide6.QtWidgets import (
    QGraphicsItem,
    QGraphicsPixmapItem,
    QGraphicsRectItem,
    QGraphicsScene,
    QGraphicsSimpleTextItem,
    QGraphicsView,
)

from engine.io import LoadedImage
from engine.io.identity import PatientIdentity
from engine.io.image import window_uint8
from engine.lung_crop import lung_outline

PRESETS = ("default", "full range", "lung", "bone")
OVERLAYS = ("contour", "box", "saliency")
CONTOUR_RGB = (60, 230, 110)
BOX_COLOUR = QColor(250, 210, 40)
FALLBACK_COLOUR = QColor(240, 80, 80)
OUTLINE_OFFSETS = tuple((dx, dy) for dx in (-1, 0, 1) for dy in (-1, 0, 1) if dx or dy)  # the text's dark rim


def to_qimage_grey(array: np.ndarray) -> QImage:
    data = np.ascontiguousarray(array, dtype=np.uint8)
    image = QImage(data.data, data.shape[1], data.shape[0], data.shape[1], QImage.Format.Format_Grayscale8)
    return image.copy()  # own the pixels: the numpy buffer may go away


def to_qimage_rgba(array: np.ndarray) -> QImage:
    data = np.ascontiguousarray(array, dtype=np.uint8)
    image = QImage(data.data, data.shape[1], data.shape[0], data.shape[1] * 4, QImage.Format.Format_RGBA8888)
    return image.copy()


def screen_picture(grey: np.ndarray) -> QImage:
    """An 8-bit image as the 32-bit picture a pixmap holds natively. Worker side: QImage may be used off the
    GUI thread, and converting a 3000-pixel film costs the GUI thread tens of milliseconds."""
    return to_qimage_grey(grey).convertToFormat(QImage.Format.Format_RGB32)


def contour_picture(outline: np.ndarray) -> QImage:
    """The lung contour as a premultiplied ARGB picture (worker side, like ``screen_picture``)."""
    data = np.ascontiguousarray(outline, dtype=np.uint8)
    image = QImage(data.data, data.shape[1], data.shape[0], data.shape[1], QImage.Format.Format_Indexed8)
    image.setColorTable([0, qRgba(*CONTOUR_RGB, 255)])
    return image.convertToFormat(QImage.Format.Format_ARGB32_Premultiplied)  # a copy: ``data`` may go


def saliency_picture(cam: np.ndarray) -> QImage:
    """Grad-CAM in the inferno colours (worker side, like ``screen_picture``). The map is smooth (upsampled from
    the encoder's 7x7 grid), so it is coloured at most 1024 pixels a side and stretched over the image."""
    cam = np.asarray(cam, np.float32)
    step = max(1, int(np.ceil(max(cam.shape) / 1024)))
    index = (np.clip(cam[::step, ::step], 0.0, 1.0) * 255).astype(np.uint8)
    return to_qimage_rgba(_saliency_lut()[index])


@lru_cache(maxsize=1)
def _saliency_lut() -> np.ndarray:
    """(256, 4) uint8 RGBA: inferno colours, transparent below 0.25 and opaque from 0.8."""
    from matplotlib import colormaps

    lut = (colormaps["inferno"](np.arange(256)) * 255).astype(np.uint8)
    lut[:, 3] = (np.clip((np.arange(256) / 255 - 0.25) / 0.55, 0, 1) * 255).astype(np.uint8)
    return lut


def first_view(image: LoadedImage) -> np.ndarray:
    """The 8-bit image at the file's own window (worker side: windowing a 3000-pixel film takes a while)."""
    window = image.default_window
    return image.display if window is None else window_uint8(image.pixels, *window)


def preset_window(image: LoadedImage, name: str) -> tuple[float, float] | None:
    """(center, width) in ``image.pixels`` units; None = show the file's own display image.

    Percentiles come from a subsample (about 256x256), so a preset costs milliseconds on a 3000-pixel film.
    Pixels are "denser = brighter": aerated lung is the darker part of the range, bone the brighter.
    """
    if name == "default":
        return image.default_window
    pixels = image.pixels
    values = pixels[:: max(1, pixels.shape[0] // 256), :: max(1, pixels.shape[1] // 256)]
    lo, p1, p5, p40, p50, p75, p99, hi = (float(v) for v in np.percentile(values, [0, 1, 5, 40, 50, 75, 99, 100]))
    if name == "full range":
        return (lo + hi) / 2, max(hi - lo, 1e-3)
    if name == "lung":  # a wide window over the lower part of the range, where aerated lung lives
        return (p1 + p50) / 2, max((p75 - p1) * 1.1, 1e-3)
    if name == "bone":  # a narrower window over the bright end
        return (p40 + p99) / 2, max((p99 - p40) * 1.2, 1e-3)
    raise ValueError(f"unknown window preset {name!r}; valid: {', '.join(PRESETS)}")


class ReadingView(QGraphicsView):
    pixel_info = Signal(str)  # "x 12  y 34  value 567.0  ..." for the status bar
    window_changed = Signal(float, float)  # center, width
    step_requested = Signal(int)  # arrow keys: +1 next image, -1 previous
    view_changed = Signal()  # zoom or pan (a side-by-side standard follows it)
    image_changed = Signal()  # a new image, or none (measurements belong to one image)

    def __init__(self) -> None:
        super().__init__()
        self.setScene(QGraphicsScene(self))
        self.setBackgroundBrush(QBrush(QColor(12, 12, 12)))
        self.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
        self.setTransformationAnchor(QGraphicsView.ViewportAnchor.AnchorUnderMouse)
        self.setViewportUpdateMode(QGraphicsView.ViewportUpdateMode.FullViewportUpdate)  # corner text
        self.setDragMode(QGraphicsView.DragMode.NoDrag)
        self.setMouseTracking(True)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setMinimumSize(320, 320)
        self.image: LoadedImage | None = None
        self.window: tuple[float, float] | None = None
        self.preset = "default"
        self.inverted = False
        self._pixmap = QGraphicsPixmapItem()
        self._pixmap.setTransformationMode(Qt.TransformationMode.SmoothTransformation)
        self._contour = QGraphicsPixmapItem()
        self._saliency = QGraphicsPixmapItem()
        # Each repaint rescaled the full-size film and overlays (~20 ms; the panel beside it repaints the window
        # whenever a result arrives): cached at screen resolution, a repaint is a copy until the zoom changes.
        for item in (self._pixmap, self._contour, self._saliency):
            item.setCacheMode(QGraphicsItem.CacheMode.DeviceCoordinateCache)
        self._box = QGraphicsRectItem()
        self._box_label = QGraphicsSimpleTextItem()
        self._box_label.setFlag(QGraphicsItem.GraphicsItemFlag.ItemIgnoresTransformations)  # readable at any zoom
        bold = QFont()
        bold.setBold(True)
        self._box_label.setFont(bold)
        for z, item in enumerate((self._pixmap, self._saliency, self._contour, self._box, self._box_label)):
            item.setZValue(z)
            self.scene().addItem(item)
        self._box.setVisible(False)
        self._box_label.setVisible(False)
        self.fallback = False
        self._drag: tuple[str, QPointF, tuple[float, float] | None] | None = None
        self.displayed: np.ndarray | None = None  # the 8-bit image currently shown (tests read it)
        self.auto_fit = True  # keep fitting on resize until the user zooms or pans
        self.overlay_opacity = {"contour": 0.9, "box": 0.9, "saliency": 0.5}
        self.overlay_visible = {"contour": True, "box": True, "saliency": False}
        self._first_view: np.ndarray | None = None
        self._first_picture: QImage | None = None
        self._pointer: QPointF | None = None  # last mouse position over the viewport
        self.identity: PatientIdentity | None = None
        self.identity_hidden = False  # de-identified display (teaching, screenshots)
        self.scale_note = ""  # e.g. "true size": said beside the zoom until the zoom changes
        for bar in (self.horizontalScrollBar(), self.verticalScrollBar()):
            bar.valueChanged.connect(self.view_changed)

    # -- image ------------------------------------------------------------------------------------------
    def set_image(self, image: LoadedImage, first_view: np.ndarray | None = None,
                  picture: QImage | None = None) -> None:
        """Show ``image`` at its own window; ``first_view`` (``first_view(image)``) and its ``picture``
        (``screen_picture``), both made in a worker, save the GUI thread the full-size windowing and conversion of
        a large film."""
        self.image = image
        self._first_view = first_view
        self._first_picture = picture if first_view is not None else None
        self.window = image.default_window
        self.preset = "default"
        self.inverted = False
        self.clear_overlays()
        self._render()
        self.fit()
        self.image_changed.emit()

    def set_identity(self, identity: PatientIdentity | None, *, hidden: bool = False) -> None:
        """The patient header drawn in the top-right corner (None: the file carries no identity)."""
        self.identity, self.identity_hidden = identity, hidden
        self.viewport().update()

    def identity_lines(self) -> list[str]:
        """What the top-right corner says about whose image this is."""
        if self.identity_hidden:
            return ["De-identified display"]
        if self.identity is None or self.identity.empty:
            return ["No patient identity in this file"]
        return self.identity.lines()

    def clear(self) -> None:
        """No image (the file could not be opened)."""
        self.image, self.window, self.displayed, self._first_view, self._first_picture = None, None, None, None, None
        self.identity = None
        self._pixmap.setPixmap(QPixmap())
        self.clear_overlays()
        self.viewport().update()
        self.image_changed.emit()

    def _render(self) -> None:
        if self.image is None:
            return
        first = self._first_view is not None and self.window == self.image.default_window
        if first:
            shown = self._first_view
        else:
            shown = self.image.display if self.window is None else window_uint8(self.image.pixels, *self.window)
        if self.inverted:
            shown = 255 - shown
        self.displayed = shown
        ready = self._first_picture if first and not self.inverted else None
        self._pixmap.setPixmap(QPixmap.fromImage(ready if ready is not None else to_qimage_grey(shown)))
        self.scene().setSceneRect(QRectF(0, 0, shown.shape[1], shown.shape[0]))
        self.viewport().update()
        if self._pointer is not None:  # the read-out names the window in force, also after a reset or preset
            self._report_pixel(self._pointer)

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
        self.preset = name

    def set_inverted(self, inverted: bool) -> None:
        self.inverted = inverted
        self._render()

    def reset(self) -> None:
        """The file's own window, no inversion, fitted."""
        if self.image is not None:
            self.window = self.image.default_window
            self.preset = "default"
            self.inverted = False
            self._render()
            self.fit()

    def fit(self) -> None:
        self.auto_fit = True
        self.scale_note = ""
        if self.image is not None:
            self.fitInView(self._pixmap, Qt.AspectRatioMode.KeepAspectRatio)
            self._place_box_label()
        self.viewport().update()
        self.view_changed.emit()

    def zoom(self, factor: float) -> None:
        self.auto_fit = False
        self.scale_note = ""
        self.scale(factor, factor)
        self._place_box_label()
        self.viewport().update()
        self.view_changed.emit()

    def set_scale(self, sx: float, sy: float, note: str = "") -> None:
        """An exact zoom (screen pixels per image pixel; e.g. true size), said in the corner as ``note``."""
        self.auto_fit = False
        center = self.mapToScene(self.viewport().rect().center())
        self.setTransform(QTransform.fromScale(sx, sy))
        self.centerOn(center)
        self.scale_note = note
        self._place_box_label()
        self.viewport().update()
        self.view_changed.emit()

    @property
    def zoom_factor(self) -> float:
        return float(self.transform().m11())

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        if self.auto_fit:
            self.fit()

    def showEvent(self, event) -> None:
        super().showEvent(event)
        if self.auto_fit:
            self.fit()

    def corner_lines(self) -> list[str]:
        """The top-left corner: window/level, zoom, size, modality and view."""
        if self.image is None:
            return []
        window = "W/L: file display" if self.window is None else f"W {self.window[1]:.0f}  L {self.window[0]:.0f}"
        zoom = (f"Zoom {self.zoom_factor * 100:.0f} %" + (f"  · {self.scale_note}" if self.scale_note else "")
                + ("  · inverted" if self.inverted else ""))
        meta = self.image.meta
        return [f"{window}  ({self.preset})", zoom,
                f"{meta.columns}×{meta.rows}" + (f"  {meta.modality}" if meta.modality else "")
                + (f"  {meta.view}" if meta.view else "")]

    def drawForeground(self, painter: QPainter, rect: QRectF) -> None:
        """Corner annotations in screen coordinates: W/L and zoom top left, the patient top right (PACS style)."""
        if self.image is None:
            return
        painter.save()
        painter.resetTransform()
        for (font, lines, right), rect in zip(self._corner_blocks(), self.corner_rects(), strict=True):
            painter.setFont(font)
            _draw_lines(painter, lines, right_edge=right, top=rect.top())
        painter.restore()

    def _corner_blocks(self) -> list[tuple[QFont, list[str], int | None]]:
        small, bold = QFont(), QFont()
        small.setPointSize(9)
        bold.setPointSize(10)
        bold.setBold(True)
        return [(small, self.corner_lines(), None), (bold, self.identity_lines(), self.viewport().width() - 8)]

    def corner_rects(self) -> list[QRectF]:
        """Viewport rectangles the corner texts occupy (tests check that nothing is drawn under them).

        In a narrow view the patient block would run into the W/L block: it moves down below it instead."""
        if self.image is None:
            return []
        rects: list[QRectF] = []
        for font, lines, right in self._corner_blocks():
            metrics = QFontMetricsF(font)
            width = max(metrics.horizontalAdvance(line) for line in lines) + 2
            height = 4 + len(lines) * (metrics.height() + 1) + 2
            left = 8 if right is None else right - width
            rect = QRectF(left, 0, width, height)
            if rects and rect.intersects(rects[0]):
                rect.moveTop(rects[0].bottom() + 2)
            rects.append(rect)
        return rects

    # -- overlays ---------------------------------------------------------------------------------------
    def clear_overlays(self) -> None:
        self._contour.setPixmap(QPixmap())
        self._saliency.setPixmap(QPixmap())
        self._box.setRect(QRectF())
        self._box.setVisible(False)
        self._box_label.setVisible(False)
        self.fallback = False

    def set_lung_overlay(self, mask: np.ndarray, box: tuple[int, int, int, int], fallback: bool,
                         outline: np.ndarray | None = None, picture: QImage | None = None) -> None:
        """The lung contour and the crop rectangle (dashed and labelled when it is the centred fallback).

        ``outline`` (``lung_outline``) and its ``picture`` (``contour_picture``), made in a worker, save the GUI
        thread the full-size morphology and colouring.
        """
        if picture is None:
            picture = contour_picture(lung_outline(mask) if outline is None else outline)
        self._contour.setPixmap(QPixmap.fromImage(picture))
        x0, y0, x1, y1 = box
        self._box.setRect(QRectF(x0, y0, x1 - x0, y1 - y0))
        colour = FALLBACK_COLOUR if fallback else BOX_COLOUR
        pen = QPen(colour)
        pen.setCosmetic(True)  # the same on-screen width at every zoom
        pen.setWidthF(2.5 if fallback else 2.0)
        pen.setStyle(Qt.PenStyle.DashLine if fallback else Qt.PenStyle.SolidLine)
        self._box.setPen(pen)
        self.fallback = fallback
        self._box_label.setText("fallback crop — lungs not found" if fallback else "model crop")
        self._box_label.setBrush(QBrush(colour))
        outline_pen = QPen(QColor(0, 0, 0, 230))
        outline_pen.setWidthF(1.0)  # a dark rim round the yellow letters: readable over bright lung too
        self._box_label.setPen(outline_pen)
        # Inside the box at its lower edge: the top corners of the view hold the W/L and patient text.
        self._box_label.setPos(x0 + 4, y1)
        self._place_box_label()
        self._apply_overlay_state()

    def _place_box_label(self) -> None:
        """Lift the label (which ignores zoom) by its own on-screen height so it sits just inside the box."""
        height = self._box_label.boundingRect().height() + 4
        scale = max(self.zoom_factor, 1e-6)
        rect = self._box.rect()
        self._box_label.setPos(rect.left() + 4 / scale, rect.bottom() - height / scale)

    def set_saliency(self, cam: np.ndarray, picture: QImage | None = None) -> None:
        """A (H, W) map in [0, 1] (Grad-CAM), drawn with the inferno colormap, transparent where low;
        ``picture`` (``saliency_picture(cam)``, made in a worker) saves the GUI thread the colouring."""
        picture = saliency_picture(cam) if picture is None else picture
        self._saliency.setPixmap(QPixmap.fromImage(picture))
        rows, columns = np.shape(cam)
        self._saliency.setTransform(QTransform.fromScale(columns / picture.width(), rows / picture.height()))
        self._apply_overlay_state()

    def set_overlay(self, name: str, *, visible: bool | None = None, opacity: float | None = None) -> None:
        if name not in OVERLAYS:
            raise ValueError(f"unknown overlay {name!r}; valid: {', '.join(OVERLAYS)}")
        if visible is not None:
            self.overlay_visible[name] = visible
        if opacity is not None:
            self.overlay_opacity[name] = opacity
        self._apply_overlay_state()

    def has_overlay(self, name: str) -> bool:
        if name == "box":
            return not self._box.rect().isEmpty()
        return not (self._contour if name == "contour" else self._saliency).pixmap().isNull()

    def overlay_shown(self, name: str) -> bool:
        item = {"contour": self._contour, "box": self._box, "saliency": self._saliency}[name]
        return item.isVisible()

    def _apply_overlay_state(self) -> None:
        for name, item in (("contour", self._contour), ("saliency", self._saliency), ("box", self._box)):
            item.setOpacity(self.overlay_opacity[name])
            item.setVisible(self.overlay_visible[name] and self.has_overlay(name))
        self._box_label.setOpacity(max(0.6, self.overlay_opacity["box"]))
        self._box_label.setVisible(self._box.isVisible())

    # -- mouse and keys ---------------------------------------------------------------------------------
    def wheelEvent(self, event: QWheelEvent) -> None:
        delta = event.angleDelta().y()
        if self.image is not None and delta:
            self.zoom(1.15 if delta > 0 else 1 / 1.15)

    def mouseDoubleClickEvent(self, event: QMouseEvent) -> None:
        if event.button() == Qt.MouseButton.LeftButton:
            self.fit()

    def mousePressEvent(self, event: QMouseEvent) -> None:
        if self.image is None:
            return
        if event.button() == Qt.MouseButton.RightButton:
            window = self.window or preset_window(self.image, "full range")
            self._drag = ("window", event.position(), window)
            self.setCursor(Qt.CursorShape.SizeAllCursor)
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
                step = max(hi - lo, 1e-3) / 500.0
                # Radiology convention: drag right = wider window, drag down = higher level (darker image).
                self.preset = "manual"
                self.set_window(window[0] + delta.y() * step, window[1] + delta.x() * step)
        self._report_pixel(event.position())

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        self._drag = None
        self.unsetCursor()

    def contextMenuEvent(self, event) -> None:
        event.accept()  # right-drag is window/level, never a context menu

    def keyPressEvent(self, event: QKeyEvent) -> None:
        key = event.key()
        if key in (Qt.Key.Key_Right, Qt.Key.Key_Down):
            self.step_requested.emit(1)
        elif key in (Qt.Key.Key_Left, Qt.Key.Key_Up):
            self.step_requested.emit(-1)
        else:
            super().keyPressEvent(event)

    def leaveEvent(self, event) -> None:
        super().leaveEvent(event)
        self._pointer = None

    def _report_pixel(self, position: QPointF) -> None:
        self._pointer = QPointF(position)
        if self.image is None:
            return
        point = self.mapToScene(position.toPoint())
        x, y = int(np.floor(point.x())), int(np.floor(point.y()))
        rows, cols = self.image.pixels.shape
        if 0 <= x < cols and 0 <= y < rows:
            value = float(self.image.pixels[y, x])
            window = "" if self.window is None else f"   W {self.window[1]:.0f} L {self.window[0]:.0f}"
            spacing = self.image.meta.pixel_spacing  # mm (row, column): where on the film, as a ruler says it
            where = f" ({x * spacing[1]:.1f} mm, {y * spacing[0]:.1f} mm)" if spacing else ""
            self.pixel_info.emit(f"x {x}  y {y}{where}  value {value:.1f}{window}")
        else:
            self.pixel_info.emit("")


def _draw_lines(painter: QPainter, lines: list[str], *, right_edge: int | None, top: float = 0.0) -> None:
    """Outlined corner text (dark on every side, so it reads over bright film as over dark): left-aligned at x=8,
    or right-aligned to ``right_edge``; the block starts ``top`` pixels down."""
    metrics = painter.fontMetrics()
    step = metrics.height() + 1
    y = round(top) + 4 + metrics.ascent()
    for line in lines:
        x = 8 if right_edge is None else right_edge - metrics.horizontalAdvance(line)
        painter.setPen(QColor(0, 0, 0))
        for dx, dy in OUTLINE_OFFSETS:
            painter.drawText(x + dx, y + dy, line)
        painter.setPen(QColor(235, 235, 160) if right_edge is None else QColor(255, 255, 255))
        painter.drawText(x, y, line)
        y += step
