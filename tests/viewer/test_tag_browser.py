"""The DICOM tag browser hides identifying tags unless asked; they never reach the log."""

from __future__ import annotations

import logging
from pathlib import Path

from pydicom.dataset import Dataset
from pydicom.sequence import Sequence

from tests.dicom_factory import PHI_VALUES, chest_like, make_dicom
from tests.viewer.helpers import make_window
from viewer.tag_browser import TagBrowser


def test_tag_browser_hides_identifying_tags(qtbot, factory, tmp_path: Path, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    window = make_window(qtbot, factory, auto_diagnose=False)
    path = make_dicom(tmp_path / "a.dcm", chest_like(), ViewPosition="PA")
    window.open_path(path)
    qtbot.waitUntil(lambda: window.tags.rows != [], timeout=60_000)
    tags = window.tags
    text = tags.visible_text()
    assert "ViewPosition" in text and "PixelData" in text
    assert not any(value in text for value in PHI_VALUES.values())
    assert "identifying tag(s) hidden" in tags.note.text()
    tags.show_phi.setChecked(True)
    assert PHI_VALUES["PatientName"] in tags.visible_text() and PHI_VALUES["PatientID"] in tags.visible_text()
    tags.show_phi.setChecked(False)
    assert PHI_VALUES["PatientName"] not in tags.visible_text()
    # Typing in the filter box types; it does not fire the single-key view shortcuts (C, B, S, I, ...).
    window.tag_dock.raise_()
    tags.search.setFocus()
    qtbot.keyClicks(tags.search, "cbsi")
    assert tags.search.text() == "cbsi" and window.overlay_checks["contour"].isChecked()
    assert not window.menus.invert.isChecked()
    assert not any(value in caplog.text for value in PHI_VALUES.values())


def test_sequences_nest_and_filter(qtbot, tmp_path: Path) -> None:
    code = Dataset()
    code.CodeValue, code.CodeMeaning = "T-D3000", "Chest"
    other = Dataset()
    other.PatientID = "SECOND-ID-991"
    path = make_dicom(tmp_path / "a.dcm", chest_like(), AnatomicRegionSequence=Sequence([code]),
                      OtherPatientIDsSequence=Sequence([other]))
    browser = TagBrowser()
    qtbot.addWidget(browser)
    browser.show_file(path)
    items = [browser.tree.topLevelItem(i) for i in range(browser.tree.topLevelItemCount())]
    region = next(item for item in items if item.text(0) == "AnatomicRegionSequence")
    assert [region.child(i).text(0) for i in range(region.childCount())] == ["CodeValue", "CodeMeaning"]
    assert "SECOND-ID-991" not in browser.visible_text()  # inside an identifying sequence
    browser.search.setText("viewpos")
    assert browser.tree.topLevelItemCount() == 0  # no ViewPosition in this file
    browser.search.setText("modality")
    assert browser.tree.topLevelItemCount() == 1


def test_non_dicom_has_no_tags(qtbot, tmp_path: Path) -> None:
    browser = TagBrowser()
    qtbot.addWidget(browser)
    browser.show_file(None)
    assert "not a DICOM file" in browser.note.text() and browser.tree.topLevelItemCount() == 0
