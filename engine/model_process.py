"""The model in its own process: the viewer's window never imports torch, and a crashed model never takes it down.

``ModelProcess(spec).run(name, *args, progress=..., cancelled=...)`` sends one request (``engine.model_host``'s
handlers) to a spawned child that holds the Diagnoser, and blocks the calling worker thread — never the GUI
thread — until the reply, handing each reported value to ``progress`` as it arrives. One request at a time
(the model is one); ``cancelled()`` is polled while waiting and forwarded to the child, which stops at its next
check. The child starts on the first request (or ``start()``), after the window is up; if it dies (killed, out
of memory, a crashing decoder) the request fails with ``ModelProcessStopped`` and the next one starts a fresh
child, with the reader's threshold choice sent again. The pattern of 3D Slicer's CLI modules and MONAI Label:
the protocol is pickled Python objects over a ``multiprocessing`` pipe, torch-free on the window's side.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import threading
from collections.abc import Callable
from typing import Any

from engine.decision import ThresholdChoice
from engine.diagnoser_spec import DiagnoserSpec
from engine.errors import PneumoError

log = logging.getLogger(__name__)
POLL_SECONDS = 0.05  # how often a waiting request looks at ``cancelled()``


class ModelProcessStopped(PneumoError):
    default_message = "The model process stopped unexpectedly; it starts again with the next request."


class ModelProcess:
    """A child process serving ``engine.model_host`` requests with the model ``spec`` describes."""

    def __init__(self, spec: DiagnoserSpec) -> None:
        self.spec = spec
        self._context = multiprocessing.get_context("spawn")  # fork after Qt (or torch threads) is unsafe
        self._lock = threading.Lock()  # one request at a time
        self._process: Any = None
        self._conn: Any = None
        self._next_id = 0
        self._threshold: ThresholdChoice | None = None
        self.starts = 0  # how many children were started (the first, then one per restart)

    # -- lifecycle ------------------------------------------------------------------------------------
    @property
    def running(self) -> bool:
        return self._process is not None and self._process.is_alive()

    def start(self) -> None:
        """Start the child now if it is not running (it imports torch and loads nothing until asked)."""
        with self._lock:
            self._ensure_started()

    def _ensure_started(self) -> None:
        if self.running:
            return
        self._discard()
        parent, child = self._context.Pipe(duplex=True)
        from engine.model_host import serve

        self._process = self._context.Process(target=serve, args=(child, self.spec), daemon=True,
                                              name="pneumollm-model")
        self._process.start()
        child.close()
        self._conn = parent
        self.starts += 1
        if self._threshold is not None:  # a restarted child decides at the reader's choice too
            self._request("choose_threshold", (self._threshold,), {}, None, None)

    def _discard(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(OSError):
                self._conn.close()
        if self._process is not None and self._process.is_alive():
            self._process.kill()
        if self._process is not None:
            self._process.join(5)
        self._process, self._conn = None, None

    def close(self, timeout: float = 5.0) -> None:
        """Ask the child to finish and wait a little; then make sure it is gone. A request still running after
        ``timeout`` is not waited for: the child is killed and that request fails with ``ModelProcessStopped``."""
        if not self._lock.acquire(timeout=timeout):
            self.kill()
            return
        try:
            if self._conn is not None and self.running:
                try:
                    self._conn.send(None)
                    self._process.join(timeout)
                except (OSError, EOFError, ValueError):
                    pass
            self._discard()
        finally:
            self._lock.release()

    def kill(self) -> None:
        """End the child at once (a test's crash; a cancel that must not wait)."""
        if self._process is not None and self._process.is_alive():
            self._process.kill()
            self._process.join(5)

    # -- requests -------------------------------------------------------------------------------------
    def run(self, name: str, *args: Any, progress: Callable[[Any], None] | None = None,
            cancelled: Callable[[], bool] | None = None, **kwargs: Any) -> Any:
        """Run one request in the child; returns its value or raises its error (``PneumoError`` subclasses as
        raised there; ``ModelProcessStopped`` when the child died)."""
        with self._lock:
            self._ensure_started()
            value = self._request(name, args, kwargs, progress, cancelled)
            if name == "choose_threshold":
                self._threshold = args[0]
            return value

    def _request(self, name: str, args: tuple[Any, ...], kwargs: dict[str, Any],
                 progress: Callable[[Any], None] | None, cancelled: Callable[[], bool] | None) -> Any:
        self._next_id += 1
        request = self._next_id
        try:
            self._conn.send((request, name, args, kwargs))
            cancel_sent = False
            while True:
                if cancelled is not None and not cancel_sent and cancelled():
                    self._conn.send(("cancel", request))
                    cancel_sent = True
                if not self._conn.poll(POLL_SECONDS):
                    if not self._process.is_alive():
                        raise EOFError
                    continue
                answer, kind, value = self._conn.recv()
                if answer != request:
                    continue  # the tail of a request abandoned earlier
                if kind == "progress":
                    if progress is not None:
                        progress(value)
                elif kind == "done":
                    return value
                else:
                    raise value
        except (EOFError, OSError, BrokenPipeError):
            code = self._process.exitcode if self._process is not None else None
            self._discard()
            why = f" (exit code {code})" if code is not None else ""
            log.warning("the model process stopped%s", why)
            raise ModelProcessStopped(f"The model process stopped unexpectedly{why}; it starts again with the "
                                      "next request.") from None
