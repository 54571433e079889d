"""What the model does for the viewer, as named requests: load, read a case, zone evidence, triage, drain a store.

Every request is a handler ``handler(session, *args, progress=..., cancelled=..., **kwargs) -> value``: it reports
through ``progress`` (the reading's typed events, triage rows) and stops when ``cancelled()`` turns true. The same
handlers run in the model process (``engine.model_process``: the window never imports torch) and in-process
(``LocalModel``: tests, and callers that already hold a model), so both paths are one code path.
Values and events cross processes by pickling: they are torch-free types (``engine.result`` and friends).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from engine.decision import ThresholdChoice
from engine.errors import PneumoError
from engine.flags import Flag
from engine.io import LoadedImage
from engine.model.head_card import HeadCard
from engine.reading import ModelSession, read_case
from engine.result import DiagnosisResult

log = logging.getLogger(__name__)
Progress = Callable[[Any], None]
Cancelled = Callable[[], bool]


class ModelClient(Protocol):
    """Where the viewer sends model requests: ``ModelProcess`` (its own process) or ``LocalModel``."""

    def run(self, name: str, *args: Any, progress: Progress | None = None, cancelled: Cancelled | None = None,
            **kwargs: Any) -> Any: ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class ModelInfo:
    """What the window shows about the loaded model (the status bar, About, Settings, exports)."""

    profile: str
    device: str  # e.g. "CPU (fp32)", "CUDA bf16"
    card: HeadCard
    folder: str  # the head folder
    source_names: tuple[str, ...]  # the source tokens' names, for attention plots
    warnings: tuple[Flag, ...] = ()  # e.g. a CPU fallback


def load(session: ModelSession, *, progress: Progress, cancelled: Cancelled) -> ModelInfo:
    """Build the model (seconds; progress lines while the backbones load) and describe it."""
    diagnoser = session.diagnoser(lambda line: progress(("status", line)))
    return ModelInfo(diagnoser.profile, diagnoser.runtime.label, diagnoser.card, str(diagnoser.checkpoint.folder),
                     tuple(diagnoser.source_names), tuple(diagnoser.warnings))


def read(session: ModelSession, image: LoadedImage | str | Path, *, progress: Progress, cancelled: Cancelled,
         allow_flagged: bool = False, saliency: bool = True) -> None:
    """``engine.reading.read_case`` with each event handed to ``progress``; a path is decoded by the Diagnoser,
    once, at the resolution the model needs (the screen has its own full decode)."""
    for event in read_case(session, image, allow_flagged=allow_flagged, saliency=saliency):
        if cancelled():
            return
        progress(event)


def zone_evidence(session: ModelSession, result: DiagnosisResult, saliency: np.ndarray | None, *,
                  progress: Progress, cancelled: Cancelled) -> Any:
    """The six ILO zones' evidence for a shown result (seven crops through the model; Grad-CAM reused)."""
    from engine.ilo.zone_evidence import zone_evidence as measure
    from engine.ilo.zones import lung_zones

    if result.lung_crop.fallback:
        raise PneumoError("The lungs were not found reliably (fallback crop) — no zones and no zone evidence.")
    diagnoser = session.diagnoser()
    return measure(lung_zones(result.lung_mask), result.lung_crop, diagnoser.crop_probabilities, saliency)


def triage_folder(session: ModelSession, folder: str | Path, out: str | Path, batch_size: int = 8, *,
                  progress: Progress, cancelled: Cancelled) -> Any:
    """``engine.triage.triage_folder``, reporting ("status", line), ("progress", Progress) and ("rows", rows)."""
    from engine.triage import triage_folder as run

    progress(("status", "Preparing the model (the first start can take a while)…"))
    diagnoser = session.diagnoser()
    return run(folder, out, diagnoser, batch_size=batch_size, progress=lambda p: progress(("progress", p)),
               cancelled=cancelled, on_rows=lambda rows: progress(("rows", rows)))


def drain_store(session: ModelSession, store: str | Path, *, send_results: bool, result_kinds: tuple[str, ...],
                batch_size: int, progress: Progress, cancelled: Cancelled) -> int:
    """Diagnose everything a DICOM node's store has queued now (the viewer's node receives; this diagnoses)."""
    from engine.pacs.node import node_key
    from engine.pacs.queue import WorkQueue
    from engine.pacs.worker import TriageWorker

    diagnoser = session.diagnoser()
    queue = WorkQueue.in_store(Path(store))
    try:
        worker = TriageWorker(queue, diagnoser, store, send_results=send_results, result_kinds=result_kinds,
                              batch_size=batch_size, on_finished=lambda uid: progress(("finished", uid)),
                              uid_key=node_key(Path(store)))  # the node's log key, as its SCP hashes with
        return worker.process_available(cancelled)
    finally:
        queue.close()


def choose_threshold(session: ModelSession, choice: ThresholdChoice, *, progress: Progress,
                     cancelled: Cancelled) -> None:
    session.choose_threshold(choice)


HANDLERS: dict[str, Callable[..., Any]] = {
    "load": load, "read": read, "zone_evidence": zone_evidence, "triage_folder": triage_folder,
    "drain_store": drain_store, "choose_threshold": choose_threshold,
}


def run_handler(session: ModelSession, name: str, args: tuple[Any, ...], kwargs: dict[str, Any], *,
                progress: Progress, cancelled: Cancelled) -> Any:
    try:
        handler = HANDLERS[name]
    except KeyError:
        raise PneumoError(f"The model has no request {name!r}.") from None
    return handler(session, *args, progress=progress, cancelled=cancelled, **kwargs)


class LocalModel:
    """The requests served in this process, by a ``ModelSession`` the caller owns (tests; in-process use)."""

    def __init__(self, session: ModelSession) -> None:
        self.session = session

    def run(self, name: str, *args: Any, progress: Progress | None = None, cancelled: Cancelled | None = None,
            **kwargs: Any) -> Any:
        return run_handler(self.session, name, args, kwargs, progress=progress or (lambda _value: None),
                           cancelled=cancelled or (lambda: False))

    @property
    def running(self) -> bool:
        return True

    def close(self) -> None:
        """Nothing to stop: the session's model goes with the session."""


def serve(conn: Any, spec: Any) -> None:
    """The model process's main loop (``engine.model_process`` spawns it): requests in order, cancels at once.

    A listener thread receives; this thread runs one request at a time and is the only one that sends. A closed
    pipe (the window went away) or ``None`` ends the process.
    """
    import queue
    import threading

    logging.basicConfig(level=logging.WARNING, format="%(levelname)s model process %(name)s: %(message)s")
    session = ModelSession(lambda progress: spec.build(progress=progress))
    inbox: queue.Queue[Any] = queue.Queue()  # requests, in the order they came
    cancels: dict[int, threading.Event] = {}
    guard = threading.Lock()

    def listen() -> None:
        while True:
            try:
                message = conn.recv()
            except (EOFError, OSError):
                message = None
            if message is None:
                inbox.put(None)
                return
            if message[0] == "cancel":
                with guard:
                    cancels.setdefault(message[1], threading.Event()).set()
            else:
                with guard:
                    cancels.setdefault(message[0], threading.Event())
                inbox.put(message)

    threading.Thread(target=listen, daemon=True, name="model-requests").start()
    while (message := inbox.get()) is not None:
        request, name, args, kwargs = message
        with guard:
            flag = cancels[request]

        def report(value: Any, request: int = request) -> None:
            conn.send((request, "progress", value))

        try:
            value = run_handler(session, name, args, kwargs, progress=report, cancelled=flag.is_set)
            conn.send((request, "done", value))
        except (EOFError, OSError, BrokenPipeError):
            return
        except BaseException as exc:  # noqa: BLE001 - every failure goes back to the window as a readable error
            conn.send((request, "error", _portable(exc)))
        finally:
            with guard:
                cancels.pop(request, None)


def _portable(exc: BaseException) -> BaseException:
    """``exc`` if it survives pickling (the engine's errors do), else a ``PneumoError`` naming it."""
    import pickle

    if not isinstance(exc, PneumoError):
        log.error("model request failed", exc_info=exc)
    try:
        pickle.loads(pickle.dumps(exc))
        return exc
    except Exception:  # noqa: BLE001 - whatever made it unpicklable
        return PneumoError(f"The model failed ({type(exc).__name__}); see the log.")
