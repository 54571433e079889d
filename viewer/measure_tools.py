"""Physical scale on the reading view: "true size" zoom, a distance tool drawn as an overlay, and the ILO
opacity-size gauge (p 1.5 mm, q 3 mm, r 10 mm circles) the reader drags over the film.

The maths (which spacing, mm per screen pixel, distances, radii) is ``engine.true_size``; this module draws and
handles the mouse. It watches the view's viewport (an event filter), so the view keeps its own pan and
window/level: only a left-drag in ruler mode, or on the gauge, is taken.
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QBrush, QColor, QFont, QPen
from PySide6.QtWidgets import (
    QGraphicsEllipseItem,
    QGraphicsItem,
    QGraphicsLineItem,
    QGraphicsRectItem,
    QGraphicsSimpleTextItem,
)

from engine.true_size import (
    GAUGE_DIAMETERS_MM,
    NO_SPACING,
    PhysicalSpacing,
    distance_label,
    gauge_radii_px,
    mm_per_screen_pixel,
    physical_spacing,
    true_size_scale,
)
from viewer.reading_view import ReadingView

RULER_COLOUR = QColor(80, 220, 255)
GAUGE_COLOUR = QColor(255, 200, 60)
NOT_CALIBRATED = "Calibrate the display first (B reader → Calibrate display…): the monitor's visible width in mm."


def _label(text: str, colour: QColor, parent: QGraphicsItem | None = None) -> QGraphicsSimpleTextItem:
    """Text that stays readable at any zoom, outlined so it shows on dark and bright film alike."""
    item = QGraphicsSimpleTextItem(text, parent)
    item.setFlag(QGraphicsItem.GraphicsItemFlag.ItemIgnoresTransformations)
    font = QFont()
    font.setBold(True)
    item.setFont(font)
    item.setBrush(QBrush(colour))
    outline = QPen(QColor(0, 0, 0, 220))
    outline.setWidthF(0.7)
    item.setPen(outline)
    return item


def _pen(colour: QColor, width: float = 2.0) -> QPen:
    pen = QPen(colour)
    pen.setCosmetic(True)  # the same on-screen width at every zoom
    pen.setWidthF(width)
    return pen


class Ruler:
    """One measured distance: a line between two image points and its length (mm, or pixels without spacing)."""

    def __init__(self, view: ReadingView, start: QPointF, spacing: PhysicalSpacing | None) -> None:
        self.spacing = spacing
        self.line = QGraphicsLineItem(start.x(), start.y(), start.x(), start.y())
        self.line.setPen(_pen(RULER_COLOUR))
        self.line.setZValue(20)
        self.label = _label("", RULER_COLOUR)
        self.label.setZValue(21)
        view.scene().addItem(self.line)
        view.scene().addItem(self.label)
        self.set_end(start)

    def set_end(self, end: QPointF) -> None:
        line = self.line.line()
        self.line.setLine(line.x1(), line.y1(), end.x(), end.y())
        self.label.setText(self.text)
        self.label.setPos(end)

    @property
    def text(self) -> str:
        line = self.line.line()
        return distance_label((line.x1(), line.y1()), (line.x2(), line.y2()), self.spacing)

    def remove(self) -> None:
        for item in (self.line, self.label):
            if item.scene() is not None:
                item.scene().removeItem(item)


class OpacityGauge(QGraphicsRectItem):
    """Three circles of the ILO small-opacity sizes at the film's scale, side by side, dragged as one."""

    GAP_MM = 4.0

    def __init__(self) -> None:
        super().__init__()
        self.setPen(QPen(Qt.PenStyle.NoPen))
        self.setBrush(QBrush(QColor(0, 0, 0, 70)))  # a faint plate: where to grab it
        self.setZValue(30)
        self.circles: dict[str, QGraphicsEllipseItem] = {}
        self.labels: dict[str, QGraphicsSimpleTextItem] = {}
        for name in GAUGE_DIAMETERS_MM:
            self.circles[name] = QGraphicsEllipseItem(self)
            self.circles[name].setPen(_pen(GAUGE_COLOUR, 1.5))
            self.labels[name] = _label(name, GAUGE_COLOUR, self)  # the letter under its circle
        # The sizes in one line beside the circles: at true size a p circle is a few screen pixels wide.
        self.legend = _label("  ".join(f"{name} {GAUGE_DIAMETERS_MM[name]:g} mm" for name in ("r", "q", "p")),
                             GAUGE_COLOUR, self)

    def set_spacing(self, spacing: PhysicalSpacing) -> None:
        """Lay the circles out at this film's scale (image pixels), r, q, p from the left."""
        radii = gauge_radii_px(spacing)
        gap = self.GAP_MM / spacing.column_mm
        tallest = max(ry for _rx, ry in radii.values())
        x = gap
        for name in ("r", "q", "p"):
            rx, ry = radii[name]
            self.circles[name].setRect(QRectF(x, gap + tallest - ry, 2 * rx, 2 * ry))
            self.labels[name].setPos(x + rx, gap + tallest + ry)
            x += 2 * rx + gap
        self.legend.setPos(x, gap)
        self.setRect(QRectF(0, 0, x, 2 * tallest + 2.5 * gap))

    def diameters_px(self) -> dict[str, float]:
        """Each circle's width in image pixels (tests check it against the spacing)."""
        return {name: circle.rect().width() for name, circle in self.circles.items()}


class MeasureTools(QObject):
    """True size, rulers and the gauge on one ``ReadingView``; ``message`` carries what the reader should know."""

    message = Signal(str)

    def __init__(self, view: ReadingView) -> None:
        super().__init__(view)
        self.view = view
        self.rulers: list[Ruler] = []
        self.ruler_mode = False
        self.gauge = OpacityGauge()
        self.gauge.setVisible(False)
        view.scene().addItem(self.gauge)
        self._drag: tuple[str, QPointF] | None = None
        self._active: Ruler | None = None
        view.viewport().installEventFilter(self)
        view.image_changed.connect(self._image_changed)

    @property
    def spacing(self) -> PhysicalSpacing | None:
        return None if self.view.image is None else physical_spacing(self.view.image.meta)

    # -- true size --------------------------------------------------------------------------------------
    def true_size(self, monitor_width_mm: float | None, screen_width_px: int | None = None) -> bool:
        """Zoom to physical size; False (and a message saying why) without a calibration or a pixel spacing."""
        if self.view.image is None:
            return False
        spacing = self.spacing
        if spacing is None:
            self.message.emit(NO_SPACING)
            return False
        if not monitor_width_mm:
            self.message.emit(NOT_CALIBRATED)
            return False
        width = screen_width_px or self.view.screen().geometry().width()
        sx, sy = true_size_scale(spacing, mm_per_screen_pixel(monitor_width_mm, width))
        self.view.set_scale(sx, sy, "true size")
        self.message.emit(f"True size: {spacing.describe()}; display {monitor_width_mm:g} mm over {width} px.")
        return True

    # -- rulers -----------------------------------------------------------------------------------------
    def set_ruler_mode(self, on: bool) -> None:
        self.ruler_mode = on
        if on:
            self.message.emit("Distance tool: left-drag on the image to measure"
                              + ("" if self.spacing is not None else " (in pixels: this file gives no spacing)") + ".")

    def clear_rulers(self) -> None:
        for ruler in self.rulers:
            ruler.remove()
        self.rulers = []

    def measure(self, start: QPointF, end: QPointF) -> Ruler:
        """A ruler from ``start`` to ``end`` (image coordinates), as a drag draws it."""
        ruler = Ruler(self.view, start, self.spacing)
        ruler.set_end(end)
        self.rulers.append(ruler)
        return ruler

    # -- the gauge --------------------------------------------------------------------------------------
    def show_gauge(self, on: bool) -> bool:
        """Show the gauge over the middle of what is on screen; False (and why) without a pixel spacing."""
        spacing = self.spacing
        if on and spacing is None:
            self.gauge.setVisible(False)
            self.message.emit("The opacity-size gauge needs millimetres: " + NO_SPACING)
            return False
        if on:
            self.gauge.set_spacing(spacing)
            centre = self.view.mapToScene(self.view.viewport().rect().center())
            self.gauge.setPos(centre - self.gauge.rect().center())
        self.gauge.setVisible(on)
        return on

    def _image_changed(self) -> None:
        self.clear_rulers()
        if self.gauge.isVisible():
            self.show_gauge(self.spacing is not None)

    # -- the mouse --------------------------------------------------------------------------------------
    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        kind = event.type()
        if kind not in (QEvent.Type.MouseButtonPress, QEvent.Type.MouseMove, QEvent.Type.MouseButtonRelease):
            return False
        if self.view.image is None:
            return False
        point = self.view.mapToScene(event.position().toPoint())
        if kind == QEvent.Type.MouseButtonPress and event.button() == Qt.MouseButton.LeftButton:
            if self.gauge.isVisible() and self.gauge.sceneBoundingRect().contains(point):
                self._drag = ("gauge", point - self.gauge.pos())
                return True
            if self.ruler_mode:
                self._active = Ruler(self.view, point, self.spacing)
                self.rulers.append(self._active)
                self._drag = ("ruler", point)
                return True
            return False
        if self._drag is None:
            return False
        if kind == QEvent.Type.MouseMove:
            what, anchor = self._drag
            if what == "gauge":
                self.gauge.setPos(point - anchor)
            elif self._active is not None:
                self._active.set_end(point)
            return True
        if self._active is not None:
            self._active.set_end(point)
            self.message.emit(f"Distance: {self._active.text}")
        self._drag, self._active = None, None
        return True
