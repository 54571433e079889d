"""What the screenshot scripts share: the checkout on the path, the data folders, and an event-loop wait."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(ROOT))
DICOM = ROOT.parent / "shared" / "data" / "dicom"


def wait(condition: Callable[[], bool], seconds: float) -> None:
    """Run the event loop until ``condition()`` holds (checked every 100 ms) or ``seconds`` pass."""
    from PySide6.QtCore import QEventLoop, QTimer

    loop = QEventLoop()
    timer = QTimer()
    timer.timeout.connect(lambda: loop.quit() if condition() else None)
    timer.start(100)
    QTimer.singleShot(int(seconds * 1000), loop.quit)
    loop.exec()
