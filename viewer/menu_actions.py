"""Menu actions whose slots take no arguments (the main window's menus)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QWidget


def add_action(parent: QWidget, menu: Any, text: str, slot: Callable[[], Any], shortcut: Any = None,
               checkable: bool = False) -> QAction:
    """Add ``text`` to ``menu``; ``shortcut`` is a key, a standard key or a list of them."""
    item = QAction(text, parent)
    if shortcut is not None:
        shortcuts = shortcut if isinstance(shortcut, list) else [shortcut]
        item.setShortcuts([QKeySequence(s) for s in shortcuts])
    item.setCheckable(checkable)
    # triggered(bool) would hand `checked` to the slot — into a lambda's default argument, say. Slots here take
    # no arguments; a checkable action's state is read from the action itself.
    item.triggered.connect(lambda *_args: slot())
    menu.addAction(item)
    return item
