"""The reading window, offscreen: open real DICOMs, diagnose in the worker, panels filled, GUI responsive."""

from __future__ import annotations

import threading
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import QTimer

from engine.errors import ModelLoadError
from engine.flags import codes
from engine.reference_map import is_out_of_domain, out_of_domain_flag
from tests.dicom_factory import PHI_VALUES, chest_like, make_dicom
from tests.viewer.helpers import make_window, settle, wait_for_image, wait_for_result
from viewer.main_window import MainWindow


def test_diagnosis_runs_in_a_worker_and_fills_the_panels(qtbot, factory, dicom_dir: Path) -> None:
    gui_thread = threading.get_ident()
    threads, loop_turned = [], []
    loading, turned = threading.Event(), threading.Event()

    def recording_factory(settings, progress):
        threads.append(threading.get_ident())
        loading.set()
        # A model load, in the worker: it finishes only once the GUI thread has run a timer meanwhile.
        loop_turned.append(turned.wait(timeout=60))
        return factory(settings, progress)

    window = make_window(qtbot, recording_factory)
    timer = QTimer()
    timer.timeout.connect(lambda: loading.is_set() and turned.set())
    timer.start(10)
    window.open_path(dicom_dir / "RG1_UNCR.dcm")  # MONOCHROME1, 1955x1841, 15-bit
    wait_for_result(qtbot, window)
    timer.stop()
    assert threads and gui_thread not in threads, "the model was built on the GUI thread"
    # The event loop kept turning while the model was built (stall lengths are measured in benchmarks/bench_gui.py).
    assert loop_turned == [True], "the event loop stopped while the model loaded"
    panel, result = window.panel, window.panel.result
    assert f"{result.probability:.3f}" in panel.numbers.text()
    assert f"{result.threshold:.3f}" in panel.numbers.text() and "threshold" in panel.numbers.text()
    assert panel.bar.probability == pytest.approx(result.probability) and panel.bar.threshold == result.threshold
    assert panel.headline.text().startswith(result.positive_label)
    assert ("flagged for review" in panel.headline.text()) == result.decision.flagged
    assert "CPU" in panel.device.text() and result.device in panel.device.text()
    assert panel.warnings.text(), "quality line missing"
    assert not panel.crop.pixmap().isNull() and "224×224" in panel.crop_caption.text()
    # t-SNE map: reference scatter, the case placed, its nearest references named.
    assert panel.map.reference is not None and panel.map.point is not None and len(panel.map.nearest) == 5
    assert "nearest reference cases" in panel.map_caption.text()
    novelty = panel.map.reference.novelty_percentile(result.embedding)
    assert result.novelty_percentile == pytest.approx(novelty)
    # The panel says what the policy says (both sides pinned in test_out_of_domain_warning_is_as_loud_as_the_verdict).
    assert ("Unlike the model's training cases" in panel.domain.text()) == is_out_of_domain(novelty)
    # Emitter attention: one heatmap per diagnosis token plus the engine map, drawn once its tab is shown.
    panel.tabs.setCurrentIndex(panel.tabs.indexOf(panel.attention.parentWidget()))
    qtbot.waitUntil(lambda: panel.attention.picture is not None, timeout=20000)
    assert panel.attention.heatmap_count == result.emitter_attention.shape[2] + 1
    # Overlays: contour and crop box shown; saliency computed, hidden until asked for.
    view = window.view
    assert view.overlay_shown("contour") and view.overlay_shown("box")
    assert window.saliency is not None and window.saliency.shape == view.image.pixels.shape
    assert view.has_overlay("saliency") and not view.overlay_shown("saliency")
    window.overlay_checks["saliency"].setChecked(True)
    assert view.overlay_shown("saliency")
    # MONOCHROME1 is shown with dark lungs and a bright mediastinum.
    shown = view.displayed
    rows, cols = shown.shape
    band = slice(int(rows * 0.35), int(rows * 0.55))
    left, right = shown[band, int(cols * .22):int(cols * .32)], shown[band, int(cols * .68):int(cols * .78)]
    lungs = np.r_[left.ravel(), right.ravel()]
    assert lungs.mean() + 20 < shown[band, int(cols * .47):int(cols * .53)].mean()


def test_corrupt_file_gives_a_message_not_a_crash(qtbot, factory, tmp_path: Path) -> None:
    window = make_window(qtbot, factory)
    broken = tmp_path / "broken.dcm"
    broken.write_text("this is not an image")
    window.open_path(broken)
    qtbot.waitUntil(lambda: "Not a DICOM file" in window.panel.status.text(), timeout=60_000)
    assert window.panel.result is None and window.panel.headline.text() == "No result"
    assert window.view.image is None and not window.panel.anyway_button.isVisible()


def test_lateral_view_offers_diagnose_anyway(qtbot, factory, tmp_path: Path) -> None:
    window = make_window(qtbot, factory)
    window.open_path(make_dicom(tmp_path / "lat.dcm", chest_like(300, 280), ViewPosition="LL"))
    qtbot.waitUntil(lambda: window.panel.anyway_button.isVisible(), timeout=120_000)
    assert "lateral" in window.panel.status.text() and window.panel.result is None
    window.panel.anyway_button.click()
    wait_for_result(qtbot, window)
    assert "lateral_view" in codes(window.panel.result.image_flags)
    assert "lateral" in window.panel.warnings.text()


def test_missing_head_is_said_plainly(qtbot, dicom_dir: Path) -> None:
    def no_head(settings, progress):
        raise ModelLoadError("No trained head is installed — train one with `pneumollm train`.")

    window = make_window(qtbot, no_head)
    window.open_path(dicom_dir / "RG1_UNCR.dcm")
    qtbot.waitUntil(lambda: "No trained head" in window.panel.status.text(), timeout=60_000)
    panel = window.panel
    assert panel.result is None and window.view.displayed is not None  # reading still works
    assert panel.numbers.text() == "" and not panel.bar.isVisible(), "no made-up numbers"
    assert "not available" in window.device_label.text()


def test_missing_head_with_the_real_factory(qtbot, dicom_dir: Path, monkeypatch) -> None:
    import engine.model.store

    monkeypatch.setattr(engine.model.store, "DEFAULT_HEAD", Path("/nonexistent/default_head"))
    window = make_window(qtbot, None)  # the default factory: ModelStore (empty here) then the shipped head
    window.open_path(dicom_dir / "RG1_UNCR.dcm")
    qtbot.waitUntil(lambda: "No trained head is installed" in window.panel.status.text(), timeout=60_000)
    assert window.panel.result is None


def test_cancel_drops_the_result(qtbot, factory, tmp_path: Path) -> None:
    window = make_window(qtbot, factory, auto_diagnose=False)
    window.open_path(make_dicom(tmp_path / "a.dcm", chest_like(300, 280), ViewPosition="PA"))
    wait_for_image(qtbot, window, "a.dcm")
    window.diagnose(False)
    assert window.panel.cancel_button.isVisible()
    window.panel.cancel_button.click()
    assert "cancelled" in window.panel.status.text().lower() and not window.panel.cancel_button.isVisible()
    from viewer.workers import model_pool

    qtbot.waitUntil(lambda: model_pool().activeThreadCount() == 0, timeout=120_000)
    settle()  # the cancelled worker's last signals, had it sent any
    assert window.panel.result is None and "cancelled" in window.panel.status.text().lower()
    window.diagnose(False)  # and it runs again on request
    wait_for_result(qtbot, window)


def test_first_start_shows_a_progress_dialog_while_the_model_is_prepared(qtbot, factory, monkeypatch) -> None:
    import viewer.main_window as main_window

    monkeypatch.setattr(main_window, "smollm_is_prepared", lambda: False)
    preparing = "Preparing the embedded language model (first start only, about 20 seconds)…"
    shown, released = threading.Event(), []

    def slow_factory(settings, progress):
        progress(preparing)
        released.append(shown.wait(timeout=60))  # prepared only once the GUI has drawn the line in the dialog
        return factory(settings, progress)

    window = MainWindow(diagnoser_factory=slow_factory, preload_model=True)
    qtbot.addWidget(window)
    window.show()
    dialog = window._prepare_dialog
    assert dialog is not None and dialog.isVisible()
    qtbot.waitUntil(lambda: dialog.labelText() == preparing, timeout=60_000)  # the window turns while it prepares
    shown.set()
    qtbot.waitUntil(lambda: window.diagnoser is not None and window._prepare_dialog is None, timeout=60_000)
    assert released == [True], "the model was prepared before the dialog could show it"
    assert dialog.labelText() == "building the tiny test model", "progress lines reach the dialog"
    assert not dialog.isVisible()
    assert "tiny-test" in window.device_label.text()


def test_threshold_override_redraws_the_decision(qtbot, factory, tmp_path: Path) -> None:
    window = make_window(qtbot, factory)
    window.open_path(make_dicom(tmp_path / "a.dcm", chest_like(300, 280), ViewPosition="PA"))
    wait_for_result(qtbot, window)
    result, diagnoser = window.panel.result, window.diagnoser
    before = window.settings.copy()
    window.settings.threshold_override = 0.0  # everything is flagged
    window.apply_settings(before)
    assert window.diagnoser is diagnoser, "a threshold change must not reload the model"
    assert "flagged for review" in window.panel.headline.text() and "override" in window.panel.numbers.text()
    shown = window.panel.result  # the same scores, decided again: the result everything else reads
    assert window.panel.bar.threshold == 0.0 and shown.threshold == 0.0 and shown.decision.flagged
    assert shown.probability == result.probability and shown.decision.threshold_source.value == "settings override"
    before = window.settings.copy()
    window.settings.threshold_override = 1.0 if result.probability < 1.0 else None
    window.apply_settings(before)
    assert "below the operating threshold" in window.panel.headline.text()


def test_an_operating_point_from_settings_decides_the_shown_result(qtbot, factory, tmp_path: Path) -> None:
    window = make_window(qtbot, factory)
    window.open_path(make_dicom(tmp_path / "a.dcm", chest_like(300, 280), ViewPosition="PA"))
    wait_for_result(qtbot, window)
    diagnoser, probability = window.diagnoser, window.panel.result.probability
    card = diagnoser.card
    low = {"threshold": 0.0, "sensitivity": 100.0, "specificity": 0.0}
    diagnoser.checkpoint = replace(diagnoser.checkpoint, card=replace(card, operating_points={"specificity:0.0": low}))
    window.model_info = replace(window.model_info, card=diagnoser.card)  # what the model reports of its head
    before = window.settings.copy()
    window.settings.operating_point = "specificity:0.0"
    window.apply_settings(before)
    shown = window.panel.result
    assert shown.threshold == 0.0 and shown.decision.flagged and shown.probability == probability
    assert shown.decision.threshold_source.value == "operating point"
    # the model decides later results at the choice too (sent to it on its own thread)
    qtbot.waitUntil(lambda: diagnoser.threshold_in_force() == (0.0, shown.decision.threshold_source), timeout=30_000)


def test_a_graded_result_shows_its_suggested_grade(qtbot, factory, tmp_path: Path) -> None:
    window = make_window(qtbot, factory)
    window.open_path(make_dicom(tmp_path / "a.dcm", chest_like(300, 280), ViewPosition="PA"))
    wait_for_result(qtbot, window)
    graded = replace(window.panel.result, grades=("0", "1", "2", "3"), grade_probabilities=(0.1, 0.2, 0.6, 0.1))
    window.panel.show_decision(graded)
    text = window.panel.numbers.text()
    assert "Suggested grade: <b>2</b>" in text and "2: 60%" in text and "0: 10%" in text


def test_review_is_audited_without_phi(qtbot, factory, tmp_path: Path) -> None:
    from engine.audit import AuditLog

    window = make_window(qtbot, factory)
    window.open_path(make_dicom(tmp_path / "a.dcm", chest_like(300, 280), ViewPosition="PA"))
    wait_for_result(qtbot, window)
    window.panel.override_button.click()
    entries = AuditLog().entries()
    assert entries[-1]["action"] == "overridden" and "final decision" in window.panel.review_note.text()
    assert PHI_VALUES["PatientName"] not in str(entries)


def test_open_in_reading_view_and_tabs(qtbot, factory, tmp_path: Path) -> None:
    from PySide6.QtWidgets import QLabel

    window = make_window(qtbot, factory, auto_diagnose=False)
    titles = [window.tabs.tabText(i) for i in range(window.tabs.count())]
    assert titles == ["Reading", "Triage", "Worklist"] and window.tabs.tabBar().isVisible()
    other = QLabel("another")
    window.add_tab(other, "Another")
    assert window.tabs.count() == 4
    window.tabs.setCurrentWidget(other)
    window.open_in_reading_view(make_dicom(tmp_path / "b.dcm", chest_like(), ViewPosition="PA"))
    assert window.tabs.currentWidget() is window.reading
    wait_for_image(qtbot, window, "b.dcm")


def test_main_window_renders(qtbot, factory, dicom_dir: Path, tmp_path: Path) -> None:
    window = make_window(qtbot, factory)
    window.open_path(dicom_dir / "RG1_UNCR.dcm")
    wait_for_result(qtbot, window)
    picture = window.grab()
    assert picture.save(str(tmp_path / "window.png"))
    image = picture.toImage()
    assert image.width() >= 1000 and image.height() >= 700
    view_width = window.view.width()
    assert view_width > window.panel.width(), "the image should get the larger share of the reading area"


def test_dropping_a_file_opens_it(qtbot, factory, tmp_path: Path) -> None:
    from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
    from PySide6.QtGui import QDropEvent

    window = make_window(qtbot, factory, auto_diagnose=False)
    data = QMimeData()
    data.setUrls([QUrl.fromLocalFile(str(make_dicom(tmp_path / "dropped.dcm", chest_like(), ViewPosition="PA")))])
    event = QDropEvent(QPointF(50, 50), Qt.DropAction.CopyAction, data, Qt.MouseButton.LeftButton,
                       Qt.KeyboardModifier.NoModifier)
    window.dropEvent(event)
    wait_for_image(qtbot, window, "dropped.dcm")


def test_app_opens_the_path_and_diagnoses_in_the_model_process(qtbot, tiny_head: Path, monkeypatch,
                                                               tmp_path: Path) -> None:
    import viewer.main_window as main_window
    from engine.diagnoser_spec import DiagnoserSpec
    from engine.model_process import ModelProcess
    from viewer import app

    # open_window is main() without the event loop: quitting the test's QApplication would end later tests' loops.
    monkeypatch.setattr(main_window, "model_spec", lambda settings: DiagnoserSpec.of(tiny_head, device="cpu"))
    path = make_dicom(tmp_path / "cli.dcm", chest_like(300, 280), ViewPosition="PA")
    window = app.open_window([str(path)])
    qtbot.addWidget(window)
    assert window.isVisible() and isinstance(window.model, ModelProcess)
    wait_for_image(qtbot, window, "cli.dcm")
    qtbot.waitUntil(lambda: window.result_held or window.panel.result is not None, timeout=120_000)
    window.reveal_result()  # read-first: the reader asks
    wait_for_result(qtbot, window)
    assert window.model.running and window.model_info is not None and window.model_info.profile == "tiny-test"
    window.model.kill()  # a crashed model: a clear line, and the next Diagnose starts a fresh one
    window.diagnose(False)
    qtbot.waitUntil(lambda: window.panel.result is not None and not window.diagnosis_running, timeout=120_000)
    assert window.model.starts == 2
    window.close()


def test_out_of_domain_warning_is_as_loud_as_the_verdict(qtbot, factory, tmp_path: Path) -> None:
    window = make_window(qtbot, factory)
    window.open_path(make_dicom(tmp_path / "a.dcm", chest_like(300, 280), ViewPosition="PA"))
    wait_for_result(qtbot, window)
    panel = window.panel
    plain = replace(panel.result, warnings=()).at_threshold(panel.result.threshold)
    panel.show_decision(plain)
    assert panel.domain.text() == ""
    panel.show_decision(plain.with_warning(out_of_domain_flag(99.4)))
    assert "Unlike the model's training cases" in panel.domain.text() and "99 %" in panel.domain.text()
    assert panel.domain.styleSheet() == panel.warnings.styleSheet() or "bold" in panel.domain.styleSheet()
    panel.show_decision(plain.with_warning(out_of_domain_flag(100.0)))
    assert "than any of them" in panel.domain.text()  # never "farther than 100 % of those cases"
    panel.clear()  # a new image: no stale warning
    assert panel.domain.text() == ""


def test_long_warnings_are_shown_whole_with_the_review_buttons(qtbot, factory, tmp_path: Path) -> None:
    """Two warnings as large as the headline fit above the map on a 1600x1000 window; on a smaller one the result
    scrolls — a warning is never clipped."""
    from engine.flags import Flag

    window = make_window(qtbot, factory)
    window.resize(1600, 1000)
    window.open_path(make_dicom(tmp_path / "a.dcm", chest_like(300, 280), ViewPosition="PA"))
    wait_for_result(qtbot, window)
    panel = window.panel
    long = ("outside the model's intended use (paediatric (1–5 years) frontal chest radiographs, as its training "
            "set): the patient's age is outside the ages it was trained on (1–5 years)")
    result = panel.result.with_warning(Flag("outside_intended_use", long)).with_warning(out_of_domain_flag(97.0))
    panel.show_decision(result)
    settle()
    assert panel.warnings.font().pointSize() == panel.headline.font().pointSize()
    for label in (panel.warnings, panel.domain):
        assert label.height() >= label.heightForWidth(label.width()), "a warning is clipped"
    assert not panel.result_scroll.verticalScrollBar().isVisible(), "part of the result is scrolled away"
    assert panel.override_button.visibleRegion().boundingRect().height() == panel.override_button.height()
    assert panel.tabs.height() >= 200
    window.resize(1100, 700)
    settle()
    for label in (panel.warnings, panel.domain):
        assert label.height() >= label.heightForWidth(label.width()), "a warning is clipped"
    assert panel.result_scroll.verticalScrollBar().isVisible()  # the rest is reachable
    assert panel.tabs.height() >= 200
