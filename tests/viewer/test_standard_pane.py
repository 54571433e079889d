"""The standard beside the study: its pixels never follow the study's window/level, inversion or presets, it zooms
and pans with the study (or not), and it says which standard it is. Standards here are stand-ins (``standins``)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import QEvent, QPointF, Qt
from PySide6.QtGui import QImage, QMouseEvent
from PySide6.QtWidgets import QHBoxLayout, QWidget

from engine.ilo.standards import load_standards
from engine.io import load_image
from tests.dicom_factory import chest_like, make_dicom
from tests.viewer.standins import STAND_IN, make_standards
from viewer.reading_view import ReadingView
from viewer.standard_pane import UNALTERED, StandardPane, fit_scale


def _grab(widget: QWidget) -> bytes:
    image = widget.grab().toImage().convertToFormat(QImage.Format.Format_RGB32)
    return bytes(image.constBits())


@pytest.fixture()
def side_by_side(qtbot, tmp_path: Path) -> Iterator[tuple[ReadingView, StandardPane]]:
    study = ReadingView()
    pane = StandardPane(study)
    host = QWidget()
    row = QHBoxLayout(host)
    row.addWidget(study)
    row.addWidget(pane)
    qtbot.addWidget(host)
    host.resize(1000, 600)
    host.show()
    qtbot.waitExposed(host)
    image = load_image(make_dicom(tmp_path / "study.dcm", chest_like(400, 360), ViewPosition="PA"))
    study.set_image(image)
    pane.set_standards(load_standards(make_standards(tmp_path / "standards")))
    yield study, pane
    host.close()  # the fixture holds the window for the test's duration


def wait_shown(qtbot, pane: StandardPane, name: str) -> None:
    """Until the standard ``name`` is on screen (standards are decoded in the helper process)."""
    qtbot.waitUntil(lambda: pane.current is not None and pane.current.path.name == name, timeout=60_000)


def _relative_zoom(view) -> float:
    return view.transform().m11() / fit_scale(view, view.sceneRect())


def _centre_fraction(view) -> tuple[float, float]:
    centre, rect = view.mapToScene(view.viewport().rect().center()), view.sceneRect()
    return centre.x() / rect.width(), centre.y() / rect.height()


def test_the_standard_is_never_windowed_inverted_or_preset(qtbot, side_by_side, tmp_path: Path) -> None:
    study, pane = side_by_side
    chosen = pane.choose_for("2/2", "q", "q")
    assert chosen.path.name == "22qq.png"
    wait_shown(qtbot, pane, "22qq.png")
    stored = np.asarray(Image.open(tmp_path / "standards" / "22qq.png"))
    np.testing.assert_array_equal(pane.view.displayed, stored)  # the file's own pixels, value for value
    qtbot.wait(50)
    standard_before, study_before = _grab(pane.view.viewport()), _grab(study.viewport())
    center, width = study.image.default_window or (2000.0, 4000.0)
    study.set_window(center + width / 4, width / 5)
    study.set_inverted(True)
    study.apply_preset("bone")
    qtbot.wait(50)
    assert _grab(study.viewport()) != study_before  # the study's picture did change ...
    assert _grab(pane.view.viewport()) == standard_before  # ... the standard's rendered pixels did not
    np.testing.assert_array_equal(pane.view.displayed, stored)
    # The standard takes no window/level drag and no keys of its own.
    view, middle = pane.view, QPointF(200, 200)
    for kind in (QEvent.Type.MouseButtonPress, QEvent.Type.MouseMove, QEvent.Type.MouseButtonRelease):
        point = middle if kind == QEvent.Type.MouseButtonPress else middle + QPointF(80, 60)
        buttons = Qt.MouseButton.NoButton if kind == QEvent.Type.MouseButtonRelease else Qt.MouseButton.RightButton
        view.viewport().event(QMouseEvent(kind, point, QPointF(view.viewport().mapToGlobal(point.toPoint())),
                                          Qt.MouseButton.RightButton, buttons, Qt.KeyboardModifier.NoModifier))
    qtbot.keyClick(view, Qt.Key.Key_I)
    qtbot.wait(50)
    assert _grab(pane.view.viewport()) == standard_before


def test_a_standard_that_cannot_be_decoded_is_named(qtbot, side_by_side, tmp_path: Path) -> None:
    _study, pane = side_by_side
    broken = tmp_path / "standards" / "broken.dcm"
    broken.write_bytes(b"\x00" * 300)
    (tmp_path / "standards" / "index.csv").unlink(missing_ok=True)
    problems: list[str] = []
    pane.problem.connect(problems.append)
    pane.set_standards([replace(pane.standards[0], path=broken)])
    pane.choose_for("0/0")
    qtbot.waitUntil(lambda: bool(problems), timeout=60_000)
    assert problems[0].startswith("broken.dcm: ") and pane.current is None


def test_the_standard_says_what_it_is(qtbot, side_by_side) -> None:
    _study, pane = side_by_side
    pane.choose_for("1/0", "p", "p")
    wait_shown(qtbot, pane, "11pp.png")
    lines = pane.view.corner_lines()
    assert lines[:3] == ["ILO standard 1/1 p/p (11pp.png)", STAND_IN, UNALTERED]
    assert pane.choice.currentText() == "1/1 p/p — 11pp.png"
    pane.choice.setCurrentIndex(pane.choice.findText("A — A.png"))  # the reader picks another
    wait_shown(qtbot, pane, "A.png")
    assert pane.current.shows == "A" and pane.view.corner_lines()[0] == "ILO standard A (A.png)"


def test_zoom_and_pan_follow_the_study_and_can_be_uncoupled(qtbot, side_by_side) -> None:
    study, pane = side_by_side
    pane.choose_for("1/1", "p", "p")
    wait_shown(qtbot, pane, "11pp.png")
    study.zoom(2.0)
    assert _relative_zoom(pane.view) == pytest.approx(_relative_zoom(study), rel=0.02)
    study.horizontalScrollBar().setValue(study.horizontalScrollBar().maximum())  # pan to the right edge
    study.verticalScrollBar().setValue(study.verticalScrollBar().minimum())
    assert _centre_fraction(pane.view) == pytest.approx(_centre_fraction(study), abs=0.03)
    pane.view.zoom(1.5)  # the standard leads too
    assert _relative_zoom(study) == pytest.approx(_relative_zoom(pane.view), rel=0.02)
    pane.sync.setChecked(False)
    before = pane.view.transform().m11()
    study.zoom(2.0)
    assert pane.view.transform().m11() == pytest.approx(before)


def test_with_both_spacings_the_standard_follows_at_the_same_scale_in_mm(qtbot, side_by_side, tmp_path: Path) -> None:
    study, pane = side_by_side
    study.set_image(load_image(make_dicom(tmp_path / "fine.dcm", chest_like(400, 360), modality="DX",
                                          ImagerPixelSpacing=[0.1, 0.1])))
    folder = tmp_path / "dicom-standards"
    folder.mkdir()
    make_dicom(folder / "11pp.dcm", chest_like(300, 280), modality="DX", ImagerPixelSpacing=[0.2, 0.2])
    (folder / "index.csv").write_text(f"file,shows,note\n11pp.dcm,1/1 p/p,{STAND_IN}\n")
    pane.set_standards(load_standards(folder))
    pane.choose_for("1/1")
    wait_shown(qtbot, pane, "11pp.dcm")
    study.zoom(1.7)
    # Screen pixels per mm: the study's 0.1 mm pixels at scale s, the standard's 0.2 mm pixels at 2 s.
    assert pane.view.transform().m11() == pytest.approx(study.transform().m11() * 2, rel=1e-3)
