"""Render the main window offscreen to PNGs for the README:

    QT_QPA_PLATFORM=offscreen python docs/screenshots/make_screenshots.py [--head DIR]

Uses the installed/shipped head (the real model), a real DICOM from ../shared/data/dicom, and writes
``reading_view.png`` (and ``attention.png``) next to this script.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(ROOT))


def main() -> None:
    from PySide6.QtCore import QEventLoop, QTimer
    from PySide6.QtWidgets import QApplication

    from engine.diagnoser import Diagnoser
    from viewer.main_window import MainWindow
    from viewer.settings import ViewerSettings

    parser = argparse.ArgumentParser()
    parser.add_argument("--head", type=Path, default=None)
    parser.add_argument("--image", type=Path, default=ROOT.parent / "shared" / "data" / "dicom" / "RG1_UNCR.dcm")
    args = parser.parse_args()
    app = QApplication.instance() or QApplication([])

    def factory(settings, progress):  # noqa: ANN001, ANN202
        return Diagnoser(args.head, progress=progress)

    window = MainWindow(settings=ViewerSettings(), diagnoser_factory=factory, preload_model=False)
    window.resize(1600, 1000)
    window.show()
    window.open_path(args.image)

    def wait(condition, seconds: float) -> None:  # noqa: ANN001
        loop = QEventLoop()
        timer = QTimer()
        timer.timeout.connect(lambda: loop.quit() if condition() else None)
        timer.start(100)
        QTimer.singleShot(int(seconds * 1000), loop.quit)
        loop.exec()

    wait(lambda: window.panel.result is not None and not window.panel.cancel_button.isVisible(), 600)
    window.overlay_checks["saliency"].setChecked(True)
    wait(lambda: False, 1.0)
    window.grab().save(str(HERE / "reading_view.png"))
    window.panel.tabs.setCurrentIndex(1)
    wait(lambda: False, 1.0)
    window.grab().save(str(HERE / "attention.png"))
    app.quit()


if __name__ == "__main__":
    main()
