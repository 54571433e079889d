"""The triage worker: drains the work queue with the ``Diagnoser``, in order of arrival.

Results come from ``Diagnoser.iter_diagnose`` and become queue fields through ``engine.triage.row_for`` (the
folder-triage row), so the decision is the result's own (``engine.decision``) and never compared again here.
With a destination configured, each result's DICOM objects (``engine.export``: the TID 1500 SR, the presentation
state, the segmentation, the Secondary Capture, as ``result_kinds`` says) are written next to the store and queued
for sending in the same transaction as the result. A case the head refused before it ran (outside its intended
use) still gets its SR, saying "not diagnosed" and why, so the archive shows that the AI saw it.
"""

from __future__ import annotations

import logging
import threading
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from engine.errors import PneumoError
from engine.io.phi import hash_uid
from engine.pacs.queue import ItemResult, WorkItem, WorkQueue
from engine.result import CaseOutcome
from engine.triage import UNREADABLE, row_for

if TYPE_CHECKING:
    from engine.diagnoser import Diagnoser

log = logging.getLogger(__name__)
# highdicom warns about odd person names by quoting them: a patient's or physician's name in a node's output.
warnings.filterwarnings("ignore", message=r"The string .* is unlikely to represent the intended person name")

RESULTS_DIR = "results"
RESULT_KINDS = ("sr", "sc", "pr", "seg")  # TID 1500 SR, Secondary Capture, presentation state (GSPS), segmentation
DEFAULT_RESULT_KINDS = ("sr", "pr")


class TriageWorker:
    """Diagnose queued instances; ``run`` until ``stop`` is set, waking when ``wake`` is set (a new arrival).

    Args:
        queue: the store's work queue.
        diagnoser: a loaded Diagnoser (its threshold and operating point are the ones results are decided at).
        store: the store folder (SRs go to ``store/results``).
        send_results: write the result objects of each result and queue them for the destination AE.
        result_kinds: which objects, any of ``RESULT_KINDS``: "sr" (TID 1500 SR), "pr" (a Grayscale Softcopy
            Presentation State over the radiograph), "seg" (the lung and zone Segmentation), "sc" (the annotated
            image as a Secondary Capture, which every PACS viewer shows; it costs a second decode of the radiograph).
        uid_key: the key of the UID hashes in log lines (``engine.io.phi.hash_uid``).
        batch_size: instances claimed and diagnosed together (the model batches them).
        on_finished: called with each finished item's SOP instance UID (the viewer refreshes its worklist).
    """

    def __init__(self, queue: WorkQueue, diagnoser: Diagnoser, store: str | Path, *, send_results: bool = False,
                 result_kinds: tuple[str, ...] = DEFAULT_RESULT_KINDS, batch_size: int = 4,
                 on_finished: Callable[[str], None] | None = None, uid_key: bytes | None = None) -> None:
        check_result_kinds(result_kinds)
        self.uid_key = uid_key
        self.result_kinds = result_kinds
        self.queue = queue
        self.diagnoser = diagnoser
        self.store = Path(store)
        self.send_results = send_results
        self.batch_size = max(1, batch_size)
        self.on_finished = on_finished

    def _hash(self, uid: str) -> str | None:
        return hash_uid(uid, self.uid_key)

    def process_available(self, cancelled: Callable[[], bool] = lambda: False) -> int:
        """Diagnose until the queue is empty (or ``cancelled``); how many instances were finished."""
        finished = 0
        while not cancelled():
            items = self.queue.claim(self.batch_size)
            if not items:
                break
            finished += self._process(items)
        return finished

    def run(self, stop: threading.Event, wake: threading.Event | None = None, poll_seconds: float = 2.0) -> None:
        """Drain until ``stop``; rows left running by a killed run must be recovered first (``PacsNode.start``)."""
        while not stop.is_set():
            try:
                self.process_available(stop.is_set)
            except Exception:  # the node keeps receiving; the failure is logged and retried
                log.exception("the triage worker failed; retrying in %.0f s", poll_seconds)
                stop.wait(poll_seconds)
            if wake is not None:
                wake.wait(poll_seconds)
                wake.clear()
            else:
                stop.wait(poll_seconds)

    def _process(self, items: list[WorkItem]) -> int:
        by_path = {Path(item.path): item for item in items}
        done: set[int] = set()
        try:
            for outcome in self.diagnoser.iter_diagnose(list(by_path), self.batch_size):
                item = by_path[outcome.path]
                self._finish(item, outcome)
                done.add(item.id)
        except Exception as exc:  # one broken batch must not stall the queue for ever
            # the traceback may name store paths, which carry UIDs: only at debug level
            log.error("diagnosis failed for %d instance(s) (%s)", len(items) - len(done), type(exc).__name__)
            log.debug("diagnosis failure", exc_info=True)
            message = exc.user_message if isinstance(exc, PneumoError) else \
                f"unexpected error ({type(exc).__name__}); see the server log"
            for item in items:
                if item.id not in done:
                    self.queue.finish(item.id, ItemResult("failed", decision=UNREADABLE, error=message))
        return len(items)

    def _finish(self, item: WorkItem, outcome: CaseOutcome) -> None:
        row = row_for(item.path, item.sha256, outcome)
        paths: tuple[str, ...] = ()
        export_error = None
        if self.send_results and outcome.result is not None and outcome.meta is not None:
            paths, export_error = self._write_results(item, outcome)
        elif self.send_results and outcome.meta is not None and row.decision != UNREADABLE:
            paths, export_error = self._write_not_diagnosed(item, outcome)
        state = "failed" if row.decision == UNREADABLE else "done"
        self.queue.finish(item.id, ItemResult(state, row.probability, row.decision, row.threshold,
                                              row.error or None, row.warnings, paths), send=bool(paths))
        if export_error:
            self.queue.record_send(item.id, sent=False, error=export_error)
        log.info("instance %s: %s", self._hash(item.sop_instance_uid), row.decision)
        if self.on_finished:
            self.on_finished(item.sop_instance_uid)

    def _write_results(self, item: WorkItem, outcome: CaseOutcome) -> tuple[tuple[str, ...], str | None]:
        """The result objects to send, or none and why. Identified: they go back to the archive the study came
        from and must file under its patient (``engine.export`` de-identifies only for exports that leave)."""
        from engine.export import (
            export_presentation_state,
            export_secondary_capture,
            export_segmentation,
            export_structured_report,
        )
        from engine.io import load_image

        assert outcome.result is not None and outcome.meta is not None
        result, meta = outcome.result, outcome.meta
        folder = self.store / RESULTS_DIR
        paths, failures = [], []
        started = time.perf_counter()
        for kind in RESULT_KINDS:  # a fixed order: the SR first, whatever order --send named them in
            if kind not in self.result_kinds:
                continue
            target = folder / f"{item.sop_instance_uid}.{kind}.dcm"
            try:  # one kind that cannot be made (no lungs to draw) must not cost the others
                if kind == "sr":
                    paths.append(export_structured_report(target, meta, result, identified=True))
                elif kind == "pr":
                    paths.append(export_presentation_state(target, meta, result, identified=True))
                elif kind == "seg":
                    paths.append(export_segmentation(target, meta, result, identified=True))
                else:  # the batch's decoded image is gone; the SC draws on its pixels
                    paths.append(export_secondary_capture(target, load_image(item.path), result, identified=True))
            except PneumoError as exc:
                log.warning("no %s for instance %s (%s)", kind, self._hash(item.sop_instance_uid), exc.user_message)
                failures.append(f"{kind}: {exc.user_message}")
        log.debug("result objects written in %.0f ms", (time.perf_counter() - started) * 1e3)
        if not paths:
            return (), "the result could not be written: " + "; ".join(failures)
        if failures:  # the others go; the log said which could not be made and why
            log.info("instance %s: sending %d of %d result objects", self._hash(item.sop_instance_uid), len(paths),
                     len(paths) + len(failures))
        return tuple(str(path) for path in paths), None

    def _write_not_diagnosed(self, item: WorkItem, outcome: CaseOutcome) -> tuple[tuple[str, ...], str | None]:
        """The SR of a case refused before the model ran (no result: no score, no lungs to draw), saying why."""
        from engine.dicom_results.scheme import HeadIdentity
        from engine.export import export_not_diagnosed_report
        from engine.flags import messages

        assert outcome.meta is not None
        error = outcome.error or PneumoError()
        reasons = list(messages(getattr(error, "flags", ()))) or [error.user_message]
        card = self.diagnoser.card
        head = HeadIdentity(card.profile, card.model_id, card.labels[card.positive_index])
        try:
            path = export_not_diagnosed_report(self.store / RESULTS_DIR / f"{item.sop_instance_uid}.sr.dcm",
                                               outcome.meta, head, reasons, identified=True)
        except PneumoError as exc:
            log.warning("no not-diagnosed report for instance %s (%s)", self._hash(item.sop_instance_uid),
                        exc.user_message)
            return (), f"the result could not be written: {exc.user_message}"
        return (str(path),), None


def check_result_kinds(kinds: tuple[str, ...]) -> None:
    """Refuse an empty or unknown choice of result objects, naming the valid ones."""
    if not kinds or set(kinds) - set(RESULT_KINDS):
        raise PneumoError(f"results to send are any of {', '.join(RESULT_KINDS)} (comma-separated), not "
                          f"{','.join(kinds) or 'nothing'}.")
