"""The main window's menus: ``MainMenus`` builds File, View, Model and Help and holds the actions the window
reads again; what each entry does comes in as ``MenuSlots``, so the menus never reach into the window."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from PySide6.QtGui import QAction, QActionGroup, QKeySequence
from PySide6.QtWidgets import QDockWidget, QMainWindow, QMenu, QWidget

from viewer.overlay_controls import OVERLAY_LABELS, OverlayControls
from viewer.reading_view import PRESETS, ReadingView

Slot = Callable[[], Any]


def add_action(parent: QWidget, menu: Any, text: str, slot: Slot, shortcut: Any = None,
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


@dataclass(frozen=True)
class MenuSlots:
    """What the window does for each entry that is not the reading view's own; every slot takes no arguments."""

    open_file: Slot
    open_folder: Slot
    export_case: Slot
    show_triage: Slot
    query_pacs: Slot
    quit: Slot
    reset_view: Slot  # the view's own reset, plus whatever the window resets with it
    show_ilo_form: Slot
    next_image: Slot
    previous_image: Slot
    diagnose: Slot
    cancel_diagnosis: Slot  # the reader's Cancel (Esc): says so in the panel
    reveal_result: Slot
    open_settings: Slot
    open_finetune_wizard: Slot
    show_about: Slot


class MainMenus:
    """File, View, Model and Help in ``window``'s menu bar.

    The reading view's own entries (fit, zoom, invert, presets) drive ``view`` directly; the overlay entries
    mirror ``overlays``' check boxes; ``docks`` get their show/hide entries at the end of View.
    """

    def __init__(self, window: QMainWindow, slots: MenuSlots, view: ReadingView, overlays: OverlayControls,
                 docks: Sequence[QDockWidget]) -> None:
        self._window = window
        bar = window.menuBar()
        file_menu = bar.addMenu("&File")
        self._add(file_menu, "&Open image…", slots.open_file, QKeySequence.StandardKey.Open)
        self._add(file_menu, "Open &folder…", slots.open_folder, "Ctrl+Shift+O")
        file_menu.addSeparator()
        self._add(file_menu, "&Export current case… (PNG, HTML, DICOM SC/SR/PR/SEG)", slots.export_case, "Ctrl+E")
        self._add(file_menu, "&Triage a folder…", slots.show_triage, "Ctrl+T")
        self._add(file_menu, "&Query PACS…", slots.query_pacs)
        file_menu.addSeparator()
        self._add(file_menu, "&Quit", slots.quit, QKeySequence.StandardKey.Quit)

        self.view_menu: QMenu = bar.addMenu("&View")
        self._add(self.view_menu, "&Fit to window", view.fit, "F")
        self._add(self.view_menu, "Zoom &in (wheel up)", lambda: view.zoom(1.25), ["+", "="])
        self._add(self.view_menu, "Zoom &out (wheel down)", lambda: view.zoom(0.8), "-")
        self.invert: QAction = self._add(self.view_menu, "&Invert", lambda: view.set_inverted(self.invert.isChecked()),
                                         "I", checkable=True)
        self._add(self.view_menu, "&Reset view", slots.reset_view, "R")
        presets = self.view_menu.addMenu("Window/level &presets (right-drag adjusts)")
        group = QActionGroup(window)
        for index, name in enumerate(PRESETS, start=1):
            group.addAction(self._add(presets, name.capitalize(), lambda n=name: view.apply_preset(n), str(index)))
        self.view_menu.addSeparator()
        for name, label, key in OVERLAY_LABELS:
            overlays.mirror(name, self._add(self.view_menu, f"Show {label.lower()}", lambda: None, key,
                                            checkable=True))
        self.view_menu.addSeparator()
        self._add(self.view_menu, "ILO reading &form", slots.show_ilo_form, "Ctrl+I")
        self._add(self.view_menu, "&Next image", slots.next_image, "PgDown")
        self._add(self.view_menu, "&Previous image", slots.previous_image, "PgUp")
        self.view_menu.addSeparator()
        for dock in docks:
            self.view_menu.addAction(dock.toggleViewAction())

        self.model_menu: QMenu = bar.addMenu("&Model")
        self._add(self.model_menu, "&Diagnose", slots.diagnose, "Ctrl+D")
        self._add(self.model_menu, "&Cancel diagnosis", slots.cancel_diagnosis, "Esc")
        self.reveal: QAction = self._add(self.model_menu, "&Show AI result (read first)", slots.reveal_result, "A")
        self.model_menu.addSeparator()
        self._add(self.model_menu, "&Settings…", slots.open_settings, "Ctrl+,")
        self._add(self.model_menu, "&Fine-tune a new head…", slots.open_finetune_wizard, "Ctrl+Shift+F")
        help_menu = bar.addMenu("&Help")
        self._add(help_menu, "&About", slots.show_about, "F1")

    def _add(self, menu: QMenu, text: str, slot: Slot, shortcut: Any = None, checkable: bool = False) -> QAction:
        return add_action(self._window, menu, text, slot, shortcut, checkable)
