"""The reading window, offscreen: open real DICOMs, diagnose in the worker, panels filled, GUI responsive."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import QTimer

from engine.errors import ModelLoadError
from tests.dicom_factory import PHI_VALUES, chest_like, make_dicom
from viewer.main_window import MainWindow
from viewer.settings import ViewerSettings


def make_window(qtbot, factory, **settings) -> MainWindow:  # noqa: ANN001
    window = MainWindow(settings=ViewerSettings(**settings), diagnoser_factory=factory, preload_model=False)
    qtbot.addWidget(window)
    window.show()
    return window


def wait_for_result(qtbot, window: MainWindow, timeout: int = 180_000) -> None:  # noqa: ANN001
    qtbot.waitUntil(lambda: window.panel.result is not None, timeout=timeout)


def test_diagnosis_runs_in_a_worker_and_fills_the_panels(qtbot, factory, dicom_dir: Path) -> None:  # noqa: ANN001
    window = make_window(qtbot, factory)
    ticks = []
    timer = QTimer()
    timer.timeout.connect(lambda: ticks.append(1))
    timer.start(20)
    window.open_path(dicom_dir / "RG1_UNCR.dcm")
    wait_for_result(qtbot, window)
    qtbot.waitUntil(lambda: not window.panel.cancel_button.isVisible(), timeout=60_000)
    timer.stop()
    assert len(ticks) > 20, "the event loop stalled while the model ran"
    result = window.panel.result
    assert f"{result.probability:.3f}" in window.panel.numbers.text()
    assert "threshold" in window.panel.numbers.text()
    assert window.panel.bar.probability == pytest.approx(result.probability)
    assert not window.panel.crop.pixmap().isNull()
    assert window.panel.map.point is not None and window.panel.map.reference is not None
    assert len(window.panel.attention.figure.axes) >= result.emitter_attention.shape[2]
    assert window.view._contour.isVisible() and window.view._box.isVisible()
    assert "CPU" in window.panel.device.text()
    # MONOCHROME1 is shown with dark lungs and a bright mediastinum.
    shown = window.view.displayed
    rows, cols = shown.shape
    band = slice(int(rows * 0.35), int(rows * 0.55))
    left, right = shown[band, int(cols * .22):int(cols * .32)], shown[band, int(cols * .68):int(cols * .78)]
    lungs = np.r_[left.ravel(), right.ravel()]
    assert lungs.mean() + 20 < shown[band, int(cols * .47):int(cols * .53)].mean()


def test_window_level_invert_and_zoom(qtbot, factory, dicom_dir: Path) -> None:  # noqa: ANN001
    window = make_window(qtbot, factory, auto_diagnose=False)
    window.open_path(dicom_dir / "RG1_UNCI.dcm")
    qtbot.waitUntil(lambda: window.view.displayed is not None, timeout=60_000)
    before = window.view.displayed.copy()
    center, width = window.view.window
    window.view.set_window(center, width / 4)
    narrow = window.view.displayed.copy()
    assert narrow.std() > before.std()
    window.view.set_inverted(True)
    np.testing.assert_array_equal(window.view.displayed, 255 - narrow)
    scale = window.view.transform().m11()
    window.view.zoom(2.0)
    assert window.view.transform().m11() == pytest.approx(scale * 2)
    window.view.apply_preset("lung")
    assert window.view.window is not None
    window.view.reset()
    np.testing.assert_array_equal(window.view.displayed, before)


def test_tag_browser_hides_identifying_tags(qtbot, factory, tmp_path: Path) -> None:  # noqa: ANN001
    window = make_window(qtbot, factory, auto_diagnose=False)
    path = make_dicom(tmp_path / "a.dcm", chest_like(), ViewPosition="PA")
    window.open_path(path)
    qtbot.waitUntil(lambda: window.tags.rows != [], timeout=60_000)
    text = window.tags.visible_text()
    assert "ViewPosition" in text and not any(value in text for value in PHI_VALUES.values())
    window.tags.show_phi.setChecked(True)
    assert PHI_VALUES["PatientName"] in window.tags.visible_text()


def test_corrupt_file_gives_a_message_not_a_crash(qtbot, factory, tmp_path: Path) -> None:  # noqa: ANN001
    window = make_window(qtbot, factory)
    broken = tmp_path / "broken.dcm"
    broken.write_text("this is not an image")
    window.open_path(broken)
    qtbot.waitUntil(lambda: "Not a DICOM file" in window.panel.status.text(), timeout=60_000)
    assert window.panel.result is None and window.panel.headline.text() == "No result"


def test_lateral_view_offers_diagnose_anyway(qtbot, factory, tmp_path: Path) -> None:  # noqa: ANN001
    window = make_window(qtbot, factory)
    window.open_path(make_dicom(tmp_path / "lat.dcm", chest_like(300, 280), ViewPosition="LL"))
    qtbot.waitUntil(lambda: window.panel.anyway_button.isVisible(), timeout=120_000)
    assert "lateral" in window.panel.status.text()
    window.panel.anyway_button.click()
    wait_for_result(qtbot, window)
    assert any("lateral" in flag for flag in window.panel.result.image_flags)
    assert "lateral" in window.panel.warnings.text()


def test_missing_head_is_said_plainly(qtbot, dicom_dir: Path) -> None:  # noqa: ANN001
    def no_head(settings, progress):  # noqa: ANN001, ANN202
        raise ModelLoadError("No trained head is installed — train one with `pneumollm train`.")

    window = make_window(qtbot, no_head)
    window.open_path(dicom_dir / "RG1_UNCR.dcm")
    qtbot.waitUntil(lambda: "No trained head" in window.panel.status.text(), timeout=60_000)
    assert window.panel.result is None and window.view.displayed is not None  # reading still works


def test_review_is_audited_without_phi(qtbot, factory, tmp_path: Path) -> None:  # noqa: ANN001
    from engine.audit import AuditLog

    window = make_window(qtbot, factory)
    window.open_path(make_dicom(tmp_path / "a.dcm", chest_like(300, 280), ViewPosition="PA"))
    wait_for_result(qtbot, window)
    window.panel.override_button.click()
    entries = AuditLog().entries()
    assert entries[-1]["action"] == "overridden" and "final decision" in window.panel.review_note.text()
    assert PHI_VALUES["PatientName"] not in str(entries)


def test_main_window_renders(qtbot, factory, dicom_dir: Path, tmp_path: Path) -> None:  # noqa: ANN001
    window = make_window(qtbot, factory)
    window.resize(1400, 900)
    window.open_path(dicom_dir / "RG1_UNCR.dcm")
    wait_for_result(qtbot, window)
    qtbot.waitUntil(lambda: not window.panel.cancel_button.isVisible(), timeout=60_000)
    picture = window.grab()
    assert picture.save(str(tmp_path / "window.png"))
    image = picture.toImage()
    assert image.width() >= 1000 and image.height() >= 700
