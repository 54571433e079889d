"""The ILO standard radiograph beside the study (NIOSH B reader rules: side by side, the standard never altered).

``StandardView`` shows a standard's pixels as the file stores them for display (its own VOI LUT or window, else its
full range) and offers zoom and pan only: no window/level, no inversion, no filter, whatever is done to the study.
``StandardPane`` adds the choice of standard (the form's profusion and shape by default), its identity and the
zoom/pan synchronisation with the study view. Layout and display only; the index is ``engine.ilo.standards``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PySide6.QtCore import QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QBrush, QColor, QFont, QMouseEvent, QPainter, QPixmap, QTransform, QWheelEvent
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QGraphicsPixmapItem,
    QGraphicsScene,
    QGraphicsView,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from engine.ilo.standards import StandardImage, default_standard
from engine.io import LoadedImage
from engine.true_size import physical_spacing
from viewer.error_dialog import message_for
from viewer.helper_process import load_image_in_helper
from viewer.reading_view import ReadingView, to_qimage_grey
from viewer.workers import Worker, WorkerSet

UNALTERED = "As stored: never windowed, inverted or filtered"


class StandardView(QGraphicsView):
    """One standard image, zoom (wheel) and pan (left-drag) only."""

    view_changed = Signal()

    def __init__(self) -> None:
        super().__init__()
        self.setScene(QGraphicsScene(self))
        self.setBackgroundBrush(QBrush(QColor(12, 12, 12)))
        self.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)  # resampling for the zoom, nothing else
        self.setTransformationAnchor(QGraphicsView.ViewportAnchor.AnchorUnderMouse)
        self.setViewportUpdateMode(QGraphicsView.ViewportUpdateMode.FullViewportUpdate)
        self.setMinimumSize(240, 240)
        self._pixmap = QGraphicsPixmapItem()
        self._pixmap.setTransformationMode(Qt.TransformationMode.SmoothTransformation)
        self.scene().addItem(self._pixmap)
        self.image: LoadedImage | None = None
        self.standard: StandardImage | None = None
        self.displayed: np.ndarray | None = None  # exactly the file's display pixels (tests compare them)
        self.auto_fit = True
        self._pan: QPointF | None = None
        for bar in (self.horizontalScrollBar(), self.verticalScrollBar()):
            bar.valueChanged.connect(self.view_changed)

    def set_standard(self, standard: StandardImage, image: LoadedImage) -> None:
        self.standard, self.image = standard, image
        self.displayed = image.display  # the file's own rendering; nothing of the study's display applies here
        self._pixmap.setPixmap(QPixmap.fromImage(to_qimage_grey(self.displayed)))
        self.scene().setSceneRect(QRectF(0, 0, self.displayed.shape[1], self.displayed.shape[0]))
        self.fit()

    def fit(self) -> None:
        self.auto_fit = True
        if self.image is not None:
            self.fitInView(self._pixmap, Qt.AspectRatioMode.KeepAspectRatio)
        self.view_changed.emit()

    def zoom(self, factor: float) -> None:
        self.auto_fit = False
        self.scale(factor, factor)
        self.view_changed.emit()

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        if self.auto_fit:
            self.fit()

    def wheelEvent(self, event: QWheelEvent) -> None:
        if self.image is not None and event.angleDelta().y():
            self.zoom(1.15 if event.angleDelta().y() > 0 else 1 / 1.15)

    def mouseDoubleClickEvent(self, event: QMouseEvent) -> None:
        self.fit()

    def mousePressEvent(self, event: QMouseEvent) -> None:
        if event.button() == Qt.MouseButton.LeftButton:  # right-drag is window/level on the study: not here
            self._pan = event.position()
            self.setCursor(Qt.CursorShape.ClosedHandCursor)

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        if self._pan is not None:
            delta = event.position() - self._pan
            self.auto_fit = False
            self.horizontalScrollBar().setValue(self.horizontalScrollBar().value() - int(delta.x()))
            self.verticalScrollBar().setValue(self.verticalScrollBar().value() - int(delta.y()))
            self._pan = event.position()

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        self._pan = None
        self.unsetCursor()

    def contextMenuEvent(self, event) -> None:
        event.accept()

    def keyPressEvent(self, event) -> None:
        event.ignore()  # no key (I invert, 1-4 presets) acts on the standard: the window's shortcuts are the study's

    def corner_lines(self) -> list[str]:
        if self.standard is None:
            return []
        standard = self.standard
        note = [standard.note] if standard.note else []  # e.g. a stand-in says so, on its own line
        return [f"ILO standard {standard.shows} ({standard.path.name})", *note, UNALTERED,
                f"Zoom {self.transform().m11() * 100:.0f} %"]

    def drawForeground(self, painter: QPainter, rect: QRectF) -> None:
        """The standard's identity, top left, in screen coordinates (bold: it must never pass for the study)."""
        lines = self.corner_lines()
        if not lines:
            return
        painter.save()
        painter.resetTransform()
        font = QFont()
        font.setPointSize(10)
        font.setBold(True)
        painter.setFont(font)
        step = painter.fontMetrics().height() + 1
        y = 4 + painter.fontMetrics().ascent()
        for index, line in enumerate(lines):
            painter.setPen(QColor(0, 0, 0))
            painter.drawText(9, y + 1, line)
            painter.setPen(QColor(120, 200, 255) if index == 0 else QColor(255, 170, 60) if index < len(lines) - 2
                           else QColor(235, 235, 160))
            painter.drawText(8, y, line)
            y += step
        painter.restore()


def fit_scale(view: QGraphicsView, rect: QRectF) -> float:
    """The scale at which ``rect`` fits the view's viewport (what ``fitInView`` would choose, near enough)."""
    if rect.isEmpty():
        return 1.0
    viewport = view.viewport().rect()
    return min(viewport.width() / rect.width(), viewport.height() / rect.height())


class StandardPane(QWidget):
    """The standard beside the study: which standard, its identity, and zoom/pan following the study's."""

    close_requested = Signal()
    problem = Signal(str)  # a standard that could not be opened, for the status bar
    shown = Signal()  # a standard is on screen (it is decoded off the GUI thread)

    def __init__(self, study: ReadingView) -> None:
        super().__init__()
        self.study = study
        self.standards: list[StandardImage] = []
        self._cache: dict[Path, LoadedImage] = {}
        self._token = 0  # which request the shown standard answers
        self.workers = WorkerSet(self)
        self._syncing = False
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        bar = QHBoxLayout()
        bar.addWidget(QLabel("Standard:"))
        self.choice = QComboBox()
        self.choice.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.choice.setMinimumContentsLength(6)  # the pane may be narrow: half of the images area
        bar.addWidget(self.choice, 1)
        self.sync = QCheckBox("Sync")
        self.sync.setChecked(True)
        self.sync.setToolTip("Synchronised zoom and pan: the standard follows the study (at the same scale in mm when "
                             "both have a pixel spacing); its grey levels never follow the study's window")
        bar.addWidget(self.sync)
        close = QPushButton("Close")
        close.clicked.connect(self.close_requested)
        bar.addWidget(close)
        layout.addLayout(bar)
        self.view = StandardView()
        layout.addWidget(self.view, 1)
        self.choice.currentIndexChanged.connect(self._chosen)
        study.view_changed.connect(self._follow_study)
        self.view.view_changed.connect(self._lead_study)
        self.sync.toggled.connect(lambda on: on and self._follow_study())

    def set_standards(self, standards: list[StandardImage]) -> None:
        self.standards = list(standards)
        self.choice.blockSignals(True)
        self.choice.clear()
        for standard in self.standards:
            self.choice.addItem(f"{standard.shows} — {standard.path.name}", str(standard.path))
        self.choice.blockSignals(False)

    def choose_for(self, profusion: str | None, primary: str = "", secondary: str = "") -> StandardImage | None:
        """Show the standard nearest the form's entries (``default_standard``); it is on screen at ``shown``."""
        chosen = default_standard(self.standards, profusion, primary, secondary)
        if chosen is not None:
            self.show_standard(chosen)
        return chosen

    def show_standard(self, standard: StandardImage) -> None:
        index = self.choice.findData(str(standard.path))
        if index >= 0 and index != self.choice.currentIndex():
            self.choice.setCurrentIndex(index)  # -> _chosen
        else:
            self._open(standard)

    @property
    def current(self) -> StandardImage | None:
        return self.view.standard

    def _chosen(self, index: int) -> None:
        if 0 <= index < len(self.standards):
            self._open(self.standards[index])

    def _open(self, standard: StandardImage) -> None:
        """Show ``standard``: at once when it was opened lately, else decoded in the helper process (as the study
        is: a large DICOM must not freeze the window); a late answer for a standard the reader has left is dropped."""
        self._token += 1
        cached = self._cache.get(standard.path)
        if cached is not None:
            self._show(standard, cached)
            return
        token = self._token
        worker = Worker(load_image_in_helper, standard.path)
        worker.signals.finished.connect(lambda image: token == self._token and self._show(standard, image))
        worker.signals.failed.connect(
            lambda exc: token == self._token and self.problem.emit(f"{standard.path.name}: {message_for(exc)}"))
        self.workers.start(worker)

    def _show(self, standard: StandardImage, image: LoadedImage) -> None:
        self._cache = {standard.path: image, **dict(list(self._cache.items())[:3])}  # a few, for going back
        self.view.set_standard(standard, image)
        self._follow_study()
        self.shown.emit()

    # -- synchronised zoom and pan ----------------------------------------------------------------------
    def _relative_scale(self, source: QGraphicsView, source_image: LoadedImage | None, target: QGraphicsView,
                        target_image: LoadedImage | None) -> float:
        """The target's scale for the source's: the same mm per screen pixel when both have a spacing, else the
        same multiple of each one's fitted size."""
        scale = source.transform().m11()
        a = physical_spacing(source_image.meta) if source_image is not None else None
        b = physical_spacing(target_image.meta) if target_image is not None else None
        if a is not None and b is not None:
            return scale * b.column_mm / a.column_mm
        return scale / fit_scale(source, source.sceneRect()) * fit_scale(target, target.sceneRect())

    def _copy_view(self, source: QGraphicsView, source_image: LoadedImage | None, target: QGraphicsView,
                   target_image: LoadedImage | None) -> None:
        if self._syncing or not self.sync.isChecked() or source_image is None or target_image is None:
            return
        if not self.isVisible():
            return
        self._syncing = True
        try:
            scale = self._relative_scale(source, source_image, target, target_image)
            source_rect, target_rect = source.sceneRect(), target.sceneRect()
            centre = source.mapToScene(source.viewport().rect().center())
            fx = (centre.x() - source_rect.left()) / max(source_rect.width(), 1)
            fy = (centre.y() - source_rect.top()) / max(source_rect.height(), 1)
            target.setTransform(QTransform.fromScale(scale, scale))
            if isinstance(target, ReadingView):
                target.scale_note = ""  # led by the standard: no longer "true size" unless the reader asks again
            target.centerOn(target_rect.left() + fx * target_rect.width(),
                            target_rect.top() + fy * target_rect.height())
            target.viewport().update()
        finally:
            self._syncing = False

    def _follow_study(self) -> None:
        self._copy_view(self.study, self.study.image, self.view, self.view.image)
        if self.sync.isChecked() and not self._syncing:
            self.view.auto_fit = self.study.auto_fit

    def _lead_study(self) -> None:
        if self._syncing or not self.sync.isChecked():
            return
        if self.view.auto_fit:  # the standard fitted itself (opened, resized): the study's view leads
            self._follow_study()
            return
        self.study.auto_fit = self.view.auto_fit
        self._copy_view(self.view, self.view.image, self.study, self.study.image)
