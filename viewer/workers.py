"""Run engine work off the GUI thread (TagStudio's CustomRunnable + napari's worker signals).

``Worker`` wraps a function; if it returns a generator, the worker drains it, emitting each yielded value
as ``progress`` and checking the ``cancelled`` flag between yields. Any exception becomes ``failed``; the
last yielded value (or the return value) becomes ``finished``. A function that takes a ``worker`` argument
gets the worker itself (to emit progress or read the flag). Model work (torch) runs on ``model_pool()``,
which has a single thread so the model is never used concurrently; everything else (decoding, folder
scans, thumbnails) runs on ``QThreadPool.globalInstance()``.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal

from engine.errors import Cancelled

log = logging.getLogger(__name__)
_POOLS: dict[str, QThreadPool] = {}


def single_thread_pool(name: str) -> QThreadPool:
    """A named one-thread pool, created on first use: torch work queued there runs one job at a time."""
    if name not in _POOLS:
        pool = QThreadPool()
        pool.setMaxThreadCount(1)
        _POOLS[name] = pool
    return _POOLS[name]


def model_pool() -> QThreadPool:
    """Diagnoses and model loading (one model in memory, one forward pass at a time)."""
    return single_thread_pool("model")


class WorkerSignals(QObject):
    """Created on the GUI thread, so slots connected to these signals run there (queued from the worker)."""

    progress = Signal(object)
    finished = Signal(object)
    failed = Signal(object)
    cancelled = Signal()


class Worker(QRunnable):
    def __init__(self, function: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
        super().__init__()
        self.function, self.args, self.kwargs = function, args, kwargs
        self.signals = WorkerSignals()
        self.is_cancelled = False
        self.setAutoDelete(False)  # the owner keeps a reference; Qt must not delete it under us

    def cancel(self) -> None:
        """Ask the worker to stop at its next yield; nothing more is emitted except ``cancelled``."""
        self.is_cancelled = True

    @property
    def cancelled(self) -> bool:
        return self.is_cancelled

    def run(self) -> None:
        try:
            if "worker" in inspect.signature(self.function).parameters:
                self.kwargs["worker"] = self
            result = self.function(*self.args, **self.kwargs)
            if inspect.isgenerator(result):
                last = None
                for value in result:
                    if self.is_cancelled:
                        result.close()
                        self.signals.cancelled.emit()
                        return
                    self.signals.progress.emit(value)
                    last = value
                result = last
            if self.is_cancelled:
                self.signals.cancelled.emit()
                return
            self.signals.finished.emit(result)
        except Cancelled:
            self.signals.cancelled.emit()
        except BaseException as exc:  # noqa: BLE001 - every failure reaches the one error sink
            log.debug("worker failed", exc_info=True)
            self.signals.failed.emit(exc)


def start(worker: Worker, *, model: bool = False) -> Worker:
    (model_pool() if model else QThreadPool.globalInstance()).start(worker)
    return worker
