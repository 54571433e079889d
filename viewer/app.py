"""Start the Qt application and the main window (``pneumollm``, ``python main.py``, the desktop launcher)."""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from viewer.main_window import MainWindow

log = logging.getLogger(__name__)
ICON = Path(__file__).resolve().parents[1] / "resources" / "icons" / "pneumollm.png"


def main(argv: Sequence[str] | None = None) -> int:
    """Open the main window and run the event loop; ``argv`` may hold one file or folder to open directly.

    ``None`` (the ``pneumollm-viewer`` launcher script) means the process's own arguments.
    """
    from PySide6.QtWidgets import QApplication

    open_window(sys.argv[1:] if argv is None else argv)
    return QApplication.instance().exec()


def open_window(argv: Sequence[str]) -> MainWindow:
    """The application object and a shown main window (with ``argv[0]`` opened), without the event loop."""
    argv = list(argv)
    if os.environ.get("CI", "").lower() == "true":
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")  # CI never opens a real window
    from PySide6.QtGui import QIcon
    from PySide6.QtWidgets import QApplication

    from viewer.main_window import MainWindow
    from viewer.settings import APPLICATION, ORGANISATION

    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName(APPLICATION)
    app.setOrganizationName(ORGANISATION)
    if ICON.exists():
        app.setWindowIcon(QIcon(str(ICON)))
    window = MainWindow()
    window.show()
    if argv:
        window.open_path(Path(argv[0]))
    return window
