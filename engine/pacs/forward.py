"""Send results back: the result objects (SR, presentation state, SEG, SC) of each instance to a destination AE.

Sends wait in the work queue (``send_state``); a failed attempt is retried with exponential back-off, and after
the last attempt the item stays ``failed`` with the reason — visible in the worklist, never dropped silently.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from pathlib import Path

from engine.errors import PneumoError
from engine.io.phi import hash_uid
from engine.pacs.peer import Destination, PacsError, apply_timeouts, associate
from engine.pacs.queue import WorkQueue

log = logging.getLogger(__name__)


def store_files(destination: Destination, paths: Sequence[str | Path], *, calling_ae: str = "PNEUMOLLM",
                timeout: float = 30.0) -> list[int]:
    """C-STORE each file to ``destination`` on one association; their statuses. Raises PacsError when the
    association cannot be made."""
    from pydicom import dcmread
    from pynetdicom import AE

    headers = [dcmread(str(path), stop_before_pixels=True) for path in paths]
    ae = AE(ae_title=calling_ae)
    apply_timeouts(ae, timeout)
    contexts = {(h.SOPClassUID, h.file_meta.TransferSyntaxUID) for h in headers}
    for sop_class, syntax in sorted(contexts):
        ae.add_requested_context(sop_class, [syntax])
    assoc = associate(ae, destination)
    statuses = []
    try:
        for path, header in zip(paths, headers, strict=True):
            try:
                status = assoc.send_c_store(str(path))
            except ValueError as exc:  # pynetdicom: no accepted presentation context for this object
                raise PacsError(f"{destination} does not accept {header.SOPClassUID.name} objects in "
                                f"{header.file_meta.TransferSyntaxUID.name}.") from exc
            statuses.append(int(status.Status) if "Status" in status else -1)  # -1: no answer (timeout, abort)
    finally:
        assoc.release()
    return statuses


def is_stored(status: int) -> bool:
    """Success, or a warning (B000-BFFF: stored with coercion or discarded elements)."""
    return status == 0 or 0xB000 <= status <= 0xBFFF


class Forwarder:
    """Drain pending sends of ``queue`` to ``destination`` with retries.

    Args:
        attempts: tries per item before it is marked failed.
        first_delay: seconds before the first retry; doubled each time, at most ``max_delay``.
    """

    def __init__(self, queue: WorkQueue, destination: Destination, *, calling_ae: str = "PNEUMOLLM",
                 attempts: int = 5, first_delay: float = 5.0, max_delay: float = 300.0, timeout: float = 30.0,
                 uid_key: bytes | None = None) -> None:
        self.queue = queue
        self.destination = destination
        self.calling_ae = calling_ae
        self.attempts = max(1, attempts)
        self.first_delay = first_delay
        self.max_delay = max_delay
        self.timeout = timeout
        self.uid_key = uid_key  # of the UID hashes in log lines (engine.io.phi.hash_uid)

    def send_due(self) -> int:
        """One pass over the sends that are due; how many were sent."""
        sent = 0
        for item in self.queue.due_sends():
            files = item.result_files
            if not files or not all(Path(path).is_file() for path in files):
                self.queue.record_send(item.id, sent=False, error="the result file is missing")
                continue
            try:
                statuses = store_files(self.destination, files, calling_ae=self.calling_ae, timeout=self.timeout)
                refused = [status for status in statuses if not is_stored(status)]
                error = f"{self.destination} answered status 0x{refused[0] & 0xFFFF:04X}" if refused else None
            except PneumoError as exc:
                error = exc.user_message
            except Exception as exc:  # noqa: BLE001 — a broken result file or network stack: retried, then shown
                error = f"send failed ({type(exc).__name__})"
            if error is None:
                self.queue.record_send(item.id, sent=True)
                sent += 1
                log.info("result of instance %s sent to %s", hash_uid(item.sop_instance_uid, self.uid_key),
                         self.destination)
                continue
            attempt = item.send_attempts + 1
            retry_at = None
            if attempt < self.attempts:
                retry_at = time.time() + min(self.max_delay, self.first_delay * 2 ** (attempt - 1))
            self.queue.record_send(item.id, sent=False, error=error, retry_at=retry_at)
            log.warning("result of instance %s not sent (attempt %d of %d): %s",
                        hash_uid(item.sop_instance_uid, self.uid_key), attempt, self.attempts, error)
        return sent

    def run(self, stop: threading.Event, poll_seconds: float = 1.0) -> None:
        while not stop.is_set():
            try:
                self.send_due()
            except Exception:  # keep forwarding after a database hiccup
                log.exception("the result forwarder failed; retrying")
            stop.wait(poll_seconds)
