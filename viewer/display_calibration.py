"""The one-time display calibration for true size: the monitor's visible width in mm, typed from its data sheet or
worked out from a bar drawn on screen that the reader measures with a ruler (``engine.true_size`` does the sums)."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QPainter
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFormLayout,
    QLabel,
    QWidget,
)

from engine.true_size import monitor_width_from_bar

BAR_PX = 400  # logical pixels; about 10 cm on a common 24-inch monitor


class Bar(QWidget):
    """A white bar exactly ``BAR_PX`` screen pixels long, with end ticks, to measure with a ruler."""

    def __init__(self) -> None:
        super().__init__()
        self.setFixedSize(BAR_PX + 20, 36)

    def paintEvent(self, event) -> None:
        painter = QPainter(self)
        painter.fillRect(self.rect(), QColor(20, 20, 20))
        painter.fillRect(10, 14, BAR_PX, 8, QColor(255, 255, 255))
        painter.fillRect(10, 4, 1, 28, QColor(255, 255, 255))
        painter.fillRect(10 + BAR_PX - 1, 4, 1, 28, QColor(255, 255, 255))


class CalibrationDialog(QDialog):
    """Edits the monitor's visible width (mm); ``width_mm`` is the answer (None: not calibrated)."""

    def __init__(self, width_mm: float | None, screen_width_px: int, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Calibrate display for true size")
        self.screen_width_px = screen_width_px
        form = QFormLayout(self)
        intro = QLabel(f"This screen is {screen_width_px} pixels wide. Type the visible width of its picture in mm "
                       "(from the monitor's data sheet, or measured edge to edge), or measure the bar below.")
        intro.setWordWrap(True)
        form.addRow(intro)
        self.width = QDoubleSpinBox()
        self.width.setRange(0.0, 3000.0)
        self.width.setDecimals(1)
        self.width.setSuffix(" mm")
        self.width.setSpecialValueText("not calibrated")
        self.width.setValue(width_mm or 0.0)
        form.addRow("Visible width of the screen", self.width)
        form.addRow(Bar())
        self.bar = QDoubleSpinBox()
        self.bar.setRange(0.0, 1000.0)
        self.bar.setDecimals(1)
        self.bar.setSuffix(" mm")
        self.bar.setSpecialValueText("—")
        self.bar.valueChanged.connect(self._bar_measured)
        form.addRow("The bar measures", self.bar)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        form.addRow(buttons)
        self.setWindowModality(Qt.WindowModality.WindowModal)

    def _bar_measured(self, measured_mm: float) -> None:
        if measured_mm > 0:
            self.width.setValue(monitor_width_from_bar(BAR_PX, measured_mm, self.screen_width_px))

    @property
    def width_mm(self) -> float | None:
        return self.width.value() or None
