"""Batch-folder triage: every radiograph under a folder through the Diagnoser, into a sorted, filterable table.

The work is ``engine.triage.triage_folder`` on the model worker; rows arrive batch by batch through the
worker's ``progress`` signal. Re-running on the same folder and CSV resumes (the engine skips finished
files); cancelling keeps every finished row. The default view shows every case — filters are the reader's
choice, and no case is ever hidden because the model scored it low.
"""

from __future__ import annotations

import html
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, QSortFilterProxyModel, Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QFileDialog,
    QGridLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from engine.decision import Verdict
from engine.model_host import ModelClient
from engine.notices import RESEARCH_USE
from engine.progress import Progress
from engine.triage import (
    DECISION_ORDER,
    UNREADABLE,
    TriageRow,
    TriageSummary,
    decision_rank,
    default_results_path,
    iter_rows,
)
from engine.triage import existing_rows as earlier_rows
from viewer.error_dialog import message_for
from viewer.row_table import RIGHT, SORT_ROLE, Column, RowTableModel, number
from viewer.workers import Worker, WorkerSet

log = logging.getLogger(__name__)

DEFAULT_CSV_NAME = "pneumollm_triage.csv"  # the name for a CSV the reader places beside the images themselves
DECISIONS = DECISION_ORDER  # flagged, not flagged, not diagnosed, unreadable: the order a Decision column sorts in
DECISION_FILTERS = (("All cases", ""), *((decision.capitalize(), decision) for decision in DECISIONS))


def _decision_rank(row: TriageRow) -> int:
    return decision_rank(row.decision)


def _file(row: TriageRow) -> str:
    return row.file


def _score(row: TriageRow) -> float | None:
    """The score a reader may see: none for a held-back case (even one an older CSV recorded) until asked for."""
    return None if row.decision in (Verdict.NOT_DIAGNOSED, UNREADABLE) else row.probability


def _probability_order(row: TriageRow) -> float:
    """Highest first: flagged, then not flagged, each by score; then not diagnosed, then unreadable."""
    score = _score(row)
    rank = _decision_rank(row) if row.decision in DECISIONS else 0  # a row without a decision: by its score
    return 10.0 * (len(DECISIONS) - rank) + (0.0 if score is None else score)


COLUMNS: tuple[Column[TriageRow], ...] = (
    Column("File", _file),
    Column("Probability", lambda row: number(_score(row)), tooltip=_file, alignment=RIGHT,
           sort_key=_probability_order),
    Column("Decision", lambda row: row.decision, tooltip=_file, sort_key=_decision_rank),
    Column("Threshold", lambda row: number(row.threshold), tooltip=_file, alignment=RIGHT,
           sort_key=lambda row: -1.0 if row.threshold is None else row.threshold),
    Column("Lung crop", lambda row: row.lung_crop_quality),
    Column("Note", lambda row: "; ".join(part for part in (row.error, row.warnings) if part)),
)
FILE, PROBABILITY, DECISION, THRESHOLD, QUALITY, NOTE = range(len(COLUMNS))


class TriageTableModel(RowTableModel[TriageRow]):
    """Triage rows, one per file (a re-delivered file replaces its earlier row, never duplicates it)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(COLUMNS, parent, key=_file)

    def counts(self) -> dict[str, int]:
        counts = dict.fromkeys(DECISIONS, 0)
        for row in self.rows():
            counts[row.decision] = counts.get(row.decision, 0) + 1
        return counts

    def summary(self) -> TriageSummary:
        """The rows shown, counted as the engine's summary of a run counts them."""
        counts = self.counts()
        return TriageSummary(out="", total=self.rowCount(), flagged=counts[Verdict.FLAGGED],
                             not_flagged=counts[Verdict.NOT_FLAGGED], not_diagnosed=counts[Verdict.NOT_DIAGNOSED],
                             unreadable=counts[UNREADABLE], skipped_existing=0, seconds=0.0)


class TriageFilterProxy(QSortFilterProxyModel):
    """Text filter (file name or note) plus a decision filter; sorts on the model's SORT_ROLE."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._text = ""
        self._decision = ""
        self.setSortRole(SORT_ROLE)
        self.setDynamicSortFilter(True)

    def set_text(self, text: str) -> None:
        self.beginFilterChange()
        self._text = text.strip().lower()
        self.endFilterChange(QSortFilterProxyModel.Direction.Rows)

    def set_decision(self, decision: str) -> None:
        self.beginFilterChange()
        self._decision = decision
        self.endFilterChange(QSortFilterProxyModel.Direction.Rows)

    def filterAcceptsRow(self, source_row: int, source_parent: QModelIndex | QPersistentModelIndex) -> bool:
        model = self.sourceModel()
        if self._decision and model.row_at(source_row).decision != self._decision:
            return False
        if not self._text:
            return True
        haystack = " ".join(str(model.index(source_row, c, source_parent).data() or "") for c in (FILE, NOTE))
        return self._text in haystack.lower()


def existing_rows(out: Path) -> list[TriageRow]:
    """What an earlier run on ``out`` left (its CSV, then the journal of an interrupted run)."""
    return earlier_rows(out)[0]


def run_triage(client: ModelClient, folder: Path, out: Path, batch_size: int, *,
               progress: Callable[[tuple[str, Any]], None], cancelled: Callable[[], bool]) -> TriageSummary:
    """Model worker: the engine's triage in the model's process, reporting status, progress and each batch of
    rows (``engine.model_host.triage_folder``)."""
    return client.run("triage_folder", folder, out, batch_size, progress=progress, cancelled=cancelled)


class TriageTab(QWidget):
    """Choose a folder, triage it in the background, read the sorted and filterable results.

    Args:
        model_client: where the triage runs (the window's model process; ``LocalModel`` in tests).
        batch_size: images per model batch (rows arrive in the table batch by batch).
    """

    open_image_requested = Signal(Path)  # absolute path of a double-clicked row
    triage_finished = Signal(object)  # TriageSummary
    running_changed = Signal(bool)

    def __init__(self, model_client: ModelClient, parent: QWidget | None = None, *,
                 batch_size: int = 8) -> None:
        super().__init__(parent)
        self._model_client = model_client
        self.batch_size = batch_size
        self._worker: Worker | None = None
        self._workers = WorkerSet(self)
        self._run_folder: Path | None = None
        self._csv_edited = False
        self.last_summary: TriageSummary | None = None

        self.folder_edit = QLineEdit()
        self.folder_edit.setPlaceholderText(
            "Folder with radiographs (DICOM, PNG, JPEG, TIFF, MetaImage, NRRD, NIfTI; sub-folders included)")
        self.folder_edit.textEdited.connect(self._folder_edited)
        self.csv_edit = QLineEdit()
        self.csv_edit.setPlaceholderText("in your data folder (triage/<folder name>-<digest>.csv)")
        self.csv_edit.textEdited.connect(lambda _text: setattr(self, "_csv_edited", True))
        folder_button = QPushButton("Choose folder…")
        folder_button.clicked.connect(self._choose_folder)
        csv_button = QPushButton("Save CSV as…")
        csv_button.clicked.connect(self._choose_csv)
        self.start_button = QPushButton("Start triage")
        self.start_button.setDefault(True)
        self.start_button.clicked.connect(self.start)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setEnabled(False)
        self.cancel_button.clicked.connect(self.cancel)
        self.progress_bar = QProgressBar()
        self.progress_bar.setRange(0, 1)
        self.progress_bar.setValue(0)
        self.progress_bar.setTextVisible(True)
        self.status_label = QLabel("Choose a folder to triage. Finished files are kept if you cancel; "
                                   "a later run on the same folder continues where it stopped.")
        self.status_label.setWordWrap(True)

        self.filter_edit = QLineEdit()
        self.filter_edit.setPlaceholderText("Filter by file name or note…")
        self.filter_edit.setClearButtonEnabled(True)
        self.decision_combo = QComboBox()
        for text, value in DECISION_FILTERS:
            self.decision_combo.addItem(text, value)

        self.model = TriageTableModel(self)
        self.proxy = TriageFilterProxy(self)
        self.proxy.setSourceModel(self.model)
        self.filter_edit.textChanged.connect(self._filters_changed)
        self.decision_combo.currentIndexChanged.connect(self._filters_changed)
        self.table = QTableView()
        self.table.setModel(self.proxy)
        self.table.setSortingEnabled(True)
        self.table.sortByColumn(PROBABILITY, Qt.SortOrder.DescendingOrder)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setWordWrap(False)  # one line per case; the full note is in the tooltip
        self.table.verticalHeader().setVisible(False)
        self.table.verticalHeader().setDefaultSectionSize(self.fontMetrics().height() + 8)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(FILE, QHeaderView.ResizeMode.Interactive)
        header.setStretchLastSection(True)
        self.table.setColumnWidth(FILE, 260)
        for column in (PROBABILITY, THRESHOLD):
            self.table.setColumnWidth(column, 90)
        self.table.setColumnWidth(DECISION, 110)
        self.table.setColumnWidth(QUALITY, 170)
        self.table.doubleClicked.connect(self._row_activated)
        self.summary_label = QLabel()
        self.summary_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        note = QLabel(f"{RESEARCH_USE.capitalize()}: every case still needs a reader. "
                      "Double-click a row to open the image.")
        note.setStyleSheet("color: palette(mid);")
        note.setWordWrap(True)

        paths = QGridLayout()
        paths.addWidget(QLabel("Folder:"), 0, 0)
        paths.addWidget(self.folder_edit, 0, 1)
        paths.addWidget(folder_button, 0, 2)
        paths.addWidget(QLabel("Results CSV:"), 1, 0)
        paths.addWidget(self.csv_edit, 1, 1)
        paths.addWidget(csv_button, 1, 2)
        controls = QHBoxLayout()
        controls.addWidget(self.start_button)
        controls.addWidget(self.cancel_button)
        controls.addWidget(self.progress_bar, 1)
        filters = QHBoxLayout()
        filters.addWidget(QLabel("Show:"))
        filters.addWidget(self.decision_combo)
        filters.addWidget(self.filter_edit, 1)
        layout = QVBoxLayout(self)
        layout.addLayout(paths)
        layout.addLayout(controls)
        layout.addWidget(self.status_label)
        layout.addLayout(filters)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.summary_label)
        layout.addWidget(note)
        self._update_summary()

    # -- public ---------------------------------------------------------------------------------------
    @property
    def is_running(self) -> bool:
        return self._worker is not None

    def set_folder(self, folder: str | Path, csv_path: str | Path | None = None) -> None:
        """Fill in the folder (and the CSV: ``engine.triage.default_results_path`` unless given or edited)."""
        self.folder_edit.setText(str(folder))
        if csv_path is not None:
            self.csv_edit.setText(str(csv_path))
            self._csv_edited = True
        elif not self._csv_edited:
            self.csv_edit.setText(str(default_results_path(folder)))

    def set_model_client(self, client: ModelClient) -> None:
        """Use another model (a new head, new settings) from the next run on."""
        self._model_client = client

    def csv_path(self) -> Path | None:
        text = self.csv_edit.text().strip()
        folder = self.folder_edit.text().strip()
        if text:
            return Path(text).expanduser()
        return default_results_path(folder) if folder else None

    def start(self) -> Worker | None:
        """Start (or resume) triage of the chosen folder; returns the worker, or None when nothing started."""
        if self._worker is not None:
            return None
        folder_text = self.folder_edit.text().strip()
        if not folder_text:
            self._show_problem("Choose a folder first.")
            return None
        folder = Path(folder_text).expanduser()
        if not folder.is_dir():
            self._show_problem(f"{folder} is not a folder — choose the folder that holds the images.")
            return None
        out = self.csv_path()
        assert out is not None
        self.csv_edit.setText(str(out))
        self._run_folder = folder.resolve()
        self.model.set_rows(existing_rows(out))  # resumed rows show at once; the engine skips their files
        self._update_summary()
        worker = Worker.reporting(run_triage, self._model_client, folder, out, self.batch_size)
        worker.signals.progress.connect(self._on_progress)
        worker.signals.finished.connect(self._on_finished)
        worker.signals.failed.connect(self._on_failed)
        worker.signals.stopped.connect(self._on_cancelled)
        self._worker = worker
        self._set_running(True)
        self.status_label.setText("Starting…")
        self.progress_bar.setRange(0, 0)  # busy until the first batch reports a count
        self._workers.start(worker, model=True)
        return worker

    def cancel(self) -> None:
        if self._worker is not None:
            self._worker.cancel()
            self.cancel_button.setEnabled(False)
            self.status_label.setText("Cancelling after the current batch…")

    def rows(self) -> list[TriageRow]:
        """Every row in the table (unfiltered, in arrival order)."""
        return self.model.rows()

    def visible_rows(self) -> list[TriageRow]:
        """The rows as shown: filtered and sorted."""
        return [self.model.row_at(self.proxy.mapToSource(self.proxy.index(r, 0)).row())
                for r in range(self.proxy.rowCount())]

    def neighbour(self, path: str | Path, offset: int) -> Path | None:
        """The image ``offset`` rows from ``path`` in the table's order as shown (sorted, filtered), selected in
        the table; None at either end or when ``path`` is not in the table. Next/previous from the reading view."""
        if self._run_folder is None:
            return None
        target = Path(path).resolve()
        for row in range(self.proxy.rowCount()):
            if self._absolute(row) == target:
                wanted = row + offset
                if 0 <= wanted < self.proxy.rowCount():
                    self.table.selectRow(wanted)
                    return self._absolute(wanted)
                return None
        return None

    def _absolute(self, proxy_row: int) -> Path:
        assert self._run_folder is not None
        return (self._run_folder / self.model.row_at(self.proxy.mapToSource(self.proxy.index(proxy_row, 0)).row()
                                                     ).file).resolve()

    # -- GUI side -------------------------------------------------------------------------------------
    def _on_progress(self, message: tuple[str, Any]) -> None:
        kind, value = message
        if kind == "rows":
            self.model.add_rows(value)
            self._update_summary()
        elif kind == "progress":
            assert isinstance(value, Progress)
            self.progress_bar.setRange(0, max(1, value.total))
            self.progress_bar.setValue(value.done)
            if self._worker is not None and not self._worker.cancel_requested:
                self.status_label.setText(value.describe())
        elif kind == "status":
            self.status_label.setText(str(value))

    def _on_finished(self, summary: TriageSummary) -> None:
        self._worker = None
        self._set_running(False)
        self.last_summary = summary
        try:
            self.model.set_rows(list(iter_rows(Path(summary.out))))  # the full, final set (resumed rows too)
        except (OSError, ValueError, KeyError):
            log.warning("could not read back the triage CSV", exc_info=True)
        self.progress_bar.setRange(0, max(1, summary.total))
        self.progress_bar.setValue(summary.total)
        skipped = f" ({summary.skipped_existing} kept from an earlier run)" if summary.skipped_existing else ""
        self.status_label.setText(f"Done in {summary.seconds:.0f} s{skipped}. Saved to {summary.out}")
        self._update_summary()
        self.triage_finished.emit(summary)

    def _on_cancelled(self) -> None:
        self._worker = None
        self._set_running(False)
        if self.progress_bar.maximum() == 0:  # cancelled before the first count: not busy any more
            self.progress_bar.setRange(0, 1)
            self.progress_bar.setValue(0)
        # else the bar keeps how far the run got: those rows are kept, and a resume starts from there
        self.status_label.setText(f"Cancelled. The {self.model.rowCount()} finished rows are kept; start again "
                                  "with the same folder and CSV to continue.")
        self._update_summary()

    def _on_failed(self, exc: BaseException) -> None:
        self._worker = None
        self._set_running(False)
        self.progress_bar.setRange(0, 1)
        self.progress_bar.setValue(0)
        self._show_problem(message_for(exc))
        self._update_summary()

    def _show_problem(self, text: str) -> None:
        self.status_label.setText(f"<span style='color:#b00020'>{html.escape(text)}</span>")

    def _set_running(self, running: bool) -> None:
        self.start_button.setEnabled(not running)
        self.cancel_button.setEnabled(running)
        self.folder_edit.setEnabled(not running)
        self.csv_edit.setEnabled(not running)
        self.running_changed.emit(running)

    def _filters_changed(self, *_args: object) -> None:
        self.proxy.set_text(self.filter_edit.text())
        self.proxy.set_decision(self.decision_combo.currentData() or "")
        self._update_summary()

    def _update_summary(self) -> None:
        text = self.model.summary().line()
        shown = self.proxy.rowCount()
        if shown != self.model.rowCount():
            text += f" — showing {shown} (filtered)"
        self.summary_label.setText(text)

    def _row_activated(self, index: QModelIndex) -> None:
        if not index.isValid() or self._run_folder is None:
            return
        row = self.model.row_at(self.proxy.mapToSource(index).row())
        self.open_image_requested.emit((self._run_folder / row.file).resolve())

    def _folder_edited(self, text: str) -> None:
        if not self._csv_edited:
            self.csv_edit.setText(str(default_results_path(text.strip())) if text.strip() else "")

    def _choose_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Folder to triage", self.folder_edit.text())
        if folder:
            self.set_folder(folder)

    def _choose_csv(self) -> None:
        name, _ = QFileDialog.getSaveFileName(self, "Save triage results", self.csv_edit.text(), "CSV (*.csv)")
        if name:
            self.csv_edit.setText(name)
            self._csv_edited = True


__all__ = ["DEFAULT_CSV_NAME", "TriageFilterProxy", "TriageTab", "TriageTableModel", "existing_rows"]
