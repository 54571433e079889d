"""The docks that serve the reading view (Studies, DICOM tags, Overlays): made here, hidden while another tab is
shown, and back as the reader left them when the Reading tab returns - however many other tabs were visited on
the way (from Triage to Worklist the docks are already hidden; that is not how the reader left them)."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDockWidget, QMainWindow, QTabWidget, QWidget


def add_dock(window: QMainWindow, title: str, widget: QWidget, area: Qt.DockWidgetArea) -> QDockWidget:
    """A movable, closable, floatable dock named ``title`` (its object name too, for saved window states)."""
    dock = QDockWidget(title, window)
    dock.setObjectName(title)
    dock.setWidget(widget)
    dock.setFeatures(QDockWidget.DockWidgetFeature.DockWidgetMovable
                     | QDockWidget.DockWidgetFeature.DockWidgetClosable
                     | QDockWidget.DockWidgetFeature.DockWidgetFloatable)
    window.addDockWidget(area, dock)
    return dock


class ReadingDocks:
    """Hides ``docks`` while ``tabs`` shows anything but ``reading``; restores each as it was on leaving it."""

    def __init__(self, tabs: QTabWidget, reading: QWidget, docks: tuple[QDockWidget, ...]) -> None:
        self.tabs, self.reading, self.docks = tabs, reading, docks
        self._left_as: dict[QDockWidget, bool] | None = None  # None while the Reading tab is shown
        tabs.currentChanged.connect(self.tab_changed)

    def tab_changed(self, index: int) -> None:
        if self.tabs.widget(index) is not self.reading:
            if self._left_as is None:  # leaving the reading view; between two other tabs nothing changes
                self._left_as = {dock: not dock.isHidden() for dock in self.docks}  # isHidden: also before show
            for dock in self.docks:
                dock.hide()
        elif self._left_as is not None:
            for dock, shown in self._left_as.items():
                dock.setVisible(shown)
            self._left_as = None
