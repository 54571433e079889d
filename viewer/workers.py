"""Run engine work off the GUI thread (TagStudio's runnable + napari's worker signals).

``Worker(fn, *args)`` calls ``fn(*args)`` on a pool thread. If it returns a generator, the worker drains it,
emitting each yielded value as ``progress`` and stopping between yields once ``cancel()`` was called. Engine
code that reports through a callback instead (training, triage) gets ``Worker.reporting(fn, *args)``, which
passes ``progress=`` and ``cancelled=`` keyword arguments — an explicit choice, never a guess from ``fn``'s
signature. Every exception becomes ``failed``; the return value (or the last yield) becomes ``finished``; a
cancelled run ends with ``stopped`` instead.

Lifetime: the pool holds the worker's bound ``run`` until it returns, and ``WorkerSet`` holds the worker until
its last signal reached the GUI thread, so neither side can lose it early (no QRunnable auto-deletion games).
Model work (torch) runs on ``model_pool()``, one thread, so a model is never used concurrently; decoding, folder
scans and thumbnails run on ``QThreadPool.globalInstance()``.
"""

from __future__ import annotations

import functools
import inspect
import logging
import threading
from collections.abc import Callable
from typing import Any

import shiboken6
from PySide6.QtCore import QObject, QThreadPool, QTimer, Signal

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

    progress = Signal(object)  # a yielded value, or what the job passed to ``progress=``
    finished = Signal(object)  # the return value (or the last yielded value)
    failed = Signal(object)  # the exception
    stopped = Signal()  # the job ended early because ``cancel()`` was called


class Worker:
    def __init__(self, function: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
        self.function, self.args, self.kwargs = function, args, kwargs
        self.signals = WorkerSignals()
        self._cancel = threading.Event()

    @classmethod
    def reporting(cls, function: Callable[..., Any], *args: Any, **kwargs: Any) -> Worker:
        """A worker for callback-style engine code: ``function(*args, progress=..., cancelled=..., **kwargs)``."""
        worker = cls(function, *args, **kwargs)
        worker.kwargs |= {"progress": worker.signals.progress.emit, "cancelled": worker._cancel.is_set}
        return worker

    def cancel(self) -> None:
        """Ask the job to stop at its next yield (or its next ``cancelled()`` check)."""
        self._cancel.set()

    @property
    def cancel_requested(self) -> bool:
        return self._cancel.is_set()

    def run(self) -> None:
        try:
            result = self.function(*self.args, **self.kwargs)
            if inspect.isgenerator(result):
                last = None
                for value in result:
                    if self.cancel_requested:
                        result.close()
                        self.signals.stopped.emit()
                        return
                    self.signals.progress.emit(value)
                    last = value
                result = last
            if self.cancel_requested:
                self.signals.stopped.emit()
                return
            self.signals.finished.emit(result)
        except Cancelled:
            self.signals.stopped.emit()
        except BaseException as exc:
            log.debug("worker failed", exc_info=True)
            self.signals.failed.emit(exc)


def start(worker: Worker, *, model: bool = False, pool: QThreadPool | None = None) -> Worker:
    """Queue ``worker`` on ``pool`` (default: the model pool for torch work, else the global pool)."""
    pool = pool or (model_pool() if model else QThreadPool.globalInstance())
    pool.start(worker.run)
    return worker


class WorkerSet(QObject):
    """Keeps workers referenced until their last signal arrived on the GUI thread; cancels them on request."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._running: set[Worker] = set()

    def start(self, worker: Worker, *, model: bool = False, pool: QThreadPool | None = None) -> Worker:
        self._running.add(worker)
        for signal in (worker.signals.finished, worker.signals.failed, worker.signals.stopped):
            signal.connect(lambda *_args, w=worker: self._running.discard(w))
        return start(worker, model=model, pool=pool)

    def cancel_all(self) -> None:
        for worker in list(self._running):
            worker.cancel()

    def __len__(self) -> int:
        return len(self._running)


class _Relay(QObject):
    """Passes a worker's signals to callbacks that receive the worker first (so a page can tell its current
    job from one it replaced), for as long as ``context`` lives: late signals go nowhere.

    Not a child of ``context``: callbacks usually hold the context (a bound method, a lambda over ``self``), and a
    child relay deleted with the context would free the context's Python wrapper from inside its own C++
    destructor - a segfault when a widget closes with a job in flight. Kept here until the job's last signal."""

    _alive: set[_Relay] = set()

    def __init__(self, context: QObject, worker: Worker, callbacks: dict[str, Callable[..., None] | None]) -> None:
        super().__init__()
        self.context, self.worker, self.callbacks = context, worker, callbacks
        _Relay._alive.add(self)
        worker.signals.progress.connect(self._progress)
        worker.signals.finished.connect(self._finished)
        worker.signals.failed.connect(self._failed)
        worker.signals.stopped.connect(self._stopped)

    def _call(self, name: str, *value: Any) -> None:
        callback = self.callbacks.get(name)
        if callback is not None and shiboken6.isValid(self.context):
            callback(self.worker, *value)

    def _progress(self, value: Any) -> None:
        self._call("progress", value)

    def _end(self, name: str, *value: Any) -> None:
        try:
            self._call(name, *value)
        finally:
            # Released on the next turn of the event loop, outside this slot and outside any Qt destructor; with
            # it the callbacks and the context (if it is gone, only its Python wrapper).
            QTimer.singleShot(0, functools.partial(_Relay._alive.discard, self))

    def _finished(self, value: Any) -> None:
        self._end("finished", value)

    def _failed(self, exc: BaseException) -> None:
        self._end("failed", exc)

    def _stopped(self) -> None:
        self._end("stopped")


def bind(worker: Worker, context: QObject, *, progress: Callable[..., None] | None = None,
         finished: Callable[..., None] | None = None, failed: Callable[..., None] | None = None,
         stopped: Callable[..., None] | None = None) -> Worker:
    """Connect ``worker``'s signals to ``callback(worker, value)`` for as long as ``context`` lives."""
    _Relay(context, worker, {"progress": progress, "finished": finished, "failed": failed, "stopped": stopped})
    return worker
