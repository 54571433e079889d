"""Issue 25, the reading room round two: no wrong-patient export, a held-back case that looks held back and can be
diagnosed at the reader's request, zone evidence in read-first mode, no stale state across images."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pydicom
import pytest
from PIL import Image
from PySide6.QtCore import Qt

from engine.decision import Verdict
from engine.export import result_lines
from engine.flags import Flag
from engine.pacs.queue import FLAGGED_FIRST, ItemResult, WorkQueue
from engine.progress import Progress
from engine.result import CaseOutcome
from engine.triage import UNREADABLE, TriageRow, iter_rows, row_for, write_csv
from tests.dicom_factory import chest_like, make_dicom
from tests.viewer.helpers import make_window, wait_for_image, wait_for_result
from viewer.row_table import ROW_COLOURS
from viewer.triage_tab import DECISION, FILE, NOTE, PROBABILITY, TriageTab
from viewer.worklist_tab import PROBABILITY as WORKLIST_PROBABILITY
from viewer.worklist_tab import WorklistModel

FAR = Flag("far_out_of_domain", "unlike any radiograph the model was trained on (farther from them than any of them "
                                "are from each other): no verdict unless the reader asks for one")


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


# -- item 4: a held-back case shows no score and sorts after the decided ones ---------------------------------------
def held_back(result):
    """The result as the out-of-domain check holds it back (a REVIEW flag; the decision is re-derived)."""
    held = result.with_warning(FAR)
    assert held.decision.verdict is Verdict.NOT_DIAGNOSED
    return held


def test_a_held_back_result_shows_no_score_and_no_gauge(qtbot, factory, tmp_path: Path) -> None:
    window = make_window(qtbot, factory)
    window.open_path(patient(tmp_path / "a.dcm", "Alpha^Anna", "MRN-A"))
    wait_for_result(qtbot, window)
    panel = window.panel
    panel.show_result(held_back(panel.result), panel.source_names)
    assert panel.headline.text() == "Not diagnosed"
    assert "probability" not in panel.numbers.text().lower() and "No score" in panel.numbers.text()
    assert not panel.bar.isVisible() and panel.bar.probability is None  # no pointer at the red end
    assert "unlike any radiograph" in panel.warnings.text()
    assert not panel.accept_button.isEnabled()


def test_triage_sorts_flagged_then_not_flagged_then_not_diagnosed_without_a_score(qtbot, factory,
                                                                                  tmp_path: Path) -> None:
    window = make_window(qtbot, factory)
    window.open_path(patient(tmp_path / "held.dcm", "Alpha^Anna", "MRN-A"))
    wait_for_result(qtbot, window)
    outcome = CaseOutcome(tmp_path / "held.dcm", Progress(1, 1, 0.0), window.current_image.meta,
                          held_back(window.panel.result))
    held = row_for("held.dcm", "digest", outcome)
    assert held.decision == Verdict.NOT_DIAGNOSED and held.probability is None
    assert "unlike any radiograph" in held.warnings and held.error == ""  # the reason is a warning
    rows = [TriageRow("low.dcm", probability=0.2, decision="not flagged", threshold=0.5, sha256="1"),
            held,
            TriageRow("old-held.dcm", probability=0.99, decision="not diagnosed", threshold=0.5, sha256="2"),
            TriageRow("broken.dcm", decision=UNREADABLE, error="cannot read", sha256="3"),
            TriageRow("high.dcm", probability=0.8, decision="flagged", threshold=0.5, sha256="4")]
    expected = ["high.dcm", "low.dcm", "held.dcm", "old-held.dcm", "broken.dcm"]

    tab = TriageTab(window.model)
    qtbot.addWidget(tab)
    tab.model.set_rows(rows)  # the default view: the Probability column, highest first
    shown = tab.visible_rows()
    assert [row.file for row in shown] == expected
    by_file = {tab.proxy.index(r, FILE).data(): r for r in range(tab.proxy.rowCount())}
    for name in ("held.dcm", "old-held.dcm"):  # no score, even one an older CSV recorded; no flag colour
        assert tab.proxy.index(by_file[name], PROBABILITY).data() == ""
        colour = tab.proxy.index(by_file[name], FILE).data(Qt.ItemDataRole.BackgroundRole).color()
        assert colour != ROW_COLOURS[Verdict.FLAGGED]
    assert "unlike any radiograph" in tab.proxy.index(by_file["held.dcm"], NOTE).data()
    tab.table.sortByColumn(DECISION, Qt.SortOrder.AscendingOrder)
    assert [row.decision for row in tab.visible_rows()][:2] == ["flagged", "not flagged"]

    out = tmp_path / "out.csv"
    write_csv(out, rows)  # the CSV says the same, in the same order
    read = list(iter_rows(out))
    assert [row.file for row in read] == expected
    assert read[2].probability is None and "unlike any radiograph" in read[2].warnings and read[2].error == ""
    header = out.read_text().splitlines()[0]
    assert header == "file,study_uid,series_uid,probability,decision,threshold,lung_crop_quality,error,sha256,warnings"


def test_the_worklist_sorts_held_back_cases_after_the_decided_ones(qtbot, tmp_path: Path) -> None:
    queue = WorkQueue.in_store(tmp_path)
    results = {"held": ItemResult("done", 0.99, "not diagnosed", 0.5, warnings="unlike any radiograph"),
               "low": ItemResult("done", 0.2, "not flagged", 0.5),
               "high": ItemResult("done", 0.8, "flagged", 0.5),
               "failed": ItemResult("failed", decision=UNREADABLE, error="crashed")}
    for number, name in enumerate(results):
        queue.enqueue(f"1.2.9.{number}", "1.2", "1.2.3", tmp_path / f"{name}.dcm", name)
    for item in queue.claim(10):
        queue.finish(item.id, results[Path(item.path).stem])
    items = queue.items(FLAGGED_FIRST)
    assert [Path(item.path).stem for item in items] == ["high", "low", "held", "failed"]
    model = WorklistModel()
    model.set_rows(items)
    assert model.index(2, WORKLIST_PROBABILITY).data() == ""  # a held-back case shows no score
    assert model.index(0, WORKLIST_PROBABILITY).data() == "0.800"


# -- item 5: "Diagnose anyway" for every held-back case; a forced result says so -------------------------------------
@pytest.fixture()
def everything_far_out(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every case is held back by the out-of-domain check, as the shipped head holds back adult PNGs."""
    monkeypatch.setattr("engine.diagnoser.domain_flags", lambda _novelty: (FAR,))


def test_a_png_held_back_as_out_of_domain_can_be_diagnosed_at_the_readers_request(
        qtbot, factory, tmp_path: Path, everything_far_out, monkeypatch: pytest.MonkeyPatch) -> None:
    from engine.audit import AuditLog

    Image.fromarray(chest_like(300, 280, dtype=np.uint8, high=250)).save(tmp_path / "adult.png")
    window = make_window(qtbot, factory)
    window.open_path(tmp_path / "adult.png")
    wait_for_result(qtbot, window)
    panel = window.panel
    assert panel.headline.text() == "Not diagnosed" and panel.anyway_button.isVisible()
    assert "Diagnose anyway" in panel.status.text()
    panel.anyway_button.click()
    assert "Not diagnosed" not in panel.headline.text() and "reader's request" in panel.headline.text()
    wait_for_result(qtbot, window)
    result = panel.result
    assert result.decision.diagnosed and result.decision.forced
    assert panel.headline.text().endswith("at the reader's request, outside the model's training domain")
    assert panel.bar.isVisible() and not panel.anyway_button.isVisible()
    assert "at the reader's request" in result_lines(result)[0]  # PNG, HTML and SC banners
    assert "at the reader's request" in result.decision.describe()  # the SR's decision text
    monkeypatch.setenv("PNEUMOLLM_DATA", str(tmp_path / "data"))
    entry = AuditLog().record(window.current_image.meta, result, "accepted")
    assert entry["at_readers_request"] == ["far_out_of_domain"]


def test_a_dicom_refused_for_its_tags_is_still_offered_diagnose_anyway(qtbot, factory, tmp_path: Path) -> None:
    window = make_window(qtbot, factory)
    window.open_path(make_dicom(tmp_path / "lat.dcm", chest_like(300, 280), ViewPosition="LL"))
    qtbot.waitUntil(lambda: window.panel.anyway_button.isVisible() and not window.diagnosis_running, timeout=180_000)
    window.panel.anyway_button.click()
    wait_for_result(qtbot, window)
    assert window.panel.headline.text().endswith("at the reader's request, on a lateral view")
