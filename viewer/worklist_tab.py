"""The Worklist tab: studies received from the PACS, flagged first (or newest first), updated as results arrive.

The list is the store's work queue (``engine.pacs.queue``), re-read every second, so it shows a node started here
as well as a ``pneumollm serve`` running on the same folder. "Start node" runs the Storage SCP (and the result
forwarder) in this process; queued instances are diagnosed on the viewer's one model thread, never beside it.
Double-click opens an instance in the reading view; "Export CSV…" writes the folder-triage CSV.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QModelIndex, QTimer, Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QFileDialog,
    QGridLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from engine.errors import PneumoError
from engine.model_host import ModelClient
from engine.pacs.peer import Destination
from engine.pacs.queue import ORDERS, WorkItem, WorkQueue
from engine.pacs.worklist import write_worklist_csv
from viewer.error_dialog import message_for
from viewer.row_table import RowTableModel, decision_colour
from viewer.settings import settings_store
from viewer.workers import Worker, WorkerSet
from viewer.worklist_columns import (  # noqa: F401  (the column numbers, for the tab's users)
    ACCESSION,
    DECISION,
    NOTE,
    PATIENT,
    PROBABILITY,
    RECEIVED,
    SENT,
    STATE,
    STUDY,
    STUDY_DATE,
    IdentityCache,
    worklist_columns,
)

if TYPE_CHECKING:  # the node (pynetdicom, pydicom) loads when it starts, not with the window
    from engine.pacs.node import PacsNode

log = logging.getLogger(__name__)

SEND_FAILED = QColor(255, 210, 210)  # a result the PACS has not received
def _row_colour(item: WorkItem) -> QColor | None:
    """The decision's colour (as in the triage table), else red for a result that could not be sent."""
    return decision_colour(item.decision) or (SEND_FAILED if item.send_state == "failed" else None)


class WorklistModel(RowTableModel[WorkItem]):
    """Work items in the queue's order (the tab asks the queue for flagged-first or newest-first).

    ``deidentified()``: True while the display hides identities (Settings), the list's included."""

    def __init__(self, parent: QWidget | None = None, *, deidentified: Callable[[], bool] = lambda: False,
                 identities: IdentityCache | None = None) -> None:
        self.identities = identities or IdentityCache()
        super().__init__(worklist_columns(self.identities, deidentified), parent, background=_row_colour)

    def identities_read(self) -> None:
        """Some headers were read: repaint the identity columns."""
        if self.rowCount():
            self.dataChanged.emit(self.index(0, PATIENT), self.index(self.rowCount() - 1, STUDY_DATE))


class WorklistTab(QWidget):
    """Received studies and the DICOM node's controls.

    Args:
        model_client: where queued studies are diagnosed (the window's model process).
        poll_ms: how often the list is re-read from the queue.
    """

    open_image_requested = Signal(Path)
    node_status = Signal(str)  # one line for the main window's status bar

    def __init__(self, model_client: ModelClient, parent: QWidget | None = None, *,
                 poll_ms: int = 1000, deidentified: Callable[[], bool] = lambda: False) -> None:
        super().__init__(parent)
        self._model_client = model_client
        self._workers = WorkerSet(self)
        self._drain: Worker | None = None
        self._identity_reader: Worker | None = None
        self.node: PacsNode | None = None
        self._closing_node: PacsNode | None = None
        self._refusals_seen = 0  # of the running node's refusals, how many were said

        self.store_edit = QLineEdit()
        self.store_edit.setPlaceholderText("Folder the node stores received studies in (or a `pneumollm serve` store)")
        self.store_edit.editingFinished.connect(self.refresh)
        store_button = QPushButton("Choose…")
        store_button.clicked.connect(self._choose_store)
        self.ae_edit = QLineEdit("PNEUMOLLM")
        self.ae_edit.setMaxLength(16)
        self.port_spin = QSpinBox()
        self.port_spin.setRange(0, 65535)
        self.port_spin.setValue(11112)
        self.allow_edit = QLineEdit()
        self.allow_edit.setPlaceholderText("calling AE titles allowed, comma-separated (empty: any)")
        self.forward_edit = QLineEdit()
        self.forward_edit.setPlaceholderText("send results to HOST:PORT:AE (empty: keep them here)")
        self.node_button = QPushButton("Start node")
        self.node_button.clicked.connect(self.toggle_node)
        self.status_label = QLabel("Node stopped.")

        self.order_combo = QComboBox()
        for order, title in ORDERS.items():
            self.order_combo.addItem(title, order)
        self.order_combo.currentIndexChanged.connect(self.refresh)
        self.resend_button = QPushButton("Send again")
        self.resend_button.setToolTip("Retry sending the selected result to the destination AE")
        self.resend_button.clicked.connect(self._resend)
        export_button = QPushButton("Export CSV…")
        export_button.clicked.connect(self._export)
        self.counts_label = QLabel("")

        self.model = WorklistModel(self, deidentified=deidentified)
        self.table = QTableView()
        self.table.setModel(self.model)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        header = self.table.horizontalHeader()
        for column in (RECEIVED, PATIENT, ACCESSION, STUDY_DATE, STATE, DECISION, STUDY, SENT):
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(NOTE, QHeaderView.ResizeMode.Stretch)
        self.table.doubleClicked.connect(self._open_row)

        grid = QGridLayout()
        grid.addWidget(QLabel("Store:"), 0, 0)
        grid.addWidget(self.store_edit, 0, 1, 1, 4)
        grid.addWidget(store_button, 0, 5)
        grid.addWidget(QLabel("AE title:"), 1, 0)
        grid.addWidget(self.ae_edit, 1, 1)
        grid.addWidget(QLabel("Port:"), 1, 2)
        grid.addWidget(self.port_spin, 1, 3)
        grid.addWidget(self.allow_edit, 1, 4)
        grid.addWidget(self.node_button, 1, 5)
        grid.addWidget(QLabel("Results to:"), 2, 0)
        grid.addWidget(self.forward_edit, 2, 1, 1, 4)
        grid.addWidget(self.status_label, 2, 5)
        tools = QHBoxLayout()
        tools.addWidget(QLabel("Order:"))
        tools.addWidget(self.order_combo)
        tools.addWidget(self.counts_label, 1)
        tools.addWidget(self.resend_button)
        tools.addWidget(export_button)
        layout = QVBoxLayout(self)
        layout.addLayout(grid)
        layout.addLayout(tools)
        layout.addWidget(self.table, 1)

        self._restore_node_fields()
        self.timer = QTimer(self)
        self.timer.setInterval(poll_ms)
        self.timer.timeout.connect(self.refresh)
        self.timer.start()

    # -- the list ----------------------------------------------------------------------------------------
    @property
    def store(self) -> Path | None:
        text = self.store_edit.text().strip()
        return Path(text) if text else None

    def refresh(self) -> None:
        """Re-read the queue; start diagnosing when this tab's node has queued instances."""
        items: list[WorkItem] = []
        counts: dict[str, int] = {}
        if self.node is not None:
            items, counts = self.node.queue.items(self.order), self.node.queue.counts()
        elif self.store is not None:
            try:
                queue = WorkQueue.in_store(self.store, readonly=True)
            except (FileNotFoundError, OSError):
                queue = None
            if queue is not None:
                try:
                    items, counts = queue.items(self.order), queue.counts()
                finally:
                    queue.close()
        self.model.set_rows(items)
        self._read_identities(items)
        self.counts_label.setText(", ".join(f"{n} {state}" for state, n in counts.items() if n))
        self._say_refusals()
        if self.node is not None and counts.get("queued") and self._drain is None:
            self._start_drain()

    def _read_identities(self, items: list[WorkItem]) -> None:
        """Headers not read yet are read by a worker, never here: this runs on every poll of the GUI thread."""
        if self._identity_reader is not None:
            return  # the next poll asks for what arrived meanwhile
        keys = self.model.identities.unread(items)
        if not keys:
            return
        # Bound slots of this widget (as the drain's): queued to the GUI thread, gone with the tab.
        self._identity_reader = Worker(self.model.identities.read, keys)
        self._identity_reader.signals.progress.connect(self._identities_found)
        for signal in (self._identity_reader.signals.finished, self._identity_reader.signals.failed,
                       self._identity_reader.signals.stopped):
            signal.connect(self._identities_ended)
        self._workers.start(self._identity_reader)

    def _identities_found(self, batch: dict) -> None:
        self.model.identities.store(batch)
        self.model.identities_read()

    def _identities_ended(self, *_: Any) -> None:
        self._identity_reader = None
        self.model.identities.forget_asked()  # what a cancelled or failed worker did not read is asked again

    def _say_refusals(self) -> None:
        """What the node refused since the last look (an undecodable Secondary Capture, a stranger's AE title):
        it answered the sender with a failure, and the reader hears it here too, not only in the log."""
        server = self.node.server if self.node is not None else None
        if server is None or server.refused_count <= self._refusals_seen:
            return
        new = server.refused_count - self._refusals_seen
        self._refusals_seen = server.refused_count
        latest = server.refusals[-1] if server.refusals else ""
        more = f" ({new} refused since the last look)" if new > 1 else ""
        self._status(f"The node {latest}{more}. The sender keeps the study; see the log for each one.")

    @property
    def order(self) -> str:
        return str(self.order_combo.currentData())

    def _open_row(self, index: QModelIndex) -> None:
        self.open_image_requested.emit(Path(self.model.row_at(index.row()).path))

    def _selected(self) -> WorkItem | None:
        rows = self.table.selectionModel().selectedRows()
        return self.model.row_at(rows[0].row()) if rows else None

    def _resend(self) -> None:
        item = self._selected()
        if item is None or self.node is None or not item.result_files:
            self.status_label.setText("Select a result to send while the node runs.")
            return
        self.node.queue.resend(item.id)
        self.refresh()

    def _export(self) -> None:
        name, _ = QFileDialog.getSaveFileName(self, "Export worklist CSV", "worklist.csv", "CSV (*.csv)")
        if name:
            self.export_csv(Path(name))

    def export_csv(self, path: Path) -> Path:
        return write_worklist_csv(path, self.model.rows())

    def _choose_store(self) -> None:
        name = QFileDialog.getExistingDirectory(self, "Store folder")
        if name:
            self.store_edit.setText(name)
            self.refresh()

    # -- the node ----------------------------------------------------------------------------------------
    def toggle_node(self) -> None:
        if self.node is None:
            self.start_node()
        else:
            self.stop_node()

    def start_node(self) -> bool:
        if self.store is None:
            self._status("Choose a store folder first.")
            return False
        try:
            forward = Destination.parse(self.forward_edit.text().strip()) if self.forward_edit.text().strip() else None
            from engine.pacs.node import NodeConfig, PacsNode

            config = NodeConfig(store=self.store, ae_title=self.ae_edit.text().strip() or "PNEUMOLLM",
                                port=self.port_spin.value(), allow=PacsNode.parse_allow(self.allow_edit.text()),
                                forward=forward)
            node = PacsNode(config, None)
            host, port = node.start()
        except (PneumoError, OSError) as exc:
            self._status(f"Node not started: {message_for(exc) if isinstance(exc, PneumoError) else exc}")
            return False
        self.node, self._refusals_seen = node, 0
        self._save_node_fields()
        self.node_button.setText("Stop node")
        for widget in (self.store_edit, self.ae_edit, self.port_spin, self.allow_edit, self.forward_edit):
            widget.setEnabled(False)
        self._status(f"DICOM node {config.ae_title} listening on {host}:{port}")
        self.refresh()
        return True

    def stop_node(self) -> None:
        node, self.node = self.node, None
        if node is not None:
            node.server.stop()  # nothing more is received; a batch being diagnosed is finished and recorded
            if self._drain is not None:
                self._drain.cancel()
                self._closing_node = node  # closed when the drain returns
            else:
                node.stop()
        self.node_button.setText("Start node")
        for widget in (self.store_edit, self.ae_edit, self.port_spin, self.allow_edit, self.forward_edit):
            widget.setEnabled(True)
        self._status("Node stopped.")

    # The node's fields persist in the app's settings (group "dicom_node"): a clinic sets them up once.
    def _node_fields(self) -> dict[str, QLineEdit]:
        return {"store": self.store_edit, "ae_title": self.ae_edit, "allow": self.allow_edit,
                "forward": self.forward_edit}

    def _save_node_fields(self) -> None:
        store = settings_store()
        store.beginGroup("dicom_node")
        for key, edit in self._node_fields().items():
            store.setValue(key, edit.text())
        store.setValue("port", self.port_spin.value())
        store.endGroup()
        store.sync()

    def _restore_node_fields(self) -> None:
        store = settings_store()
        store.beginGroup("dicom_node")
        for key, edit in self._node_fields().items():
            value = store.value(key)
            if isinstance(value, str) and value:
                edit.setText(value)
        port = store.value("port")
        if port is not None and str(port).isdigit():
            self.port_spin.setValue(int(port))
        store.endGroup()

    def set_model_client(self, client: ModelClient) -> None:
        """Diagnose with another model (a new head, new settings) from the next drain on."""
        self._model_client = client

    def _start_drain(self) -> None:
        node = self.node
        assert node is not None

        config = node.config

        def drain(progress: Callable[[Any], None], cancelled: Callable[[], bool]) -> int:
            # the node receives here; the model process diagnoses what it stored (one SQLite queue)
            return self._model_client.run("drain_store", config.store, send_results=config.forward is not None,
                                          result_kinds=config.result_kinds, batch_size=config.batch_size,
                                          progress=progress, cancelled=cancelled)

        self._drain = self._workers.start(Worker.reporting(drain), model=True)
        self._drain.signals.finished.connect(self._drain_ended)
        self._drain.signals.failed.connect(self._drain_failed)
        self._drain.signals.stopped.connect(self._drain_ended)

    def _drain_ended(self, *_: Any) -> None:
        self._drain = None
        self._close_stopped_node()
        self.refresh()

    def _drain_failed(self, exc: BaseException) -> None:
        self._drain = None
        self._close_stopped_node()
        self._status(f"Diagnosis stopped: {message_for(exc)}")

    def _close_stopped_node(self) -> None:
        if self._closing_node is not None:
            self._closing_node.stop()
            self._closing_node = None

    def _status(self, text: str) -> None:
        self.status_label.setText(text)
        self.node_status.emit(text)

    def shutdown(self) -> None:
        """Stop the node, the timer and the header reads (window closing)."""
        self.timer.stop()
        if self._identity_reader is not None:
            self._identity_reader.cancel()
        self.stop_node()
