"""Keep decoder libraries' chatter off the user's terminal, and keep it as evidence.

pydicom logs a full traceback for every pixel plugin that fails, native JPEG/JPEG 2000 decoders print
straight to file descriptor 2 ("Corrupt JPEG data: ..."), and several libraries raise ``UserWarning``. The user
gets one clear line from ``engine.errors``; these details go to our log (INFO, tracebacks at DEBUG: ``-v`` /
``-vv`` on the command line). What a decoder said is also returned, because a decoder that complained but still
produced pixels is the first sign of a damaged codestream (``engine.io.dicom`` then cross-checks).
"""

from __future__ import annotations

import logging
import os
import sys
import tempfile
import threading
import warnings
from collections.abc import Iterator
from contextlib import contextmanager

log = logging.getLogger("engine.io.decoders")

# fd 2 is process-wide: two threads redirecting it at once would lose each other's restore.
_FD_LOCK = threading.Lock()


class _Reroute(logging.Handler):
    """Records of the ``pydicom`` logger become one INFO line in ours (traceback only at DEBUG)."""

    def emit(self, record: logging.LogRecord) -> None:
        log.info("pydicom: %s", record.getMessage())
        if record.exc_info:
            log.debug("pydicom traceback", exc_info=record.exc_info)


def route_library_logging() -> None:
    """Send pydicom's log records through ours instead of the root handler (idempotent)."""
    pydicom_log = logging.getLogger("pydicom")
    if not any(isinstance(handler, _Reroute) for handler in pydicom_log.handlers):
        pydicom_log.addHandler(_Reroute())
    pydicom_log.propagate = False


@contextmanager
def captured(*, native: bool = True) -> Iterator[list[str]]:
    """Run a decode with Python warnings (and, with ``native``, fd 2) captured; yields the list they are added
    to. Header reads pass ``native=False``: only pixel decoders write to fd 2."""
    said: list[str] = []
    with _FD_LOCK, warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        if native:
            with _native_stderr(said):
                yield said
        else:
            yield said
    for warning in caught:
        said.append(f"{warning.category.__name__}: {warning.message}")
    for line in said:
        log.info("decoder said: %s", line)


@contextmanager
def _native_stderr(said: list[str]) -> Iterator[None]:
    try:
        saved = os.dup(2)
    except OSError:  # no fd 2 (a windowed app on Windows): nothing to capture
        yield
        return
    with tempfile.TemporaryFile() as sink:
        sys.stderr.flush()
        os.dup2(sink.fileno(), 2)
        try:
            yield
        finally:
            try:
                sys.stderr.flush()
            finally:
                os.dup2(saved, 2)
                os.close(saved)
            sink.seek(0)
            said.extend(line for line in sink.read().decode("utf-8", "replace").splitlines() if line.strip())
