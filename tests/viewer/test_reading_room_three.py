"""Issue 25, round three: zone evidence after a read-first reveal, no stale state across images and tabs, and
the smaller reading-room items (pixel read-out in mm, overlay text legible over bright film, ...)."""

from __future__ import annotations

from pathlib import Path

from engine.ilo.draft import DRAFT_LABEL
from engine.ilo.store import ReadingStore
from engine.io import load_image
from tests.engine.ilo.readings import NORMAL, reading
from tests.viewer.helpers import make_window, wait_for_image
from viewer.ilo_panel import SIGNED_LABEL, IloPanel


def test_zone_evidence_follows_a_read_first_reveal(qtbot, factory, dicom_dir: Path) -> None:
    """ILO panel open, an image opened, A pressed: the chart and the zone overlay get the evidence at once."""
    window = make_window(qtbot, factory, read_first=True)
    window.show_ilo_form()
    window.open_path(dicom_dir / "RG1_UNCR.dcm")
    qtbot.waitUntil(lambda: window.result_held and not window.diagnosis_running, timeout=180_000)
    assert window.ilo.evidence is None and not window.ilo.measuring  # held back: the zones say nothing yet
    window.menus.reveal.trigger()  # the key A; not Ctrl+I again
    qtbot.waitUntil(lambda: window.ilo.evidence is not None, timeout=180_000)
    assert window.ilo.chart.report is window.ilo.evidence and window.ilo.overlay.present
    assert window.ilo.result is window.panel.result


def test_a_reveal_during_the_diagnosis_measures_the_zones_when_it_ends(qtbot, factory, dicom_dir: Path) -> None:
    window = make_window(qtbot, factory, read_first=True, auto_diagnose=False)
    window.show_ilo_form()
    window.open_path(dicom_dir / "RG1_UNCR.dcm")
    wait_for_image(qtbot, window, "RG1_UNCR.dcm")
    window.reveal_result()  # the reader asks before anything is in: later events are drawn as they come
    window.diagnose(False)
    qtbot.waitUntil(lambda: window.ilo.evidence is not None, timeout=180_000)


def test_ilo_panel_forgets_the_previous_images_signature(qtbot, dicom_dir: Path, tmp_path: Path) -> None:
    """Issue 25: "Signed by the reader" and the signed reading stayed on an image nobody had signed. The reader's
    name is the reader at the workstation (double reading) and stays; what was signed belongs to its image."""
    panel = IloPanel(ReadingStore(tmp_path / "r.sqlite"))
    qtbot.addWidget(panel)
    signed, unsigned = load_image(dicom_dir / "RG1_UNCR.dcm"), load_image(dicom_dir / "RG1_UNCI.dcm")
    panel.set_image(signed)
    panel.form.set_reading(reading(NORMAL))
    panel.reader.setText("Dr First")
    assert panel.sign_and_save() is not None and panel.draft_label.text() == SIGNED_LABEL
    panel.set_image(unsigned)  # no saved reading: nobody has signed it
    assert panel.draft_label.text() == DRAFT_LABEL and panel.stored is None and not panel.form.entered
    assert "No saved reading" in panel.history.text() and panel.report.toPlainText() == ""
    panel.set_image(signed)  # its own reading comes back, signed
    assert panel.stored is not None and panel.stored.reader == "Dr First"
    assert panel.draft_label.text() == SIGNED_LABEL


def test_reading_docks_return_after_a_case_opened_from_the_worklist(qtbot, factory, dicom_dir: Path) -> None:
    window = make_window(qtbot, factory, auto_diagnose=False)
    docks = (window.study_dock, window.tag_dock, window.overlay_dock)
    assert all(not dock.isHidden() for dock in docks)
    window.tabs.setCurrentWidget(window.triage_tab)
    window.tabs.setCurrentWidget(window.worklist_tab)  # from one other tab to another
    assert all(dock.isHidden() for dock in docks)
    window.worklist_tab.open_image_requested.emit(dicom_dir / "RG1_UNCR.dcm")  # a row's double-click
    wait_for_image(qtbot, window, "RG1_UNCR.dcm")
    assert window.tabs.currentWidget() is window.reading
    assert all(not dock.isHidden() and dock.toggleViewAction().isChecked() for dock in docks)
    window.tag_dock.hide()  # the reader closes one; it stays closed across the next visit to another tab
    window.tabs.setCurrentWidget(window.worklist_tab)
    window.tabs.setCurrentWidget(window.reading)
    assert window.tag_dock.isHidden() and not window.study_dock.isHidden()


def _pointer_at(view, x: float, y: float) -> None:
    from PySide6.QtCore import QEvent, QPointF, Qt
    from PySide6.QtGui import QMouseEvent

    position = view.mapFromScene(QPointF(x, y))
    view.mouseMoveEvent(QMouseEvent(QEvent.Type.MouseMove, QPointF(position), QPointF(position),
                                    Qt.MouseButton.NoButton, Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier))


def test_pixel_readout_in_mm_with_pixel_spacing(qtbot, factory, tmp_path: Path) -> None:
    from tests.dicom_factory import chest_like, make_dicom

    window = make_window(qtbot, factory, auto_diagnose=False)
    window.open_path(make_dicom(tmp_path / "a.dcm", chest_like(300, 280), PixelSpacing=[0.2, 0.15]))
    wait_for_image(qtbot, window, "a.dcm")
    _pointer_at(window.view, 100.5, 40.5)
    assert window.pixel_label.text().startswith("x 100  y 40 (15.0 mm, 8.0 mm)  value ")
    window.open_path(make_dicom(tmp_path / "b.dcm", chest_like(300, 280)))  # no spacing: pixels only
    wait_for_image(qtbot, window, "b.dcm")
    _pointer_at(window.view, 100.5, 40.5)
    assert window.pixel_label.text().startswith("x 100  y 40  value ") and "mm" not in window.pixel_label.text()


def test_identity_block_moves_below_the_window_text_in_a_narrow_view(qtbot, factory, tmp_path: Path) -> None:
    import numpy as np
    from PIL import Image

    from tests.dicom_factory import chest_like

    Image.fromarray(chest_like(dtype=np.uint8, high=250)).save(tmp_path / "a.png")
    window = make_window(qtbot, factory, auto_diagnose=False)
    window.open_path(tmp_path / "a.png")
    wait_for_image(qtbot, window, "a.png")
    view = window.view
    view.setFixedWidth(380)  # the window/level line and "No patient identity in this file" no longer fit side by side
    qtbot.waitUntil(lambda: view.viewport().width() <= 380)
    left, right = view.corner_rects()
    assert not left.intersects(right) and right.top() >= left.bottom()
    assert right.right() <= view.viewport().width()


def test_corner_text_has_a_dark_rim_over_bright_film(qtbot, factory, tmp_path: Path) -> None:
    """The yellow W/L text over a white film: every edge of a letter meets dark pixels, not white film."""
    import numpy as np
    from PIL import Image

    Image.fromarray(np.full((400, 400), 255, np.uint8)).save(tmp_path / "white.png")
    window = make_window(qtbot, factory, auto_diagnose=False)
    window.open_path(tmp_path / "white.png")
    wait_for_image(qtbot, window, "white.png")
    view = window.view
    view.zoom(6.0)  # the film fills the view, corners included
    rect = view.corner_rects()[0].toRect()
    picture = view.viewport().grab().toImage()
    assert picture.pixelColor(rect.right() + 5, rect.bottom() + 5).lightness() > 240, "the corner is not on film"
    yellow = np.zeros((rect.height(), rect.width()), bool)
    light = np.zeros_like(yellow)
    for y in range(rect.height()):
        for x in range(rect.width()):
            colour = picture.pixelColor(rect.left() + x, rect.top() + y)
            yellow[y, x] = colour.blue() < 200 and colour.red() > 200  # the text colour, not white film
            light[y, x] = colour.lightness() > 200
    assert yellow.sum() > 50, "no corner text found"
    # Left of a letter's leftmost pixel: the rim (dark), where a shadow down-right alone left white film.
    edges = yellow[:, 1:] & ~yellow[:, :-1]
    assert edges.sum() > 10
    white_beside = (edges & light[:, :-1]).sum()
    assert white_beside / edges.sum() < 0.2, (white_beside, edges.sum())
