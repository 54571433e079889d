"""B reader > Reader agreement…: the table ``pneumollm readings --agreement`` prints (quadratic weighted kappa between
readers and between each reader and the model, with n and a bootstrap interval), the images awaiting a third,
adjudicating reading, and the same CSVs as the CLI (reader ids and hashed image keys only).

The numbers are ``engine.ilo.agreement``'s, computed off the GUI thread (the bootstrap resamples every pair).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QHeaderView,
    QLabel,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from engine.errors import PneumoError
from engine.ilo import agreement
from engine.ilo.double_reading import Case, CaseStatus, DiscordanceRule, all_cases
from engine.ilo.store import ReadingStore
from viewer.error_dialog import show_error
from viewer.workers import Worker, WorkerSet

QUEUE_HEADER = ("image (hashed key)", "why the two readings disagree")


@dataclass(frozen=True)
class Agreement:
    """What the dialog shows: every case, the agreement table, and the adjudication queue."""

    cases: tuple[Case, ...]
    rows: tuple[agreement.AgreementRow, ...]
    rule: DiscordanceRule

    @property
    def queue(self) -> list[Case]:
        return [case for case in self.cases if case.status is CaseStatus.AWAITING_ADJUDICATION]

    def summary(self) -> str:
        """The CLI's first line: images, readings, readers, how many await adjudication, and the rule."""
        readers = len({s.reader_key for case in self.cases for s in case.readings})
        readings = sum(len(case.readings) for case in self.cases)
        return (f"{len(self.cases)} images, {readings} readings by {readers} readers; {len(self.queue)} awaiting "
                f"adjudication. {self.rule.describe()}")


def measure_agreement(store: ReadingStore, rule: DiscordanceRule, rounds: int = 2000) -> Agreement:
    """Worker: the cases by the programme's rule and their agreement table (as ``readings --agreement``)."""
    cases = tuple(all_cases(store, rule))
    return Agreement(cases, tuple(agreement.agreement_table(cases, rounds=rounds)), rule)


def _table(headers: tuple[str, ...]) -> QTableWidget:
    table = QTableWidget(0, len(headers))
    table.setHorizontalHeaderLabels(list(headers))
    table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
    table.verticalHeader().setVisible(False)
    table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
    table.horizontalHeader().setStretchLastSection(True)
    return table


def _fill(table: QTableWidget, rows: list[tuple[str, ...]]) -> None:
    table.setRowCount(len(rows))
    for r, cells in enumerate(rows):
        for c, text in enumerate(cells):
            table.setItem(r, c, QTableWidgetItem(text))


class AgreementDialog(QDialog):
    """The readers' agreement on the readings in ``store``; opened modeless, filled when computed."""

    def __init__(self, store: ReadingStore, rule: DiscordanceRule, parent: QWidget | None = None, *,
                 rounds: int = 2000) -> None:
        super().__init__(parent)
        self.setWindowTitle("Reader agreement (ILO readings)")
        self.resize(820, 520)
        self.store, self.rule, self.rounds = store, rule, rounds
        self.result: Agreement | None = None
        self._worker: Worker | None = None
        self._workers = WorkerSet(self)
        layout = QVBoxLayout(self)
        self.summary = QLabel("Computing the agreement (bootstrap intervals)…")
        self.summary.setWordWrap(True)
        layout.addWidget(self.summary)
        self.table = _table(agreement.TABLE_HEADER)
        layout.addWidget(self.table, 3)
        self.note = QLabel("Quadratic weighted kappa; readers are named by their reader id (or a pseudonym of their "
                           "name), images by hashed keys. The model is compared on its suggested category at signing.")
        self.note.setWordWrap(True)
        self.note.setStyleSheet("color:#555;")
        layout.addWidget(self.note)
        layout.addWidget(QLabel("Awaiting a third, adjudicating reading:"))
        self.queue = _table(QUEUE_HEADER)
        layout.addWidget(self.queue, 1)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        self.table_csv = QPushButton("Export table &CSV…")
        self.ratings_csv = QPushButton("Export &ratings CSV…")
        for button in (self.table_csv, self.ratings_csv):
            button.setEnabled(False)
            buttons.addButton(button, QDialogButtonBox.ButtonRole.ActionRole)
        self.table_csv.clicked.connect(lambda: self._export_with_dialog("table"))
        self.ratings_csv.clicked.connect(lambda: self._export_with_dialog("ratings"))
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)
        self.refresh()

    def refresh(self) -> None:
        """Compute again from the store (a new signature since the dialog opened)."""
        worker = Worker(measure_agreement, self.store, self.rule, self.rounds)
        self._worker = worker
        worker.signals.finished.connect(lambda found, w=worker: self._show(w, found))
        worker.signals.failed.connect(lambda exc, w=worker: self._failed(w, exc))
        self._workers.start(worker)

    @property
    def computing(self) -> bool:
        return self._worker is not None

    def _show(self, worker: Worker, found: Agreement) -> None:
        if worker is not self._worker:
            return
        self._worker, self.result = None, found
        self.summary.setText(found.summary() + ("" if found.rows else " No two raters share a rated image yet."))
        _fill(self.table, [row.cells() for row in found.rows])
        _fill(self.queue, [(case.instance_key, "; ".join(case.reasons)) for case in found.queue])
        for button in (self.table_csv, self.ratings_csv):
            button.setEnabled(bool(found.cases))

    def _failed(self, worker: Worker, exc: BaseException) -> None:
        if worker is not self._worker:
            return
        self._worker = None
        self.summary.setText(exc.user_message if isinstance(exc, PneumoError)
                             else "The agreement could not be computed.")

    def export(self, kind: str, path: str | Path) -> Path:
        """The table (``table``) or the ratings behind it (``ratings``) as CSV, as the CLI writes them."""
        if self.result is None:
            raise PneumoError("The agreement is still being computed.")
        if kind == "table":
            return agreement.write_table_csv(path, list(self.result.rows))
        return agreement.write_ratings_csv(path, self.result.cases)

    def _export_with_dialog(self, kind: str) -> None:
        name = "agreement.csv" if kind == "table" else "ratings.csv"
        path, _ = QFileDialog.getSaveFileName(self, "Export the agreement", name, "CSV (*.csv)")
        if not path:
            return
        try:
            self.export(kind, path)
        except (PneumoError, OSError) as exc:
            show_error(self, exc)
