"""The B reader menu on the main window: the standard the form points at, beside the study; true size from the
calibration in Settings; the acquisition warning and the quality reasons on the ILO form; the Settings rows.
Standards are stand-ins made by the tests (``standins``)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import QPoint

from engine.ilo.acquisition import BELOW
from engine.ilo.form import problems
from tests.dicom_factory import chest_like, make_dicom
from tests.viewer.helpers import make_window, wait_for_image
from tests.viewer.standins import make_standards
from viewer import breader_tools
from viewer.display_calibration import BAR_PX, CalibrationDialog
from viewer.settings import SettingsDialog, ViewerSettings


def _eight_bit_film(tmp_path: Path) -> Path:
    return make_dicom(tmp_path / "film.dcm", chest_like(400, 360, dtype=np.uint8, high=250), modality="DX",
                      ViewPosition="PA", ImagerPixelSpacing=[0.168, 0.168])


def test_compare_opens_the_forms_standard_beside_the_study(qtbot, factory, tmp_path: Path) -> None:
    window = make_window(qtbot, factory, auto_diagnose=False, standards_folder=str(make_standards(tmp_path / "s")))
    assert "&B reader" in [action.text() for action in window.menuBar().actions()]
    window.open_path(_eight_bit_film(tmp_path))
    wait_for_image(qtbot, window, "film.dcm")
    form = window.ilo.form
    form.profusion.setCurrentIndex(form.profusion.findData("2/1"))
    form.primary.setCurrentIndex(form.primary.findData("q"))
    form.secondary.setCurrentIndex(form.secondary.findData("q"))
    assert window.breader.compare()
    pane = window.breader.pane
    qtbot.waitUntil(lambda: pane.isVisible() and pane.current is not None, timeout=60_000)
    qtbot.wait(100)  # the splitter lays the two panes out
    assert pane.current.shows == "2/2 q/q" and "2/2 q/q" in pane.view.corner_lines()[0]
    study_left = window.view.mapTo(window, QPoint(0, 0)).x()
    pane_left = pane.mapTo(window, QPoint(0, 0)).x()
    assert pane_left >= study_left + window.view.width() - 2  # beside the study, to its right
    assert window.view.width() == pytest.approx(pane.width(), abs=0.1 * pane.width())  # half each
    window.breader.sync_action.trigger()  # the menu's toggle is the pane's check box
    assert not pane.sync.isChecked()
    window.breader.hide_standard()
    assert not pane.isVisible()


def test_compare_without_a_folder_says_where_to_set_it(qtbot, factory, monkeypatch: pytest.MonkeyPatch,
                                                       tmp_path: Path) -> None:
    shown: list[str] = []
    monkeypatch.setattr(breader_tools, "show_error", lambda _parent, exc: shown.append(exc.user_message))
    window = make_window(qtbot, factory, auto_diagnose=False)
    assert not window.breader.compare() and "Settings" in shown[-1] and "licensed" in shown[-1]
    window.settings.standards_folder = str(tmp_path)
    assert not window.breader.compare() and "add index.json or index.csv" in shown[-1]
    assert not window.breader.pane.isVisible()


def test_true_size_from_the_calibration_and_the_acquisition_warning(qtbot, factory, tmp_path: Path) -> None:
    window = make_window(qtbot, factory, auto_diagnose=False, monitor_width_mm=400.0)
    window.open_path(_eight_bit_film(tmp_path))
    wait_for_image(qtbot, window, "film.dcm")
    assert window.breader.true_size()
    screen_width = window.screen().geometry().width()
    assert window.view.transform().m11() == pytest.approx(0.168 / (400.0 / screen_width))
    # 8 bits stored: below the requirements, shown on the form, and the reading goes on (a warning, not a block).
    form = window.ilo.form
    assert not form.acquisition.isHidden() and BELOW in form.acquisition.text() and "8 bits" in form.acquisition.text()
    form.quality.setCurrentIndex(form.quality.findData(2))
    assert "give the reason" in form.problems.text()
    form.quality_reasons["mottle"].setChecked(True)
    form.parenchymal_no.setChecked(True)
    form.pleural_no.setChecked(True)
    assert form.reading().quality_reasons == ("mottle",) and "consistent" in form.problems.text()
    assert problems(form.reading(), require_signature=False) == []
    assert form.quality.itemText(form.quality.findData(4)).startswith("U/R")


def test_settings_keep_the_standards_folder_and_the_monitor_width(qtbot, tmp_path: Path) -> None:
    folder = make_standards(tmp_path / "standards")
    ViewerSettings(standards_folder=str(folder), monitor_width_mm=527.0).save()
    loaded = ViewerSettings.load()
    assert (loaded.standards_folder, loaded.monitor_width_mm) == (str(folder), 527.0)
    dialog = SettingsDialog(loaded)
    qtbot.addWidget(dialog)
    assert dialog.validate() == "" and "ILO standards folder (7 images)" in dialog.message.text()
    (folder / "index.json").write_text('[{"file": "gone.png", "shows": "1/1 p/p"}]')
    assert "gone.png is not in the folder" in dialog.validate()
    dialog.standards.setText("")
    dialog.monitor.setValue(0.0)
    dialog._accept()
    assert loaded.standards_folder == "" and loaded.monitor_width_mm is None


def test_the_calibration_bar_gives_the_monitor_width(qtbot) -> None:
    dialog = CalibrationDialog(None, 1920)
    qtbot.addWidget(dialog)
    assert dialog.width_mm is None  # not calibrated yet
    dialog.bar.setValue(100.0)  # the 400-pixel bar measures 100 mm: 0.25 mm a pixel
    assert dialog.width_mm == pytest.approx(100.0 / BAR_PX * 1920)


def test_a_standard_leading_the_zoom_ends_true_size(qtbot, factory, tmp_path: Path) -> None:
    window = make_window(qtbot, factory, auto_diagnose=False, monitor_width_mm=400.0,
                         standards_folder=str(make_standards(tmp_path / "s")))
    window.open_path(_eight_bit_film(tmp_path))
    wait_for_image(qtbot, window, "film.dcm")
    assert window.breader.true_size() and "true size" in window.view.corner_lines()[1]
    assert window.breader.compare()
    qtbot.waitUntil(lambda: window.breader.pane.current is not None, timeout=60_000)
    window.breader.pane.view.zoom(1.5)  # the standard leads: the study's zoom changes with it
    assert "true size" not in window.view.corner_lines()[1]
