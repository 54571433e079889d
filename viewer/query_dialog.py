"""File > Query PACS…: find studies on a PACS (C-FIND) and retrieve one (C-GET) into a folder, then open it.

Network work runs on the global pool (``viewer.workers``), never on the GUI thread; failures are one line in the
dialog. The engine does the DICOM (``engine.pacs.scu``); this only collects the fields and shows the answers.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from engine.errors import PneumoError
from engine.pacs.peer import Destination
from engine.pacs.scu import StudyQuery, find_studies, get_study
from viewer.error_dialog import message_for
from viewer.workers import Worker, WorkerSet

COLUMNS = (("Date", "study_date"), ("Patient ID", "patient_id"), ("Patient", "patient_name"),
           ("Accession", "accession_number"), ("Modalities", "modalities_in_study"),
           ("Images", "number_of_instances"), ("Description", "study_description"), ("Study UID", "study_instance_uid"))


class QueryPacsDialog(QDialog):
    """Query a PACS and retrieve a study; ``study_retrieved`` carries the folder the files were written to."""

    study_retrieved = Signal(Path)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Query PACS")
        self.resize(900, 520)
        self._workers = WorkerSet(self)
        self.studies: list[dict[str, Any]] = []

        self.host_edit = QLineEdit("127.0.0.1")
        self.port_spin = QSpinBox()
        self.port_spin.setRange(1, 65535)
        self.port_spin.setValue(104)
        self.called_edit = QLineEdit("PACS")
        self.calling_edit = QLineEdit("PNEUMOLLM")
        self.patient_id_edit = QLineEdit()
        self.patient_name_edit = QLineEdit()
        self.patient_name_edit.setPlaceholderText("DOE^JANE, or DOE*")
        self.date_edit = QLineEdit()
        self.date_edit.setPlaceholderText("YYYYMMDD or YYYYMMDD-YYYYMMDD")
        self.accession_edit = QLineEdit()
        self.out_edit = QLineEdit()
        self.out_edit.setPlaceholderText("folder for retrieved studies")
        out_button = QPushButton("Choose…")
        out_button.clicked.connect(self._choose_out)

        form = QFormLayout()
        peer = QHBoxLayout()
        for label, widget in (("Host", self.host_edit), ("Port", self.port_spin), ("PACS AE", self.called_edit),
                              ("Our AE", self.calling_edit)):
            peer.addWidget(QLabel(label))
            peer.addWidget(widget)
        form.addRow("PACS:", peer)
        form.addRow("Patient ID:", self.patient_id_edit)
        form.addRow("Patient name:", self.patient_name_edit)
        form.addRow("Study date:", self.date_edit)
        form.addRow("Accession:", self.accession_edit)
        out = QHBoxLayout()
        out.addWidget(self.out_edit, 1)
        out.addWidget(out_button)
        form.addRow("Retrieve to:", out)

        self.search_button = QPushButton("Search")
        self.search_button.setDefault(True)
        self.search_button.clicked.connect(self.search)
        self.retrieve_button = QPushButton("Retrieve and open")
        self.retrieve_button.setEnabled(False)
        self.retrieve_button.clicked.connect(self.retrieve)
        self.status_label = QLabel("")
        self.status_label.setWordWrap(True)
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels([title for title, _ in COLUMNS])
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.itemSelectionChanged.connect(
            lambda: self.retrieve_button.setEnabled(bool(self.table.selectedItems())))
        self.table.doubleClicked.connect(lambda _index: self.retrieve())

        buttons = QHBoxLayout()
        buttons.addWidget(self.search_button)
        buttons.addWidget(self.retrieve_button)
        buttons.addWidget(self.status_label, 1)
        close = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        close.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addLayout(buttons)
        layout.addWidget(self.table, 1)
        layout.addWidget(close)

    def _peer(self) -> Destination:
        return Destination.parse(f"{self.host_edit.text().strip()}:{self.port_spin.value()}:"
                                 f"{self.called_edit.text().strip()}")

    def _busy(self, busy: bool, text: str = "") -> None:
        self.search_button.setEnabled(not busy)
        self.retrieve_button.setEnabled(not busy and bool(self.table.selectedItems()))
        self.status_label.setText(text)

    def search(self) -> None:
        try:
            peer = self._peer()
            query = StudyQuery(patient_id=self.patient_id_edit.text().strip(),
                               patient_name=self.patient_name_edit.text().strip(),
                               date_range=self.date_edit.text().strip(),
                               accession_number=self.accession_edit.text().strip())
        except PneumoError as exc:
            self.status_label.setText(exc.one_line())
            return
        calling = self.calling_edit.text().strip() or "PNEUMOLLM"
        self._busy(True, f"Searching {peer}…")
        worker = self._workers.start(Worker(find_studies, peer, query, calling_ae=calling))
        worker.signals.finished.connect(self._found)
        worker.signals.failed.connect(self._failed)

    def _found(self, studies: list[dict[str, Any]]) -> None:
        self.studies = studies
        self.table.setRowCount(len(studies))
        for row, study in enumerate(studies):
            for column, (_, key) in enumerate(COLUMNS):
                value = study.get(key)
                text = "/".join(value) if isinstance(value, list) else "" if value is None else str(value)
                self.table.setItem(row, column, QTableWidgetItem(text))
        self.table.resizeColumnsToContents()
        self._busy(False, f"{len(studies)} stud{'y' if len(studies) == 1 else 'ies'} found.")

    def _failed(self, exc: BaseException) -> None:
        self._busy(False, message_for(exc))

    def retrieve(self) -> None:
        rows = self.table.selectionModel().selectedRows()
        if not rows:
            return
        if not self.out_edit.text().strip():
            self._choose_out()
            if not self.out_edit.text().strip():
                return
        study_uid = str(self.studies[rows[0].row()]["study_instance_uid"])
        try:
            peer = self._peer()
        except PneumoError as exc:
            self.status_label.setText(exc.one_line())
            return
        out = Path(self.out_edit.text().strip())
        self._busy(True, f"Retrieving from {peer}…")
        worker = self._workers.start(Worker(get_study, peer, study_uid, out,
                                            calling_ae=self.calling_edit.text().strip() or "PNEUMOLLM"))
        worker.signals.finished.connect(self._retrieved)
        worker.signals.failed.connect(self._failed)

    def _retrieved(self, summary: Any) -> None:
        self._busy(False, f"{summary.stored} instance(s) retrieved to {summary.out}.")
        self.study_retrieved.emit(Path(summary.out) / summary.study_instance_uid)

    def _choose_out(self) -> None:
        name = QFileDialog.getExistingDirectory(self, "Retrieve studies to")
        if name:
            self.out_edit.setText(name)
