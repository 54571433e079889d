"""File > Query PACS…: search a pynetdicom Q/R SCP on 127.0.0.1, retrieve a real radiograph's study, open it."""

from __future__ import annotations

from pathlib import Path

from tests.engine.pacs.peers import QueryRetrievePeer, relabelled_copies
from viewer.query_dialog import QueryPacsDialog


def test_search_retrieve_and_open(qtbot, dicom_dir: Path, tmp_path: Path) -> None:
    files = relabelled_copies(dicom_dir / "RG1_J2KI.dcm", tmp_path / "archive", 1,
                              study_uid="1.2.826.0.1.3680043.8.1.42", PatientID="Q-1", StudyDate="20240110")
    peer = QueryRetrievePeer(files)
    peer.start()
    try:
        dialog = QueryPacsDialog()
        qtbot.addWidget(dialog)
        dialog.port_spin.setValue(peer.port)
        dialog.called_edit.setText("QRSCP")
        dialog.patient_id_edit.setText("Q-1")
        dialog.out_edit.setText(str(tmp_path / "retrieved"))
        dialog.search()
        qtbot.waitUntil(lambda: dialog.search_button.isEnabled() and dialog.table.rowCount() == 1, timeout=30_000)
        assert dialog.table.item(0, 7).text() == "1.2.826.0.1.3680043.8.1.42"
        assert "1 study" in dialog.status_label.text()
        dialog.table.selectRow(0)
        with qtbot.waitSignal(dialog.study_retrieved, timeout=60_000) as retrieved:
            dialog.retrieve()
        folder = retrieved.args[0]
        assert folder == tmp_path / "retrieved" / "1.2.826.0.1.3680043.8.1.42"
        assert len(list(folder.glob("*.dcm"))) == 1
    finally:
        peer.stop()


def test_bad_date_and_absent_pacs_are_one_line(qtbot, tmp_path: Path) -> None:
    dialog = QueryPacsDialog()
    qtbot.addWidget(dialog)
    dialog.date_edit.setText("last week")
    dialog.search()
    assert "YYYYMMDD" in dialog.status_label.text() and dialog.search_button.isEnabled()
    dialog.date_edit.setText("")
    dialog.port_spin.setValue(1)  # nothing listens on port 1
    dialog.search()
    qtbot.waitUntil(dialog.search_button.isEnabled, timeout=30_000)
    assert "did not answer" in dialog.status_label.text()
