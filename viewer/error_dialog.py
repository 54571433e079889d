"""The one place errors are shown: the user sees ``PneumoError.user_message``; tracebacks go to the log."""

from __future__ import annotations

import logging

from PySide6.QtWidgets import QMessageBox, QWidget

from engine.errors import PneumoError

log = logging.getLogger(__name__)


def message_for(exc: BaseException) -> str:
    if isinstance(exc, PneumoError):
        return exc.one_line()
    if isinstance(exc, MemoryError):
        return "Out of memory — close other programs or open a smaller image."
    log.error("unexpected error", exc_info=exc)
    return f"Something unexpected went wrong ({type(exc).__name__}). Details are in the log."


def show_error(parent: QWidget | None, exc: BaseException, title: str = "PneumoLLM Viewer") -> None:
    QMessageBox.warning(parent, title, message_for(exc))
