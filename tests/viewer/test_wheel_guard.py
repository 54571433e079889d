"""The mouse wheel over an unfocused field scrolls the form and changes no value (ILO form, Settings)."""

from __future__ import annotations

from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtGui import QWheelEvent
from PySide6.QtWidgets import QApplication, QComboBox, QScrollArea, QWidget

from tests.engine.ilo.readings import ABNORMAL, reading
from viewer.ilo_form import IloForm
from viewer.settings import SettingsDialog, ViewerSettings


def _wheel(widget: QWidget, steps: int) -> None:
    """``steps`` notches down (negative: up) with the pointer over ``widget``."""
    at = QPointF(widget.rect().center())
    event = QWheelEvent(at, QPointF(widget.mapToGlobal(at.toPoint())), QPoint(), QPoint(0, -120 * steps),
                        Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier, Qt.ScrollPhase.NoScrollPhase, False)
    QApplication.sendEvent(widget, event)


def _scrolled_form(qtbot) -> tuple[IloForm, QScrollArea]:
    form = IloForm()
    form.set_reading(reading(ABNORMAL))
    area = QScrollArea()
    area.setWidget(form)
    area.setWidgetResizable(True)
    area.resize(500, 300)  # much shorter than the form: it scrolls
    qtbot.addWidget(area)
    area.show()
    qtbot.waitExposed(area)
    return form, area


def test_wheel_over_unfocused_fields_scrolls_the_form_and_changes_nothing(qtbot) -> None:
    form, area = _scrolled_form(qtbot)
    before = form.reading()
    bar = area.verticalScrollBar()
    assert bar.maximum() > 0
    fields = [form.quality, form.primary, form.secondary, form.profusion, form.large,
              *form.plaques.extent.values(), *form.plaques.width.values(),
              *form.diffuse.extent.values(), *form.diffuse.width.values()]
    for field in fields:
        assert field.focusPolicy() == Qt.FocusPolicy.StrongFocus  # the wheel does not give focus either
        assert not field.hasFocus()
        _wheel(field, 3)
    assert form.reading() == before
    bar.setValue(0)
    _wheel(form.profusion, 2)
    assert bar.value() > 0  # the form scrolled instead


def test_wheel_over_a_focused_field_still_changes_it(qtbot) -> None:
    form, area = _scrolled_form(qtbot)
    area.activateWindow()
    form.profusion.setFocus()
    qtbot.waitUntil(form.profusion.hasFocus)
    _wheel(form.profusion, 1)
    assert form.reading().small.profusion == "2/1"  # one step after 1/2: the reader asked for it


def test_settings_fields_ignore_an_unfocused_wheel(qtbot) -> None:
    dialog = SettingsDialog(ViewerSettings())
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitExposed(dialog)
    dialog.vision.setFocus()  # the reader is typing a path: no combo box has focus
    combos = dialog.findChildren(QComboBox)
    assert {dialog.profile, dialog.device, dialog.point} <= set(combos)
    before = [combo.currentIndex() for combo in combos]
    for combo in combos:
        assert combo.focusPolicy() == Qt.FocusPolicy.StrongFocus
        _wheel(combo, 1)
    assert [combo.currentIndex() for combo in combos] == before
