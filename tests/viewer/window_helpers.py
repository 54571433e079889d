"""Helpers shared by the reading-window tests."""

from __future__ import annotations

from viewer.main_window import MainWindow
from viewer.settings import ViewerSettings

RESULT_TIMEOUT_MS = 180_000  # the machine is slow and shared; a tiny-model diagnosis takes about a second


def make_window(qtbot, factory, **settings) -> MainWindow:  # noqa: ANN001
    """A shown main window with the given diagnoser factory and settings; no model is built until needed."""
    window = MainWindow(settings=ViewerSettings(**settings), diagnoser_factory=factory, preload_model=False)
    qtbot.addWidget(window)
    window.resize(1400, 900)
    window.show()
    return window


def wait_for_result(qtbot, window: MainWindow, timeout: int = RESULT_TIMEOUT_MS) -> None:  # noqa: ANN001
    """Until the result is shown and the worker has finished (map and saliency included)."""
    qtbot.waitUntil(lambda: window.panel.result is not None, timeout=timeout)
    qtbot.waitUntil(lambda: not window.diagnosis_running, timeout=timeout)  # the busy button can blink off


def wait_for_image(qtbot, window: MainWindow, name: str, timeout: int = 60_000) -> None:  # noqa: ANN001
    qtbot.waitUntil(lambda: window.view.image is not None and window.view.image.meta.path.name == name,
                    timeout=timeout)
