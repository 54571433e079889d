"""Reading a case in the main window: the patient header, read-first, a headline that says what is known,
warnings as loud as the verdict, triage order and docks, and the small things (Diagnose without an image,
the pixel read-out after a reset, the crop label clear of the corner text, a new head clears the old result)."""

from __future__ import annotations

import logging
from dataclasses import replace
from pathlib import Path

import numpy as np
from PySide6.QtCore import QPointF, QRectF

from engine.progress import Progress
from engine.reference_map import out_of_domain_flag
from engine.result import CaseOutcome
from engine.triage import TriageRow, row_for
from tests.dicom_factory import PHI_VALUES, chest_like, make_dicom
from tests.viewer.helpers import make_window, wait_for_image, wait_for_result
from viewer.diagnosis_panel import headline
from viewer.settings import ViewerSettings
from viewer.triage_tab import NOTE, TriageTableModel


def patient_dicom(path: Path) -> Path:
    return make_dicom(path, chest_like(300, 280), ViewPosition="PA", StudyDate="20240315", PatientSex="F")


def test_patient_header_in_the_corner_and_title_never_in_logs(qtbot, factory, tmp_path: Path, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    window = make_window(qtbot, factory)
    window.open_path(patient_dicom(tmp_path / "a.dcm"))
    wait_for_result(qtbot, window)
    lines = window.view.identity_lines()
    assert lines[0] == "DOE, Jane" and "ID MRN-4471-XYZ" in lines
    assert "b. 1961-02-03 (63 y) F" in lines and "Study 2024-03-15  Acc ACC-99812" in lines and "View PA" in lines
    assert "DOE, Jane" in window.windowTitle() and "MRN-4471-XYZ" in window.windowTitle()
    # Drawn: the top-right block has light text pixels on the dark background.
    picture = window.view.viewport().grab().toImage()
    right = window.view.corner_rects()[1].toRect()
    bright = [picture.pixelColor(x, y).lightness() for x in range(right.left(), right.right(), 2)
              for y in range(right.top(), right.bottom(), 2)]
    assert max(bright) > 200
    assert "<hidden>" in repr(window.identity) and "Doe" not in str(window.identity)
    # Teaching / screenshots: the de-identified display hides it everywhere on screen.
    before = window.settings.copy()
    window.settings.deidentified_display = True
    window.apply_settings(before)
    assert window.view.identity_lines() == ["De-identified display"]
    assert not any(value in window.windowTitle() for value in ("DOE", "Doe", PHI_VALUES["PatientID"]))
    assert ViewerSettings.load().deidentified_display
    logged = caplog.text
    assert not any(value in logged for value in (*PHI_VALUES.values(), "DOE, Jane", "1961-02-03"))


def test_a_raster_file_says_it_carries_no_identity(qtbot, factory, tmp_path: Path) -> None:
    from PIL import Image

    Image.fromarray(chest_like(dtype=np.uint8, high=250)).save(tmp_path / "a.png")
    window = make_window(qtbot, factory, auto_diagnose=False)
    window.open_path(tmp_path / "a.png")
    wait_for_image(qtbot, window, "a.png")
    assert window.view.identity_lines() == ["No patient identity in this file"]


def test_read_first_holds_the_result_until_the_reader_asks(qtbot, factory, tmp_path: Path) -> None:
    assert ViewerSettings().read_first, "read-first is the default"
    window = make_window(qtbot, factory, read_first=True)
    window.open_path(patient_dicom(tmp_path / "a.dcm"))
    qtbot.waitUntil(lambda: window.result_held and not window.diagnosis_running, timeout=180_000)
    panel = window.panel
    assert panel.result is None and "held back" in panel.headline.text() and panel.reveal_button.isVisible()
    assert not window.view.has_overlay("box") and panel.crop.pixmap().isNull()  # nothing of the model shows
    assert not panel.accept_button.isEnabled()
    window.menus.reveal.trigger()  # the key A
    assert panel.result is not None and not panel.reveal_button.isVisible()
    qtbot.waitUntil(lambda: window.view.has_overlay("box"), timeout=2000)  # drawn on the next turn of the loop
    assert "flagged for review" in panel.headline.text() or "below the operating threshold" in panel.headline.text()
    # The next image is held again.
    window.open_path(patient_dicom(tmp_path / "b.dcm"))
    qtbot.waitUntil(lambda: window.result_held, timeout=180_000)
    panel.reveal_button.click()
    assert panel.result is not None


def test_headline_says_score_against_threshold_and_warnings_are_as_loud(qtbot, factory, tmp_path: Path) -> None:
    window = make_window(qtbot, factory)
    window.open_path(patient_dicom(tmp_path / "a.dcm"))
    wait_for_result(qtbot, window)
    panel, result = window.panel, replace(window.panel.result, warnings=())
    low = result.at_threshold(max(0.0, result.probability - 0.01))
    label = result.positive_label
    assert headline(low) == (f"{label} score {result.probability:.2f} ≥ threshold {low.threshold:.2f}: "
                             "flagged for review")
    high = result.at_threshold(min(1.0, result.probability + 0.01))
    assert headline(high) == (f"{label} score {result.probability:.2f} < threshold {high.threshold:.2f}: "
                              "below the operating threshold")
    panel.show_decision(low.with_warning(out_of_domain_flag(97.0)))
    assert panel.headline.text() == headline(panel.result)
    assert panel.domain.font().pointSize() == panel.headline.font().pointSize() and panel.domain.font().bold()
    assert "Intended use of this head" in panel.intended_use.text()


def test_out_of_domain_reaches_the_triage_note_and_csv_warnings(qtbot, factory, tmp_path: Path) -> None:
    window = make_window(qtbot, factory)
    window.open_path(patient_dicom(tmp_path / "a.dcm"))
    wait_for_result(qtbot, window)
    result = window.panel.result.with_warning(out_of_domain_flag(97.0))
    outcome = CaseOutcome(tmp_path / "a.dcm", Progress(1, 1, 0.0), window.current_image.meta, result)
    row = row_for("a.dcm", "digest", outcome)
    assert "unlike the model's training cases" in row.warnings
    model = TriageTableModel()
    model.add_rows([row])
    assert "unlike the model's training cases" in model.index(0, NOTE).data()


def test_diagnose_needs_an_image_and_a_new_head_clears_the_old_result(qtbot, factory, tmp_path: Path) -> None:
    window = make_window(qtbot, factory)
    assert not window.panel.diagnose_button.isEnabled()
    window.open_path(patient_dicom(tmp_path / "a.dcm"))
    wait_for_result(qtbot, window)
    assert window.panel.diagnose_button.isEnabled()
    window._head_changed(None)
    assert window.panel.result is None and not window.view.has_overlay("box")
    assert "new head" in window.panel.status.text()
    qtbot.waitUntil(lambda: window.diagnoser is not None, timeout=60_000)


def test_pixel_readout_follows_presets_and_reset(qtbot, factory, tmp_path: Path) -> None:
    window = make_window(qtbot, factory, auto_diagnose=False)
    window.open_path(patient_dicom(tmp_path / "a.dcm"))
    wait_for_image(qtbot, window, "a.dcm")
    view = window.view
    centre = view.viewport().rect().center()
    qtbot.mouseMove(view.viewport(), centre)
    view._report_pixel(QPointF(centre))  # offscreen, a synthetic move does not always arrive
    view.apply_preset("lung")
    assert f"W {view.window[1]:.0f} L {view.window[0]:.0f}" in window.pixel_label.text()
    window.reset_view()
    expected = "" if view.window is None else f"W {view.window[1]:.0f} L {view.window[0]:.0f}"
    assert window.pixel_label.text().startswith("x ") and window.pixel_label.text().endswith(expected)


def test_crop_label_clear_of_the_corner_text(qtbot, factory, tmp_path: Path) -> None:
    window = make_window(qtbot, factory)
    window.open_path(patient_dicom(tmp_path / "a.dcm"))
    wait_for_result(qtbot, window)
    view = window.view
    for _ in range(2):  # fitted, then zoomed in so the box reaches the view's corners
        label = view._box_label
        top_left = view.mapFromScene(label.pos())
        rect = QRectF(top_left.x(), top_left.y(), label.boundingRect().width(), label.boundingRect().height())
        assert not any(rect.intersects(corner) for corner in view.corner_rects()), (rect, view.corner_rects())
        view.zoom(1.6)


def test_triage_order_next_previous_and_docks_follow_the_tab(qtbot, factory, tmp_path: Path) -> None:
    window = make_window(qtbot, factory, auto_diagnose=False)
    folder = tmp_path / "inbox"
    folder.mkdir()
    for name in ("a", "b", "c"):
        patient_dicom(folder / f"{name}.dcm")
    tab = window.triage_tab
    tab._run_folder = folder.resolve()
    tab.model.set_rows([TriageRow("a.dcm", probability=0.2), TriageRow("b.dcm", probability=0.9),
                        TriageRow("c.dcm", probability=0.5)])
    window.tabs.setCurrentWidget(tab)
    assert not window.study_dock.isVisible() and not window.overlay_dock.isVisible()
    window.open_from_triage((folder / "b.dcm").resolve())  # highest first: b, c, a
    assert window.study_dock.isVisible() and window.overlay_dock.isVisible()
    wait_for_image(qtbot, window, "b.dcm")
    window.step_image(1)
    wait_for_image(qtbot, window, "c.dcm")
    window.step_image(1)
    wait_for_image(qtbot, window, "a.dcm")
    window.step_image(-1)
    wait_for_image(qtbot, window, "c.dcm")
    window.open_path(folder)  # a folder opened in the reading view: study order again
    assert window.step_order == "studies"


def test_triage_neighbour_ends(qtbot, factory, tmp_path: Path) -> None:
    window = make_window(qtbot, factory, auto_diagnose=False)
    tab = window.triage_tab
    tab._run_folder = tmp_path.resolve()
    tab.model.set_rows([TriageRow("a.dcm", probability=0.2), TriageRow("b.dcm", probability=0.9)])
    assert tab.neighbour(tmp_path / "b.dcm", -1) is None and tab.neighbour(tmp_path / "a.dcm", 1) is None
    assert tab.neighbour(tmp_path / "b.dcm", 1) == (tmp_path / "a.dcm").resolve()
    assert tab.neighbour(tmp_path / "zzz.dcm", 1) is None


def test_installing_a_head_in_the_wizard_clears_the_old_heads_result(qtbot, factory, tmp_path: Path) -> None:
    """Issue 17: after Install the old head's result stayed on screen — the panel, the map and the ILO dock."""
    window = make_window(qtbot, factory)
    window.open_path(patient_dicom(tmp_path / "a.dcm"))
    wait_for_result(qtbot, window)
    assert window.panel.map.reference is not None and window.ilo.result is not None
    wizard = window.open_finetune_wizard()
    wizard.head_changed.emit(tmp_path / "models" / "head-new")  # what the install page emits
    assert window.panel.result is None and window.panel.map.reference is None
    assert window.ilo.result is None and window.ilo.evidence is None and not window.ilo.measuring
    assert "new head" in window.panel.status.text()
    wizard.close()
    qtbot.waitUntil(lambda: window.diagnoser is not None, timeout=60_000)
