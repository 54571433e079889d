"""Studies -> series -> images from a folder tree (header-only scan in a worker), with thumbnails;
skipped files are listed with their reasons and flagged images are marked."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image
from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QIcon, QPixmap
from PySide6.QtWidgets import QTreeWidget, QTreeWidgetItem, QVBoxLayout, QWidget

from engine.errors import PneumoError
from engine.ingest import load_image
from engine.study_scan import ScanResult, scan_folder
from viewer.reading_view import to_qimage_grey
from viewer.workers import Worker, start

PATH_ROLE = Qt.ItemDataRole.UserRole
THUMB = 64


def _thumbnail(path: Path) -> np.ndarray | None:
    try:
        image = load_image(path).display
    except PneumoError:
        return None
    picture = Image.fromarray(image)
    picture.thumbnail((THUMB, THUMB))
    return np.asarray(picture)


class StudyBrowser(QWidget):
    image_selected = Signal(Path)
    scanned = Signal(object)

    def __init__(self) -> None:
        super().__init__()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.tree = QTreeWidget()
        self.tree.setHeaderLabels(["Study / series / image", "Info"])
        self.tree.setIconSize(QSize(THUMB, THUMB))
        self.tree.itemActivated.connect(self._activated)
        self.tree.itemClicked.connect(self._activated)
        layout.addWidget(self.tree)
        self.paths: list[Path] = []
        self._items: dict[Path, QTreeWidgetItem] = {}
        self._workers: list[Worker] = []

    def open_folder(self, folder: Path) -> Worker:
        self.tree.clear()
        self.tree.addTopLevelItem(QTreeWidgetItem([f"Scanning {folder.name}…", ""]))
        worker = Worker(scan_folder, folder)
        worker.signals.finished.connect(self._show)
        self._workers.append(worker)
        return start(worker)

    def show_single(self, path: Path) -> None:
        self.tree.clear()
        self.paths = [path]
        item = QTreeWidgetItem([path.name, ""])
        item.setData(0, PATH_ROLE, str(path))
        self.tree.addTopLevelItem(item)
        self._items = {path: item}
        self.tree.setCurrentItem(item)

    def _show(self, result: ScanResult) -> None:
        self.tree.clear()
        self.paths, self._items = [], {}
        for study in result.studies.values():
            study_item = QTreeWidgetItem([study.description or "Study", f"{study.image_count} image(s)"])
            self.tree.addTopLevelItem(study_item)
            for series in study.series.values():
                series_item = QTreeWidgetItem([series.description, series.modality or ""])
                study_item.addChild(series_item)
                for meta in series.images:
                    info = "; ".join(meta.flags) if meta.flags else (meta.view or "")
                    item = QTreeWidgetItem([meta.path.name, info])
                    item.setData(0, PATH_ROLE, str(meta.path))
                    if meta.flags:
                        item.setForeground(1, Qt.GlobalColor.darkYellow)
                        item.setToolTip(0, "Flagged: " + "; ".join(meta.flags))
                    series_item.addChild(item)
                    self.paths.append(meta.path)
                    self._items[meta.path] = item
            study_item.setExpanded(True)
            for index in range(study_item.childCount()):
                study_item.child(index).setExpanded(True)
        if result.skipped:
            skipped = QTreeWidgetItem([f"Skipped ({len(result.skipped)})", "not radiographs or unreadable"])
            self.tree.addTopLevelItem(skipped)
            for entry in result.skipped:
                child = QTreeWidgetItem([entry.path.name, entry.reason])
                child.setToolTip(1, entry.reason)
                skipped.addChild(child)
        self.tree.resizeColumnToContents(0)
        self.scanned.emit(result)
        worker = Worker(self._thumbnails, list(self.paths))
        worker.signals.progress.connect(self._set_thumbnail)
        self._workers.append(worker)
        start(worker)

    @staticmethod
    def _thumbnails(paths: list[Path]):  # noqa: ANN205 - a generator the worker drains
        for path in paths:
            yield path, _thumbnail(path)

    def _set_thumbnail(self, value: tuple[Path, np.ndarray | None]) -> None:
        path, thumb = value
        item = self._items.get(path)
        if item is not None and thumb is not None:
            item.setIcon(0, QIcon(QPixmap.fromImage(to_qimage_grey(thumb))))

    def _activated(self, item: QTreeWidgetItem) -> None:
        path = item.data(0, PATH_ROLE)
        if path:
            self.image_selected.emit(Path(path))

    def step(self, offset: int, current: Path | None) -> Path | None:
        """The next/previous image in study order (keyboard navigation)."""
        if not self.paths:
            return None
        index = self.paths.index(current) + offset if current in self.paths else 0
        index = max(0, min(len(self.paths) - 1, index))
        path = self.paths[index]
        self.tree.setCurrentItem(self._items[path])
        return path
