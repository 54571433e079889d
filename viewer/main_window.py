"""The main window (reading view and panels arrive with the reading-window issue)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QImage, QKeySequence, QPixmap
from PySide6.QtWidgets import QFileDialog, QLabel, QMainWindow, QMessageBox

from engine.errors import PneumoError
from engine.ingest import load_image


class MainWindow(QMainWindow):
    def __init__(self) -> None:
        super().__init__()
        self.setWindowTitle("PneumoLLM Viewer — research software, not for diagnostic use")
        self.resize(1200, 800)
        self._label = QLabel("Open a radiograph (File ▸ Open, Ctrl+O)")
        self._label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.setCentralWidget(self._label)
        open_action = QAction("&Open…", self, shortcut=QKeySequence.StandardKey.Open)
        open_action.triggered.connect(self._choose_file)
        self.menuBar().addMenu("&File").addAction(open_action)

    def _choose_file(self) -> None:
        name, _ = QFileDialog.getOpenFileName(self, "Open radiograph")
        if name:
            self.open_path(Path(name))

    def open_path(self, path: Path) -> None:
        try:
            image = load_image(path)
        except PneumoError as exc:
            QMessageBox.warning(self, "Cannot open", exc.one_line())
            return
        data = np.ascontiguousarray(image.display)
        qimage = QImage(data.data, data.shape[1], data.shape[0], data.shape[1], QImage.Format.Format_Grayscale8)
        self._label.setPixmap(QPixmap.fromImage(qimage.copy()).scaled(
            self._label.size(), Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.SmoothTransformation))
