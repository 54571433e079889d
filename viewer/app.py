"""Start the Qt application and the main window (``pneumollm``, ``python main.py``, the desktop launcher)."""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from engine.notices import RESEARCH_USE

if TYPE_CHECKING:
    from PySide6.QtWidgets import QSplashScreen

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


def show_splash() -> QSplashScreen:
    """A splash on screen at once (well under 1.5 s): the main window's imports take seconds on a cold start."""
    from PySide6.QtCore import Qt
    from PySide6.QtGui import QColor, QPixmap
    from PySide6.QtWidgets import QApplication, QSplashScreen

    picture = QPixmap(420, 160)
    picture.fill(QColor(24, 24, 28))
    splash = QSplashScreen(picture)
    splash.showMessage(f"PneumoLLM Viewer\n{RESEARCH_USE}\n\nstarting…",
                       Qt.AlignmentFlag.AlignCenter, QColor(235, 235, 235))
    splash.show()
    QApplication.processEvents()
    return splash


def preload_under(splash: QSplashScreen) -> None:
    """The plots process starts and the window's own libraries are frozen out of the collector while the splash
    is up. The model's libraries (PyTorch, transformers, scikit-learn) are never imported here: the model runs in
    its own process (``engine.model_process``), started by the window once it is shown."""
    from viewer.figure_view import start_plots_process
    from viewer.gc_pauses import freeze_libraries

    start_plots_process()  # first: its imports run beside ours, done long before the window needs a plot
    freeze_libraries()


def open_window(argv: Sequence[str]) -> MainWindow:
    """The application object and a shown main window (with ``argv[0]`` opened), without the event loop."""
    argv = list(argv)
    if os.environ.get("CI", "").lower() == "true":
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")  # CI never opens a real window
    from PySide6.QtGui import QIcon
    from PySide6.QtWidgets import QApplication

    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    app = QApplication.instance() or QApplication(sys.argv[:1])
    if ICON.exists():
        app.setWindowIcon(QIcon(str(ICON)))
    splash = show_splash()
    from viewer.main_window import MainWindow  # Qt widgets and matplotlib's pieces, under the splash
    preload_under(splash)
    from viewer.settings import APPLICATION, ORGANISATION

    app.setApplicationName(APPLICATION)
    app.setOrganizationName(ORGANISATION)
    window = MainWindow()
    window.show()
    splash.finish(window)
    if argv:
        window.open_path(Path(argv[0]))
    return window
