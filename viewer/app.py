"""Start the Qt application and the main window."""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path

log = logging.getLogger(__name__)
ICON = Path(__file__).resolve().parents[1] / "resources" / "icons" / "pneumollm.png"


def main(argv: Sequence[str] = ()) -> int:
    """Open the main window; ``argv`` may hold one file or folder to open directly."""
    if os.environ.get("CI", "").lower() == "true":
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")  # CI never opens a real window
    from PySide6.QtGui import QIcon
    from PySide6.QtWidgets import QApplication

    from viewer.main_window import MainWindow

    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("PneumoLLM Viewer")
    app.setOrganizationName("PneumoLLM")
    app.setWindowIcon(QIcon(str(ICON)))
    window = MainWindow()
    window.show()
    if argv:
        window.open_path(Path(argv[0]))
    return app.exec()
