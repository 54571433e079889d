"""The image view: window/level (presets and right-drag), invert, zoom (wheel), pan, pixel read-out, overlays."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import QEvent, QPoint, QPointF, Qt
from PySide6.QtGui import QMouseEvent, QWheelEvent

from engine.io import load_image
from tests.dicom_factory import chest_like, make_dicom
from tests.viewer.helpers import make_window, wait_for_image
from viewer.reading_view import (
    CONTOUR_RGB,
    PRESETS,
    ReadingView,
    contour_picture,
    lung_outline,
    preset_window,
    screen_picture,
)


def mouse(kind: QEvent.Type, view: ReadingView, point: QPointF, button: Qt.MouseButton) -> QMouseEvent:
    buttons = Qt.MouseButton.NoButton if kind == QEvent.Type.MouseButtonRelease else button
    global_point = QPointF(view.viewport().mapToGlobal(point.toPoint()))
    return QMouseEvent(kind, point, global_point, button, buttons, Qt.KeyboardModifier.NoModifier)


def test_window_level_invert_zoom_and_readout(qtbot, factory, dicom_dir: Path) -> None:
    window = make_window(qtbot, factory, auto_diagnose=False)
    window.open_path(dicom_dir / "RG1_UNCI.dcm")
    wait_for_image(qtbot, window, "RG1_UNCI.dcm")
    view = window.view
    before = view.displayed.copy()
    center, width = view.window if view.window else preset_window(view.image, "full range")
    view.set_window(center, width / 4)
    narrow = view.displayed.copy()
    assert narrow.std() > before.std()
    window.menus.invert.trigger()
    np.testing.assert_array_equal(view.displayed, 255 - narrow)
    # Presets are windows in the float ``pixels`` units and change what is shown.
    shown = {}
    for name in PRESETS:
        view.apply_preset(name)
        shown[name] = view.displayed.copy()
    assert not np.array_equal(shown["lung"], shown["bone"]) and not np.array_equal(shown["lung"], shown["full range"])
    # Right-drag changes the window; left-drag pans once zoomed in; the wheel zooms.
    view.apply_preset("full range")
    middle = QPointF(view.viewport().width() / 2, view.viewport().height() / 2)
    start_window = view.window
    view.mousePressEvent(mouse(QEvent.Type.MouseButtonPress, view, middle, Qt.MouseButton.RightButton))
    view.mouseMoveEvent(mouse(QEvent.Type.MouseMove, view, middle + QPointF(-60, 30), Qt.MouseButton.RightButton))
    view.mouseReleaseEvent(mouse(QEvent.Type.MouseButtonRelease, view, middle, Qt.MouseButton.RightButton))
    assert view.window[1] < start_window[1] and view.window[0] > start_window[0]
    scale = view.zoom_factor
    wheel = QWheelEvent(middle, QPointF(view.viewport().mapToGlobal(middle.toPoint())), QPoint(), QPoint(0, 120),
                        Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier, Qt.ScrollPhase.NoScrollPhase, False)
    view.wheelEvent(wheel)
    assert view.zoom_factor == pytest.approx(scale * 1.15)
    view.zoom(4.0)
    bar = view.horizontalScrollBar()
    value = bar.value()
    view.mousePressEvent(mouse(QEvent.Type.MouseButtonPress, view, middle, Qt.MouseButton.LeftButton))
    view.mouseMoveEvent(mouse(QEvent.Type.MouseMove, view, middle + QPointF(-40, 0), Qt.MouseButton.LeftButton))
    view.mouseReleaseEvent(mouse(QEvent.Type.MouseButtonRelease, view, middle, Qt.MouseButton.LeftButton))
    assert bar.value() == value + 40
    # The status bar reads the float pixel value under the pointer.
    view.mouseMoveEvent(mouse(QEvent.Type.MouseMove, view, middle, Qt.MouseButton.NoButton))
    point = view.mapToScene(middle.toPoint())
    x, y = int(np.floor(point.x())), int(np.floor(point.y()))
    assert window.pixel_label.text().startswith(f"x {x}  y {y}  value {float(view.image.pixels[y, x]):.1f}")
    window.reset_view()
    np.testing.assert_array_equal(view.displayed, before)
    assert not window.menus.invert.isChecked() and view.auto_fit


def test_default_preset_without_a_file_window_shows_the_display_image(qtbot, tmp_path: Path) -> None:
    image = load_image(make_dicom(tmp_path / "a.dcm", chest_like()))
    assert image.default_window is None
    view = ReadingView()
    qtbot.addWidget(view)
    view.set_image(image)
    np.testing.assert_array_equal(view.displayed, image.display)
    view.apply_preset("lung")
    view.apply_preset("default")
    np.testing.assert_array_equal(view.displayed, image.display)


def test_overlays_toggle_fade_and_mark_the_fallback_crop(qtbot, tmp_path: Path) -> None:
    image = load_image(make_dicom(tmp_path / "a.dcm", chest_like(200, 180)))
    view = ReadingView()
    qtbot.addWidget(view)
    view.show()
    view.set_image(image)
    mask = np.zeros((200, 180), bool)
    mask[40:160, 30:80] = mask[40:160, 100:150] = True
    view.set_lung_overlay(mask, (20, 30, 160, 170), fallback=False)
    assert view.overlay_shown("contour") and view.overlay_shown("box")
    assert view._box.pen().style() == Qt.PenStyle.SolidLine and "fallback" not in view._box_label.text()
    view.set_overlay("contour", visible=False)
    view.set_overlay("box", opacity=0.3)
    assert not view.overlay_shown("contour") and view._box.opacity() == pytest.approx(0.3)
    view.set_lung_overlay(mask, (18, 20, 162, 180), fallback=True)
    assert view._box.pen().style() == Qt.PenStyle.DashLine and "fallback crop" in view._box_label.text()
    assert view._box_label.isVisible()
    cam = np.zeros((200, 180), np.float32)
    cam[60:120, 40:90] = 1.0
    view.set_saliency(cam)
    assert not view.overlay_shown("saliency")  # off until asked for
    view.set_overlay("saliency", visible=True)
    assert view.overlay_shown("saliency")
    view.set_image(image)  # a new image drops the old overlays
    assert not any(view.has_overlay(name) for name in ("contour", "box", "saliency"))


def test_pictures_made_in_a_worker_match_what_the_view_would_draw(qtbot, tmp_path: Path) -> None:
    """The film and the contour are converted off the GUI thread; the view shows those pictures as they are."""
    grey = np.tile(np.arange(256, dtype=np.uint8), (3, 1))
    picture = screen_picture(grey)
    assert picture.size().toTuple() == (256, 3)
    assert [picture.pixelColor(x, 1).red() for x in (0, 100, 255)] == [0, 100, 255]
    outline = np.zeros((20, 30), bool)
    outline[5, 3:9] = True
    contour = contour_picture(outline)
    assert contour.pixelColor(4, 5).getRgb() == (*CONTOUR_RGB, 255)
    assert contour.pixelColor(4, 6).alpha() == 0 and contour.pixelColor(20, 5).alpha() == 0
    image = load_image(make_dicom(tmp_path / "a.dcm", chest_like(200, 180)))
    view = ReadingView()
    qtbot.addWidget(view)
    view.show()
    mask = np.zeros((200, 180), bool)
    mask[40:160, 30:80] = True
    view.set_image(image)
    view.set_lung_overlay(mask, (20, 30, 160, 170), fallback=False)  # made here: the same picture
    drawn = view._contour.pixmap().toImage()
    expected = contour_picture(lung_outline(mask))
    assert drawn.size() == expected.size() and drawn.pixelColor(30, 100) == expected.pixelColor(30, 100)
    assert drawn.pixelColor(30, 100).getRgb() == (*CONTOUR_RGB, 255)


def menu_action(window, text: str):
    """A View-menu action by its label (sub-menus included), as the reader would find it."""
    from PySide6.QtGui import QAction

    for action in window.findChildren(QAction):
        if action.text().replace("&", "") == text:
            return action
    raise AssertionError(f"no action {text!r}")


def test_window_presets_from_the_menu_and_keys(qtbot, factory, tmp_path: Path) -> None:
    window = make_window(qtbot, factory, auto_diagnose=False)
    window.open_path(make_dicom(tmp_path / "a.dcm", chest_like(300, 280), ViewPosition="PA"))
    wait_for_image(qtbot, window, "a.dcm")
    menu_action(window, "Lung").trigger()  # the menu entry (a checkable action: triggered(bool) fires)
    assert window.view.preset == "lung"
    qtbot.keyClick(window, Qt.Key.Key_4)  # the key the menu names
    assert window.view.preset == PRESETS[3]
    menu_action(window, "Full range").trigger()
    assert window.view.preset == "full range"


def test_overlay_toggles_from_the_view_menu(qtbot, factory, tmp_path: Path) -> None:
    window = make_window(qtbot, factory, auto_diagnose=False)
    window.open_path(make_dicom(tmp_path / "a.dcm", chest_like(300, 280), ViewPosition="PA"))
    wait_for_image(qtbot, window, "a.dcm")
    for name, label in (("contour", "Show lung contour"), ("box", "Show crop rectangle"),
                        ("saliency", "Show saliency (grad-cam)")):
        item, check = menu_action(window, label), window.overlay_checks[name]
        before = check.isChecked()
        item.trigger()
        assert check.isChecked() is (not before) and item.isChecked() is (not before)
        check.setChecked(before)  # and the dock's box drives the menu entry back
        assert item.isChecked() is before
