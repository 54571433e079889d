"""The overlay dock: one check box and one opacity slider per overlay drawn over the radiograph."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QCheckBox, QGridLayout, QSlider, QWidget

from viewer.reading_view import ReadingView

# (overlay name in ReadingView, label, View-menu key)
OVERLAY_LABELS = (("contour", "Lung contour", "C"), ("box", "Crop rectangle", "B"),
                  ("saliency", "Saliency (Grad-CAM)", "S"))


class OverlayControls(QWidget):
    """Shows or hides each overlay of ``view`` and sets its opacity; the View menu mirrors the check boxes."""

    def __init__(self, view: ReadingView) -> None:
        super().__init__()
        grid = QGridLayout(self)
        grid.setContentsMargins(6, 4, 6, 4)
        self.checks: dict[str, QCheckBox] = {}
        self.sliders: dict[str, QSlider] = {}
        for row, (name, label, _key) in enumerate(OVERLAY_LABELS):
            check = QCheckBox(label)
            check.setChecked(view.overlay_visible[name])
            check.toggled.connect(lambda on, n=name: view.set_overlay(n, visible=on))
            slider = QSlider(Qt.Orientation.Horizontal)
            slider.setRange(0, 100)
            slider.setValue(int(view.overlay_opacity[name] * 100))
            slider.setToolTip(f"{label} opacity")
            slider.valueChanged.connect(lambda v, n=name: view.set_overlay(n, opacity=v / 100))
            grid.addWidget(check, row, 0)
            grid.addWidget(slider, row, 1)
            self.checks[name] = check
            self.sliders[name] = slider
        grid.setColumnStretch(1, 1)
        grid.setRowStretch(len(OVERLAY_LABELS), 1)

    def mirror(self, name: str, action: QAction) -> None:
        """Keep the checkable ``action`` (a View-menu entry) and the ``name`` box in step, both ways."""
        check = self.checks[name]
        action.setChecked(check.isChecked())
        action.toggled.connect(check.setChecked)  # toggled(bool) always carries the state
        check.toggled.connect(action.setChecked)
