"""The main menus: what the reader sees (texts, keys) and that each entry reaches its slot, without a window."""

from __future__ import annotations

from dataclasses import fields

from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QDockWidget, QLabel, QMainWindow, QMenu

from tests.viewer.helpers import make_window
from viewer.menu_actions import MainMenus, MenuSlots
from viewer.overlay_controls import OverlayControls
from viewer.reading_view import ReadingView

OPEN, QUIT = "<standard Open>", "<standard Quit>"  # the platform's keys, read once the application runs
# (text, shortcuts, checkable) per entry, "---" for a separator, a nested list for a sub-menu: the menus as the
# reader knows them. Changing one of these is a change for users, not a refactor.
EXPECTED = {
    "&File": [("&Open image…", [OPEN], False), ("Open &folder…", ["Ctrl+Shift+O"], False), "---",
              ("&Export current case… (PNG, HTML, DICOM SC/SR/PR/SEG)", ["Ctrl+E"], False),
              ("&Triage a folder…", ["Ctrl+T"], False), ("&Query PACS…", [], False), "---",
              ("&Quit", [QUIT], False)],
    "&View": [("&Fit to window", ["F"], False), ("Zoom &in (wheel up)", ["+", "="], False),
              ("Zoom &out (wheel down)", ["-"], False), ("&Invert", ["I"], True), ("&Reset view", ["R"], False),
              ("Window/level &presets (right-drag adjusts)", [("Default", ["1"], False), ("Full range", ["2"], False),
                                                              ("Lung", ["3"], False), ("Bone", ["4"], False)]),
              "---", ("Show lung contour", ["C"], True), ("Show crop rectangle", ["B"], True),
              ("Show saliency (grad-cam)", ["S"], True), "---", ("ILO reading &form", ["Ctrl+I"], False),
              ("&Next image", ["PgDown"], False), ("&Previous image", ["PgUp"], False), "---",
              ("Studies", [], True), ("DICOM tags", [], True), ("Overlays", [], True)],
    "&B reader": [("&Compare with standard…", ["Ctrl+Shift+S"], False),
                  ("&Synchronise zoom and pan with the standard", [], True), "---", ("&True size", ["T"], False),
                  ("&Distance tool (left-drag measures)", ["M"], True), ("C&lear measurements", ["Shift+M"], False),
                  ("Opacity-size &gauge (p 1.5, q 3, r 10 mm)", ["G"], True), "---",
                  ("Cali&brate display…", [], False), "---", ("Reader &agreement…", [], False),
                  ("Export the &NIOSH 2.8 form (PDF)…", [], False)],
    "&Model": [("&Diagnose", ["Ctrl+D"], False), ("&Cancel diagnosis", ["Esc"], False),
               ("&Show AI result (read first)", ["A"], False), "---", ("&Settings…", ["Ctrl+,"], False),
               ("&Fine-tune a new head…", ["Ctrl+Shift+F"], False), "---",  # viewer/head_choice.py
               ("Use a &head folder…", [], False), ("Use the ILO &phantom head (SIMULATION)", [], False),
               ("Use the &installed head", [], False)],
    "&Help": [("&About", ["F1"], False)],
}


def entries(menu: QMenu) -> list:
    out: list = []
    for action in menu.actions():
        if action.isSeparator():
            out.append("---")
        elif action.menu() is not None:
            out.append((action.text(), entries(action.menu())))
        else:
            out.append((action.text(), [key.toString() for key in action.shortcuts()], action.isCheckable()))
    return out


def menu_bar(window: QMainWindow) -> dict[str, list]:
    return {action.text(): entries(action.menu()) for action in window.menuBar().actions()}


def action(window: QMainWindow, text: str) -> QAction:
    found = [item for item in window.findChildren(QAction) if item.text() == text]
    assert len(found) == 1, f"{len(found)} actions {text!r}"
    return found[0]


def test_the_main_window_menus_read_as_the_reader_knows_them(qtbot, factory) -> None:
    window = make_window(qtbot, factory, auto_diagnose=False)
    standard = {OPEN: QKeySequence(QKeySequence.StandardKey.Open), QUIT: QKeySequence(QKeySequence.StandardKey.Quit)}
    expected = {title: [entry if entry == "---" or len(entry) == 2
                        else (entry[0], [standard[k].toString() if k in standard else k for k in entry[1]], entry[2])
                        for entry in menu] for title, menu in EXPECTED.items()}
    assert menu_bar(window) == expected
    assert window.menus.invert is action(window, "&Invert")
    assert window.menus.reveal is action(window, "&Show AI result (read first)")
    assert window.menus.view_menu.title() == "&View" and window.menus.model_menu.title() == "&Model"


def bare_menus(qtbot) -> tuple[QMainWindow, MainMenus, list[str], ReadingView, OverlayControls]:
    """The menus on a bare window: slots that record their own names, a reading view, overlays and one dock."""
    window = QMainWindow()
    qtbot.addWidget(window)
    called: list[str] = []
    slots = MenuSlots(**{field.name: (lambda name=field.name: called.append(name)) for field in fields(MenuSlots)})
    view = ReadingView()
    overlays = OverlayControls(view)
    dock = QDockWidget("Studies", window)
    dock.setWidget(QLabel("studies"))
    return window, MainMenus(window, slots, view, overlays, [dock]), called, view, overlays


def test_each_entry_calls_its_own_slot(qtbot) -> None:
    window, _menus, called, _view, _overlays = bare_menus(qtbot)
    by_text = {"&Open image…": "open_file", "Open &folder…": "open_folder",
               "&Export current case… (PNG, HTML, DICOM SC/SR/PR/SEG)": "export_case",
               "&Triage a folder…": "show_triage", "&Query PACS…": "query_pacs", "&Quit": "quit",
               "&Reset view": "reset_view", "ILO reading &form": "show_ilo_form", "&Next image": "next_image",
               "&Previous image": "previous_image", "&Diagnose": "diagnose", "&Cancel diagnosis": "cancel_diagnosis",
               "&Show AI result (read first)": "reveal_result", "&Settings…": "open_settings",
               "&Fine-tune a new head…": "open_finetune_wizard", "&About": "show_about"}
    assert set(by_text.values()) == {field.name for field in fields(MenuSlots)}
    for text, slot in by_text.items():
        called.clear()
        action(window, text).trigger()
        assert called == [slot], text


def test_invert_drives_the_reading_view(qtbot) -> None:
    _window, menus, called, view, _overlays = bare_menus(qtbot)
    menus.invert.trigger()
    assert view.inverted and menus.invert.isChecked()
    menus.invert.trigger()
    assert not view.inverted and not called  # the view's own entries need no window slot


def test_overlay_entries_and_dock_boxes_mirror_each_other(qtbot) -> None:
    window, _menus, _called, view, overlays = bare_menus(qtbot)
    item, check = action(window, "Show lung contour"), overlays.checks["contour"]
    assert item.isChecked() is check.isChecked() is view.overlay_visible["contour"]
    before = check.isChecked()
    item.trigger()
    assert check.isChecked() is (not before) and view.overlay_visible["contour"] is (not before)
    check.setChecked(before)
    assert item.isChecked() is before
