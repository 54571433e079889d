"""True size, the distance tool and the opacity-size gauge on the reading view, driven by the mouse."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import QPoint, QPointF, Qt

from engine.io import load_image
from engine.true_size import NO_SPACING
from tests.dicom_factory import chest_like, make_dicom
from viewer.measure_tools import NOT_CALIBRATED, MeasureTools
from viewer.reading_view import ReadingView


@pytest.fixture()
def view(qtbot) -> ReadingView:
    view = ReadingView()
    qtbot.addWidget(view)
    view.resize(800, 700)
    view.show()
    qtbot.waitExposed(view)
    return view


def _drag(qtbot, widget, start: QPoint, end: QPoint) -> None:
    qtbot.mousePress(widget, Qt.MouseButton.LeftButton, pos=start)
    qtbot.mouseMove(widget, pos=(start + end) / 2)
    qtbot.mouseMove(widget, pos=end)
    qtbot.mouseRelease(widget, Qt.MouseButton.LeftButton, pos=end)


def test_true_size_and_a_ruler_agree_with_the_screen(qtbot, view: ReadingView, tmp_path: Path) -> None:
    view.set_image(load_image(make_dicom(tmp_path / "a.dcm", chest_like(600, 500), modality="DX",
                                         ImagerPixelSpacing=[0.2, 0.2], EstimatedRadiographicMagnificationFactor=1.25)))
    tools = MeasureTools(view)
    messages: list[str] = []
    tools.message.connect(messages.append)
    assert not tools.true_size(None, 1000) and messages[-1] == NOT_CALIBRATED
    # 500 mm over 1000 screen pixels: 0.5 mm a screen pixel; the film's 0.16 mm pixels (0.2 / 1.25) are 0.32 px.
    assert tools.true_size(500.0, 1000)
    assert view.transform().m11() == pytest.approx(0.32) and view.transform().m22() == pytest.approx(0.32)
    assert "true size" in view.corner_lines()[1] and "magnification 1.25" in messages[-1]
    tools.set_ruler_mode(True)
    start, end = QPoint(200, 300), QPoint(500, 300)  # 300 screen pixels = 150 mm on this calibrated screen
    _drag(qtbot, view.viewport(), start, end)
    assert len(tools.rulers) == 1
    assert float(tools.rulers[0].text.split()[0]) == pytest.approx(150.0, abs=1.0)
    assert messages[-1] == f"Distance: {tools.rulers[0].text}"
    view.zoom(1.15)  # any other zoom leaves true size, and the corner says so
    assert "true size" not in view.corner_lines()[1]
    view.set_image(view.image)  # a new image: the old measurements go
    assert tools.rulers == []


def test_without_spacing_no_true_size_and_pixels(qtbot, view: ReadingView, tmp_path: Path) -> None:
    view.set_image(load_image(make_dicom(tmp_path / "b.dcm", chest_like(300, 300), PixelSpacing=[0, 0])))
    tools = MeasureTools(view)
    messages: list[str] = []
    tools.message.connect(messages.append)
    before = view.transform().m11()
    assert not tools.true_size(500.0, 1000) and messages[-1] == NO_SPACING
    assert view.transform().m11() == before
    assert tools.measure(QPointF(10, 10), QPointF(40, 50)).text == "50 px (no pixel spacing)"
    assert not tools.show_gauge(True) and not tools.gauge.isVisible() and "needs millimetres" in messages[-1]


def test_the_gauge_is_at_film_scale_and_drags(qtbot, view: ReadingView, tmp_path: Path) -> None:
    view.set_image(load_image(make_dicom(tmp_path / "c.dcm", chest_like(600, 500), modality="DX",
                                         ImagerPixelSpacing=[0.25, 0.25])))
    tools = MeasureTools(view)
    assert tools.show_gauge(True) and tools.gauge.isVisible()
    assert tools.gauge.diameters_px() == pytest.approx({"p": 6.0, "q": 12.0, "r": 40.0})  # mm / 0.25 mm
    view.zoom(3.0)
    grab = view.mapFromScene(tools.gauge.sceneBoundingRect().center())
    scroll = (view.horizontalScrollBar().value(), view.verticalScrollBar().value())
    before = tools.gauge.pos()
    _drag(qtbot, view.viewport(), grab, grab + QPoint(60, 30))
    moved = tools.gauge.pos() - before
    scale = view.zoom_factor  # screen pixels per image pixel
    assert moved.x() == pytest.approx(60 / scale, abs=0.5) and moved.y() == pytest.approx(30 / scale, abs=0.5)
    assert (view.horizontalScrollBar().value(), view.verticalScrollBar().value()) == scroll  # the film did not pan
    # Off the gauge and without the ruler, a left-drag is the view's own pan.
    assert not tools.gauge.sceneBoundingRect().contains(view.mapToScene(QPoint(750, 650)))
    _drag(qtbot, view.viewport(), QPoint(750, 650), QPoint(650, 550))
    assert (view.horizontalScrollBar().value(), view.verticalScrollBar().value()) != scroll
