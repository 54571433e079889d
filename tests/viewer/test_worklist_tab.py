"""The Worklist tab: flagged first or newest first from the store's queue, live results from a node started in the
tab (a real radiograph over C-STORE), double-click opens the instance, the triage CSV export."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt

from engine.diagnoser import Diagnoser
from engine.pacs.forward import store_files
from engine.pacs.peer import Destination
from engine.pacs.queue import ItemResult, WorkQueue
from engine.triage import iter_rows
from tests.engine.pacs.peers import relabelled_copies
from tests.viewer.helpers import in_process
from viewer.worklist_tab import DECISION, SENT, STATE, WorklistTab


def filled_store(store: Path) -> Path:
    queue = WorkQueue.in_store(store)
    results = [ItemResult("done", 0.2, "not flagged", 0.5), ItemResult("done", 0.8, "flagged", 0.5),
               ItemResult("failed", None, "unreadable", None, "cannot read")]
    for index, result in enumerate(results):
        queue.enqueue(f"1.2.{index}", "1.9", "", store / f"{index}.dcm", f"h{index}", received_at=1000.0 + index)
        [item] = queue.claim()
        queue.finish(item.id, result, send=False)
    queue.close()
    return store


def test_orders_double_click_and_export(qtbot, tmp_path: Path) -> None:
    tab = WorklistTab(in_process(lambda: None), poll_ms=50)  # no node started: no model needed
    qtbot.addWidget(tab)
    tab.store_edit.setText(str(filled_store(tmp_path / "store")))
    tab.refresh()
    assert [i.sop_instance_uid for i in tab.model.rows()] == ["1.2.1", "1.2.0", "1.2.2"]  # flagged, score, none
    assert tab.model.index(0, DECISION).data() == "flagged"
    tab.order_combo.setCurrentIndex(tab.order_combo.findData("newest"))
    assert [i.sop_instance_uid for i in tab.model.rows()] == ["1.2.2", "1.2.1", "1.2.0"]
    with qtbot.waitSignal(tab.open_image_requested) as opened:
        tab.table.doubleClicked.emit(tab.model.index(1, 0))
    assert opened.args == [tmp_path / "store" / "1.dcm"]
    rows = list(iter_rows(tab.export_csv(tmp_path / "worklist.csv")))
    assert [r.decision for r in rows] == ["flagged", "not flagged", "unreadable"]  # the triage CSV's own order


def test_node_started_in_the_tab_shows_results_as_they_arrive(qtbot, tiny_diagnoser: Diagnoser, dicom_dir: Path,
                                                              tmp_path: Path) -> None:
    tab = WorklistTab(in_process(lambda: tiny_diagnoser), poll_ms=100)
    qtbot.addWidget(tab)
    tab.store_edit.setText(str(tmp_path / "store"))
    tab.port_spin.setValue(0)  # any free port
    with qtbot.waitSignal(tab.node_status) as status:
        assert tab.start_node()
    assert "listening on 127.0.0.1:" in status.args[0] and tab.node_button.text() == "Stop node"
    assert tab.node is not None
    sources = relabelled_copies(dicom_dir / "RG1_J2KI.dcm", tmp_path / "in", 2)
    assert store_files(Destination("127.0.0.1", tab.node.server.address[1], "PNEUMOLLM"), sources) == [0, 0]
    qtbot.waitUntil(lambda: tab.model.rowCount() == 2 and all(
        tab.model.index(r, STATE).data() == "done" for r in range(2)), timeout=120_000)
    decisions = {tab.model.index(r, DECISION).data() for r in range(2)}
    assert decisions <= {"flagged", "not flagged", "not diagnosed"}
    assert tab.model.index(0, SENT).data() == ""  # no destination configured: nothing to send
    tab.stop_node()
    qtbot.waitUntil(lambda: tab._drain is None and tab._closing_node is None, timeout=30_000)
    assert tab.node_button.text() == "Start node" and tab.store_edit.isEnabled()
    again = WorklistTab(in_process(lambda: tiny_diagnoser))  # the next start of the viewer: the node's fields are kept
    qtbot.addWidget(again)
    assert (again.store_edit.text(), again.port_spin.value()) == (str(tmp_path / "store"), 0)


def test_a_bad_destination_is_one_line_and_no_node(qtbot, tmp_path: Path) -> None:
    tab = WorklistTab(in_process(lambda: None))
    qtbot.addWidget(tab)
    assert not tab.start_node()
    assert "store folder" in tab.status_label.text()
    tab.store_edit.setText(str(tmp_path))
    tab.forward_edit.setText("pacs.example:ORTHANC")
    assert not tab.start_node() and tab.node is None
    assert "HOST:PORT:AE" in tab.status_label.text()
    assert tab.table.selectionBehavior() == tab.table.SelectionBehavior.SelectRows
    assert tab.model.headerData(0, Qt.Orientation.Horizontal) == "Received"


def test_rows_name_the_patient_accession_and_study_date(qtbot, tmp_path: Path) -> None:
    """Issue 25: the Worklist showed only UIDs; a worklist says whose study it is (hidden when de-identified)."""
    from tests.dicom_factory import PHI_VALUES, chest_like, make_dicom
    from viewer.worklist_columns import PENDING
    from viewer.worklist_tab import ACCESSION, PATIENT, STUDY_DATE

    store = tmp_path / "store"
    store.mkdir()
    path = make_dicom(store / "a.dcm", chest_like(64, 64), StudyDate="20240315")
    queue = WorkQueue.in_store(store)
    queue.enqueue("1.2.3", "1.9", "", path, "h0", received_at=1000.0)
    queue.close()
    hidden = [False]
    tab = WorklistTab(in_process(lambda: None), poll_ms=50, deidentified=lambda: hidden[0])
    qtbot.addWidget(tab)
    tab.store_edit.setText(str(store))
    tab.refresh()
    qtbot.waitUntil(lambda: tab.model.index(0, PATIENT).data() != PENDING, timeout=10_000)  # read by a worker
    assert tab.model.index(0, PATIENT).data() == f"DOE, Jane · {PHI_VALUES['PatientID']}"
    assert tab.model.index(0, ACCESSION).data() == PHI_VALUES["AccessionNumber"]
    assert tab.model.index(0, STUDY_DATE).data() == "2024-03-15"
    hidden[0] = True  # Settings: de-identified display
    tab.refresh()
    assert {tab.model.index(0, column).data() for column in (PATIENT, ACCESSION, STUDY_DATE)} == {"—"}


def test_an_instance_the_node_refuses_is_said_in_the_tab(qtbot, tiny_diagnoser: Diagnoser, dicom_dir: Path,
                                                         tmp_path: Path) -> None:
    """Issue 25: a Secondary Capture the node refused (its compressed pixel data cut short) said nothing in the
    GUI."""
    import pydicom

    source = dicom_dir / "1.2.276.0.7230010.3.1.4.8323329.6904.1517875201.850819.dcm"
    ds = pydicom.dcmread(source)
    ds.PixelData = ds.PixelData[: len(ds.PixelData) // 2]  # a truncated transfer
    cut = tmp_path / "cut.dcm"
    ds.save_as(cut)
    tab = WorklistTab(in_process(lambda: tiny_diagnoser), poll_ms=100)
    qtbot.addWidget(tab)
    tab.store_edit.setText(str(tmp_path / "store"))
    tab.port_spin.setValue(0)
    assert tab.start_node()
    try:
        assert store_files(Destination("127.0.0.1", tab.node.server.address[1], "PNEUMOLLM"), [cut]) != [0]
        with qtbot.waitSignal(tab.node_status, timeout=10_000) as status:
            tab.refresh()
        assert "refused instance" in status.args[0] and "pixel data is cut short" in status.args[0]
        assert "refused instance" in tab.status_label.text() and tab.model.rowCount() == 0
    finally:
        tab.stop_node()


def test_the_worklist_reads_headers_off_the_gui_thread(qtbot, tmp_path: Path) -> None:
    """An archive's first refresh names thousands of files: reading their headers on the GUI thread froze the
    window. Each header is read once, by a worker thread, and a cell says "…" until it is."""
    import threading

    from engine.io.identity import PatientIdentity
    from viewer.worklist_columns import PENDING, IdentityCache
    from viewer.worklist_tab import PATIENT, WorklistModel

    store = tmp_path / "store"
    store.mkdir()
    queue = WorkQueue.in_store(store)
    for i in range(5):
        queue.enqueue(f"1.2.{i}", "1.9", "", store / f"{i}.dcm", f"h{i}", received_at=1000.0 + i)
    queue.close()
    reads: list[tuple[str, bool]] = []
    release = threading.Event()

    def read(path: str) -> PatientIdentity:
        release.wait(10)  # a slow disk: the GUI must not wait for it
        reads.append((Path(path).name, threading.current_thread() is threading.main_thread()))
        return PatientIdentity(name=f"P{Path(path).stem}")

    tab = WorklistTab(in_process(lambda: None), poll_ms=60_000)
    tab.model.deleteLater()
    tab.model = WorklistModel(tab, identities=IdentityCache(read))
    tab.table.setModel(tab.model)
    qtbot.addWidget(tab)
    tab.store_edit.setText(str(store))
    tab.refresh()  # returns at once although no header can be read yet
    assert [tab.model.index(row, PATIENT).data() for row in range(5)] == [PENDING] * 5
    tab.refresh()  # a second poll while the first worker runs asks for nothing more
    release.set()
    qtbot.waitUntil(lambda: tab.model.index(4, PATIENT).data() != PENDING, timeout=10_000)
    assert sorted(tab.model.index(row, PATIENT).data() for row in range(5)) == [f"P{i}" for i in range(5)]
    assert sorted(name for name, _ in reads) == [f"{i}.dcm" for i in range(5)]  # each header once
    assert not any(on_main for _, on_main in reads)
    tab.refresh()
    qtbot.wait(50)
    assert len(reads) == 5  # known headers are not read again
