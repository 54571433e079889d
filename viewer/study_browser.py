"""Studies -> series -> images from a folder tree (header-only scan in a worker), with thumbnails made in a
worker; skipped files are listed with their reasons and flagged images (lateral, CT, ...) are marked."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QBrush, QColor, QIcon, QPixmap
from PySide6.QtWidgets import QHeaderView, QLabel, QTreeWidget, QTreeWidgetItem, QVBoxLayout, QWidget

from engine.flags import Flag, messages
from viewer.helper_process import iter_thumbnails
from viewer.reading_view import to_qimage_grey
from viewer.workers import Worker, WorkerSet

if TYPE_CHECKING:
    from engine.io.study_scan import ScanResult

PATH_ROLE = Qt.ItemDataRole.UserRole
THUMB = 56
FLAG_COLOUR = QColor(176, 110, 0)


def _thumbnails(paths: list[Path]):
    """Worker side: thumbnails decoded in a helper process (some decoders hold the interpreter lock)."""
    yield from iter_thumbnails(paths, THUMB)


class StudyBrowser(QWidget):
    image_selected = Signal(Path)
    scanned = Signal(object)  # ScanResult
    scan_failed = Signal(object)  # the exception

    def __init__(self) -> None:
        super().__init__()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.summary = QLabel("Open a file or a folder (File menu, or drop it on the window).")
        self.summary.setWordWrap(True)
        self.summary.setContentsMargins(4, 2, 4, 2)
        layout.addWidget(self.summary)
        self.tree = QTreeWidget()
        self.tree.setHeaderLabels(["Study / series / image", "Info"])
        self.tree.setIconSize(QSize(THUMB, THUMB))
        self.tree.setTextElideMode(Qt.TextElideMode.ElideMiddle)
        self.tree.setUniformRowHeights(False)
        header = self.tree.header()  # names take the free width (elided in the middle), info fits its text
        header.setStretchLastSection(False)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        self.tree.itemActivated.connect(self._activated)
        self.tree.itemClicked.connect(self._activated)
        self.tree.currentItemChanged.connect(lambda item, _previous: self._activated(item))
        layout.addWidget(self.tree)
        self.paths: list[Path] = []
        self.skipped: list[tuple[Path, str]] = []
        self._items: dict[Path, QTreeWidgetItem] = {}
        self._scan: Worker | None = None
        self._thumbs: Worker | None = None
        self._workers = WorkerSet(self)
        self._quiet = False  # True while the selection is moved by code, not by the user

    # -- filling ----------------------------------------------------------------------------------------
    def _start(self, worker: Worker) -> Worker:
        return self._workers.start(worker)

    def open_folder(self, folder: Path) -> Worker:
        """Scan ``folder`` in a worker (started here); ``scanned`` (or ``scan_failed``) follows."""
        self._stop_workers()
        self._reset()
        self.summary.setText(f"Scanning {folder.name}…")
        from engine.io.study_scan import scan_folder  # pydicom loads with the first folder, not the window

        worker = Worker(scan_folder, folder)
        worker.signals.finished.connect(lambda result: self._show(result) if worker is self._scan else None)
        worker.signals.failed.connect(lambda exc: self._scan_failed(exc) if worker is self._scan else None)
        self._scan = worker
        return self._start(worker)

    def show_single(self, path: Path) -> None:
        """A file opened on its own: one row, with its thumbnail."""
        self._stop_workers()
        self._reset()
        self.summary.setText(f"One file, from the folder {path.parent.name}/")
        item = self._image_item(path, path.name, "", ())
        self.tree.addTopLevelItem(item)
        self.paths = [path]
        self.select(path)
        self._start_thumbnails()

    def _reset(self) -> None:
        self._quiet = True
        self.tree.clear()
        self._quiet = False
        self.paths, self._items, self.skipped = [], {}, []

    def _stop_workers(self) -> None:
        for worker in (self._scan, self._thumbs):
            if worker is not None:
                worker.cancel()
        self._scan = self._thumbs = None

    def _scan_failed(self, exc: BaseException) -> None:
        from viewer.error_dialog import message_for

        self.summary.setText(message_for(exc))
        self.scan_failed.emit(exc)

    def _image_item(self, path: Path, name: str, info: str, flags: tuple[Flag, ...]) -> QTreeWidgetItem:
        item = QTreeWidgetItem([("⚠ " if flags else "") + name, info])
        item.setData(0, PATH_ROLE, str(path))
        item.setToolTip(0, str(path.name) + ("\nFlagged: " + "; ".join(messages(flags)) if flags else ""))
        item.setToolTip(1, info)
        if flags:
            for column in (0, 1):
                item.setForeground(column, QBrush(FLAG_COLOUR))
        self._items[path] = item
        return item

    def _show(self, result: ScanResult) -> None:
        self._reset()
        flagged = 0
        for study in result.studies.values():
            study_item = QTreeWidgetItem([study.description or "Study", f"{study.image_count} img"])
            study_item.setToolTip(0, f"{study.description or 'Study'}: {len(study.series)} series, "
                                     f"{study.image_count} image(s)")
            self.tree.addTopLevelItem(study_item)
            for series in study.series.values():
                series_item = QTreeWidgetItem([series.description or "Series",
                                               f"{series.modality or ''} · {len(series.images)}".strip(" ·")])
                series_item.setToolTip(0, f"{series.description or 'Series'}: {series.modality or '?'}, "
                                          f"{len(series.images)} image(s)")
                study_item.addChild(series_item)
                for meta in series.images:
                    flagged += bool(meta.flags)
                    info = "; ".join(messages(meta.flags)) if meta.flags else " ".join(
                        part for part in (meta.modality or "", meta.view or "") if part)
                    series_item.addChild(self._image_item(meta.path, meta.path.name, info, meta.flags))
                    self.paths.append(meta.path)
                series_item.setExpanded(True)
            study_item.setExpanded(True)
        self.skipped = [(entry.path, entry.reason) for entry in result.skipped]
        if result.skipped:
            skipped = QTreeWidgetItem([f"Skipped files ({len(result.skipped)})", "not radiographs or unreadable"])
            skipped.setForeground(0, QBrush(QColor(120, 120, 120)))
            self.tree.addTopLevelItem(skipped)
            for entry in result.skipped:
                child = QTreeWidgetItem([entry.path.name, entry.reason])
                child.setToolTip(0, str(entry.path.name))
                child.setToolTip(1, entry.reason)
                skipped.addChild(child)
            skipped.setExpanded(len(result.skipped) <= 8)
        parts = [f"{len(result.studies)} study(ies), {result.image_count} image(s)"]
        if flagged:
            parts.append(f"{flagged} flagged ⚠")
        if result.skipped:
            parts.append(f"{len(result.skipped)} skipped")
        self.summary.setText(" · ".join(parts))
        self.scanned.emit(result)
        self._start_thumbnails()

    def _start_thumbnails(self) -> None:
        worker = Worker(_thumbnails, list(self.paths))
        worker.signals.progress.connect(lambda value: self._set_thumbnail(value) if worker is self._thumbs else None)
        self._thumbs = worker
        self._start(worker)

    def _set_thumbnail(self, value: tuple[Path, np.ndarray | None]) -> None:
        path, thumb = value
        item = self._items.get(path)
        if item is not None and thumb is not None:
            item.setIcon(0, QIcon(QPixmap.fromImage(to_qimage_grey(thumb))))

    # -- navigation -------------------------------------------------------------------------------------
    def _activated(self, item: QTreeWidgetItem | None) -> None:
        if self._quiet or item is None:
            return
        path = item.data(0, PATH_ROLE)
        if path:
            self.image_selected.emit(Path(path))

    def select(self, path: Path) -> None:
        """Highlight ``path`` without emitting ``image_selected``."""
        item = self._items.get(Path(path))
        if item is not None:
            self._quiet = True
            self.tree.setCurrentItem(item)
            self._quiet = False

    def step(self, offset: int, current: Path | None) -> Path | None:
        """The next/previous image in study order (keyboard navigation); highlights it."""
        if not self.paths:
            return None
        index = self.paths.index(current) + offset if current in self.paths else 0
        path = self.paths[max(0, min(len(self.paths) - 1, index))]
        self.select(path)
        return path

    def thumbnail_count(self) -> int:
        return sum(not item.icon(0).isNull() for item in self._items.values())

    def shutdown(self) -> None:
        self._stop_workers()
