"""Model > Use a head folder… / Use the ILO phantom head (SIMULATION) / Use the installed head: which head the
window's model process serves (``ViewerSettings.head_folder``; empty = the installed head). Any head folder works,
a lung-crop head or an ILO head (``engine.ilo.diagnoser``); the model is rebuilt in its own process, the old
head's result and zone answers leave the screen, and the banner says what the new head is for."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject
from PySide6.QtWidgets import QFileDialog

from engine.errors import ModelLoadError
from engine.model.head_card import load_head_card
from engine.model.store import active_head_dir
from engine.paths import RESOURCES
from viewer.error_dialog import show_error
from viewer.menu_actions import add_action

if TYPE_CHECKING:
    from viewer.main_window import MainWindow

ILO_PHANTOM_HEAD = RESOURCES / "heads" / "ilo-phantom"  # the demonstration head (never the default)
FORGET = "A new head is active: diagnose again to see its answers in each zone."


class HeadChoice(QObject):
    def __init__(self, window: MainWindow) -> None:
        super().__init__(window)
        self.window = window
        menu = window.menus.model_menu
        menu.addSeparator()
        add_action(window, menu, "Use a &head folder…", self.choose)
        if (ILO_PHANTOM_HEAD / "head.json").exists():
            add_action(window, menu, "Use the ILO &phantom head (SIMULATION)", lambda: self.use(ILO_PHANTOM_HEAD))
        add_action(window, menu, "Use the &installed head", lambda: self.use(None))
        window.wizards.head_changed.connect(self._installed)
        # The banner is right from the first frame, before the model process has loaded the head (no head to
        # describe: the model's own error says so when it loads).
        with contextlib.suppress(ModelLoadError):
            window.banner.show_head(load_head_card(Path(window.settings.head_folder) if window.settings.head_folder
                                                   else active_head_dir()), window.panel)

    def choose(self) -> None:
        folder = QFileDialog.getExistingDirectory(self.window, "Head folder", str(ILO_PHANTOM_HEAD.parent))
        if folder:
            self.use(Path(folder))

    def use(self, folder: Path | None) -> bool:
        """Serve the head in ``folder`` (None: the installed head) from now on; False when it holds no head."""
        try:
            card = load_head_card(folder if folder is not None else active_head_dir())
        except ModelLoadError as exc:
            show_error(self.window, exc)
            return False
        window, settings = self.window, self.window.settings
        before = settings.copy()
        settings.head_folder = str(folder) if folder is not None else ""
        window.apply_settings(before)  # a new model process when the head changed; saved with the settings
        if settings.model_differs(before):
            window.ilo.forget_result(FORGET)
        window.banner.show_head(card, window.panel)
        return True

    def _installed(self, _folder: object) -> None:
        """The wizard installed or rolled back a head: that head is the one to use, not a chosen folder."""
        if self.window.settings.head_folder:
            self.use(None)
