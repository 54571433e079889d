"""The main window's menus; their actions' slots take no arguments."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from PySide6.QtGui import QAction, QActionGroup, QKeySequence
from PySide6.QtWidgets import QWidget

from viewer.overlay_controls import OVERLAY_LABELS
from viewer.reading_view import PRESETS

if TYPE_CHECKING:
    from viewer.main_window import MainWindow


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


def build_main_menus(window: MainWindow) -> None:
    """File, View, Model and Help; sets the window's ``invert_action``, ``reveal_action``, ``view_menu`` and
    ``model_menu``, which it reads again later."""

    def action(menu: Any, text: str, slot: Callable[[], Any], shortcut: Any = None, checkable: bool = False
               ) -> QAction:
        return add_action(window, menu, text, slot, shortcut, checkable)

    file_menu = window.menuBar().addMenu("&File")
    action(file_menu, "&Open image…", window._choose_file, QKeySequence.StandardKey.Open)
    action(file_menu, "Open &folder…", window._choose_folder, "Ctrl+Shift+O")
    file_menu.addSeparator()
    action(file_menu, "&Export current case… (PNG, HTML, DICOM SC/SR/PR/SEG)", window.export_case, "Ctrl+E")
    action(file_menu, "&Triage a folder…", lambda: window.tabs.setCurrentWidget(window.triage_tab), "Ctrl+T")
    action(file_menu, "&Query PACS…", window.query_pacs)
    file_menu.addSeparator()
    action(file_menu, "&Quit", window.close, QKeySequence.StandardKey.Quit)

    view_menu = window.menuBar().addMenu("&View")
    action(view_menu, "&Fit to window", window.view.fit, "F")
    action(view_menu, "Zoom &in (wheel up)", lambda: window.view.zoom(1.25), ["+", "="])
    action(view_menu, "Zoom &out (wheel down)", lambda: window.view.zoom(0.8), "-")
    window.invert_action = action(view_menu, "&Invert",
                                  lambda: window.view.set_inverted(window.invert_action.isChecked()), "I",
                                  checkable=True)
    action(view_menu, "&Reset view", window._reset_view, "R")
    presets = view_menu.addMenu("Window/level &presets (right-drag adjusts)")
    group = QActionGroup(window)
    for index, name in enumerate(PRESETS, start=1):
        item = action(presets, name.capitalize(), lambda n=name: window.view.apply_preset(n), str(index))
        group.addAction(item)
    view_menu.addSeparator()
    for name, label, key in OVERLAY_LABELS:
        check = window.overlay_checks[name]
        item = action(view_menu, f"Show {label.lower()}", lambda: None, key, checkable=True)
        item.setChecked(check.isChecked())
        item.toggled.connect(check.setChecked)  # toggled(bool) always carries the state
        check.toggled.connect(item.setChecked)
    view_menu.addSeparator()
    action(view_menu, "ILO reading &form", window.show_ilo_form, "Ctrl+I")
    action(view_menu, "&Next image", lambda: window._step(1), "PgDown")
    action(view_menu, "&Previous image", lambda: window._step(-1), "PgUp")
    view_menu.addSeparator()
    for dock in (window.study_dock, window.tag_dock, window.overlay_dock):
        view_menu.addAction(dock.toggleViewAction())
    window.view_menu = view_menu

    model_menu = window.menuBar().addMenu("&Model")
    action(model_menu, "&Diagnose", lambda: window.diagnose(False), "Ctrl+D")
    action(model_menu, "&Cancel diagnosis", window._user_cancelled, "Esc")
    window.reveal_action = action(model_menu, "&Show AI result (read first)", window.reveal_result, "A")
    model_menu.addSeparator()
    action(model_menu, "&Settings…", window._open_settings, "Ctrl+,")
    action(model_menu, "&Fine-tune a new head…", window.open_finetune_wizard, "Ctrl+Shift+F")
    window.model_menu = model_menu
    help_menu = window.menuBar().addMenu("&Help")
    action(help_menu, "&About", window.show_about, "F1")
