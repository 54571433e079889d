"""Issue 25, the reading room round two: no wrong-patient export, a held-back case that looks held back and can be
diagnosed at the reader's request, zone evidence in read-first mode, no stale state across images."""

from __future__ import annotations

from pathlib import Path

import pydicom

from tests.dicom_factory import chest_like, make_dicom
from tests.viewer.helpers import make_window, wait_for_image, wait_for_result


def patient(path: Path, name: str, patient_id: str) -> Path:
    return make_dicom(path, chest_like(300, 280), ViewPosition="PA", PatientName=name, PatientID=patient_id,
                      StudyDate="20240315")


def test_the_export_dialog_follows_the_case_on_screen(qtbot, factory, tmp_path: Path) -> None:
    """Ctrl+E on case A, keep the dialog, open case B, Export: B is written, and the dialog says it is B."""
    window = make_window(qtbot, factory)
    window.open_path(patient(tmp_path / "a.dcm", "Alpha^Anna", "MRN-A"))
    wait_for_result(qtbot, window)
    window.export_case()
    dialog = window.export_dialog
    assert dialog is not None and dialog.isVisible()
    assert "ALPHA, Anna" in dialog.case_label.text() and "MRN-A" in dialog.case_label.text()

    window.open_path(patient(tmp_path / "b.dcm", "Bravo^Ben", "MRN-B"))
    wait_for_image(qtbot, window, "b.dcm")
    assert dialog.case is None or dialog.case.image.meta.path.name == "b.dcm"
    assert "ALPHA" not in dialog.case_label.text()  # A's name is gone as soon as A leaves the screen
    wait_for_result(qtbot, window)
    assert dialog.case is not None and dialog.case.image.meta.path.name == "b.dcm"
    assert dialog.result is window.panel.result
    assert "BRAVO, Ben" in dialog.case_label.text() and "MRN-B" in dialog.case_label.text()

    dialog.set_kind("sr")
    dialog.identified_box.setChecked(True)
    with qtbot.waitSignal(dialog.exported, timeout=60_000) as exported:
        assert dialog.export() is not None
    written = pydicom.dcmread(exported.args[0])
    assert str(written.PatientName) == "Bravo^Ben" and written.PatientID == "MRN-B"
    window.export_case()  # Ctrl+E again: the same dialog, raised
    assert window.export_dialog is dialog


def test_export_rechecks_the_screen_even_when_a_change_was_missed(qtbot, factory, tmp_path: Path) -> None:
    window = make_window(qtbot, factory)
    window.open_path(patient(tmp_path / "a.dcm", "Alpha^Anna", "MRN-A"))
    wait_for_result(qtbot, window)
    window.export_case()
    dialog = window.export_dialog
    window.panel.result_changed.disconnect()  # as if the window had forgotten to tell the dialog
    window.open_path(patient(tmp_path / "b.dcm", "Bravo^Ben", "MRN-B"))
    wait_for_result(qtbot, window)
    assert "ALPHA" in dialog.case_label.text()  # stale, by construction
    assert dialog.export() is None  # refused: the case on screen is not the one the dialog shows
    assert "BRAVO, Ben" in dialog.case_label.text() and "changed" in dialog.status.text()
    assert dialog.case.image is window.current_image


def test_the_export_dialog_names_no_one_while_the_display_is_deidentified(qtbot, factory, tmp_path: Path) -> None:
    window = make_window(qtbot, factory, deidentified_display=True)
    window.open_path(patient(tmp_path / "a.dcm", "Alpha^Anna", "MRN-A"))
    wait_for_result(qtbot, window)
    window.export_case()
    text = window.export_dialog.case_label.text()
    assert "ALPHA" not in text and "MRN-A" not in text and "de-identified display" in text
