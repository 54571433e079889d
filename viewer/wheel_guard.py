"""The mouse wheel changes a combo box or spin box only when the reader has given it focus.

Qt's combo and spin boxes take wheel events under the pointer, focused or not: scrolling a long form with the
pointer over a field silently changes its value (an ILO profusion went 1/1 -> 3/+ in four wheel steps). With
``guard_wheel(root)`` such a field takes focus only by click or Tab (``Qt.StrongFocus``) and an unfocused one
passes the wheel on, so the form scrolls instead.
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtWidgets import QAbstractScrollArea, QAbstractSpinBox, QApplication, QComboBox, QSlider, QWidget

GUARDED: tuple[type[QWidget], ...] = (QComboBox, QAbstractSpinBox, QSlider)


class WheelGuard(QObject):
    """Event filter: a wheel over an unfocused guarded field scrolls the nearest scroll area, never the value."""

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() != QEvent.Type.Wheel or not isinstance(watched, QWidget) or watched.hasFocus():
            return False
        area = _scroll_area_above(watched)
        if area is not None:
            # Sent on explicitly: Qt propagates only spontaneous wheel events to parents.
            QApplication.sendEvent(area.viewport(), event)
            return True
        event.ignore()  # no scroll area: let a spontaneous wheel go to the parents, the value stays
        return True


def _scroll_area_above(widget: QWidget) -> QAbstractScrollArea | None:
    parent = widget.parentWidget()
    while parent is not None:
        if isinstance(parent, QAbstractScrollArea):
            return parent
        parent = parent.parentWidget()
    return None


def guard_wheel(root: QWidget) -> WheelGuard:
    """Guard every combo box, spin box and slider under ``root`` (those present now); returns the filter."""
    guard = root.findChild(WheelGuard, "wheel_guard")
    if guard is None:
        guard = WheelGuard(root)
        guard.setObjectName("wheel_guard")
    for kind in GUARDED:
        for field in root.findChildren(kind):
            field.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
            field.installEventFilter(guard)
    return guard
