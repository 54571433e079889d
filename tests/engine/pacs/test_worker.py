"""The node's triage worker (engine/pacs/worker.py) against a real queue: arrival order, unreadable files, a batch
that breaks, cancelling between batches, the result objects it writes and queues for sending, and its loop."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pydicom
import pytest

import engine.export
from engine.diagnoser import Diagnoser
from engine.errors import PneumoError
from engine.pacs.queue import WorkQueue
from engine.pacs.worker import TriageWorker
from engine.progress import Progress
from engine.result import CaseOutcome
from engine.segment import LungSegmenter
from engine.triage import UNREADABLE
from tests.dicom_factory import chest_like, make_dicom
from tests.head_factory import make_tiny_head


class ScriptedDiagnoser:
    """Answers each path with an unreadable-file outcome (what a broken file gives), or raises ``fail_on``'s
    error when it reaches that path (a batch that breaks part-way)."""

    def __init__(self, fail_on: dict[str, Exception] | None = None) -> None:
        self.fail_on = fail_on or {}
        self.batches: list[list[str]] = []

    def iter_diagnose(self, paths: list[Path], batch_size: int) -> Iterator[CaseOutcome]:
        self.batches.append([path.name for path in paths])
        for number, path in enumerate(paths, start=1):
            if path.name in self.fail_on:
                raise self.fail_on[path.name]
            yield CaseOutcome(path, Progress(number, len(paths), 0.0),
                              error=PneumoError(f"{path.name} is not an image"))


def fill(queue: WorkQueue, store: Path, names: list[str]) -> None:
    for index, name in enumerate(names):
        queue.enqueue(f"1.2.{index}", "1.9", "1.9.1", store / name, f"hash{index}", received_at=1000.0 + index)


def states(queue: WorkQueue) -> dict[str, tuple[str, str | None, str | None]]:
    return {Path(item.path).name: (item.state, item.decision, item.error) for item in queue.items()}


def test_only_known_result_kinds_can_be_sent(tmp_path: Path) -> None:
    queue = WorkQueue.in_store(tmp_path)
    for kinds in ((), ("sr", "pdf")):
        with pytest.raises(PneumoError, match="any of sr, sc, pr, seg"):
            TriageWorker(queue, ScriptedDiagnoser(), tmp_path, result_kinds=kinds)  # type: ignore[arg-type]


def test_batches_follow_arrival_and_unreadable_files_fail_with_their_reason(tmp_path: Path) -> None:
    queue = WorkQueue.in_store(tmp_path)
    fill(queue, tmp_path, ["a.dcm", "b.dcm", "c.dcm"])
    finished: list[str] = []
    diagnoser = ScriptedDiagnoser()
    worker = TriageWorker(queue, diagnoser, tmp_path, batch_size=2, on_finished=finished.append)  # type: ignore[arg-type]
    assert worker.process_available() == 3
    assert diagnoser.batches == [["a.dcm", "b.dcm"], ["c.dcm"]]
    assert states(queue) == {name: ("failed", UNREADABLE, f"{name} is not an image")
                             for name in ("a.dcm", "b.dcm", "c.dcm")}
    assert finished == ["1.2.0", "1.2.1", "1.2.2"]
    assert worker.process_available() == 0  # nothing left


@pytest.mark.parametrize(("error", "said"), [(PneumoError("The model ran out of memory."),
                                              "The model ran out of memory."),
                                             (RuntimeError("/store/1.2.3/secret-path.dcm"),
                                              "unexpected error (RuntimeError); see the server log")])
def test_a_batch_that_breaks_fails_its_unfinished_items_and_the_queue_moves_on(tmp_path: Path, error: Exception,
                                                                               said: str) -> None:
    queue = WorkQueue.in_store(tmp_path)
    fill(queue, tmp_path, ["a.dcm", "b.dcm", "c.dcm", "d.dcm"])
    worker = TriageWorker(queue, ScriptedDiagnoser({"b.dcm": error}), tmp_path, batch_size=3)  # type: ignore[arg-type]
    assert worker.process_available() == 4
    found = states(queue)
    assert found["a.dcm"] == ("failed", UNREADABLE, "a.dcm is not an image")  # finished before the break
    assert found["b.dcm"] == found["c.dcm"] == ("failed", UNREADABLE, said)  # an unknown error names no path
    assert found["d.dcm"] == ("failed", UNREADABLE, "d.dcm is not an image")  # the next batch still ran


def test_cancelling_stops_between_batches(tmp_path: Path) -> None:
    queue = WorkQueue.in_store(tmp_path)
    fill(queue, tmp_path, ["a.dcm", "b.dcm", "c.dcm"])
    diagnoser = ScriptedDiagnoser()
    worker = TriageWorker(queue, diagnoser, tmp_path, batch_size=2)  # type: ignore[arg-type]
    assert worker.process_available(cancelled=lambda: len(diagnoser.batches) == 1) == 2
    assert queue.counts() == {"queued": 1, "running": 0, "done": 0, "failed": 2, "skipped": 0}


def test_the_loop_wakes_for_arrivals_and_ends_when_stopped(tmp_path: Path) -> None:
    queue = WorkQueue.in_store(tmp_path)
    arrived, stop, wake = threading.Event(), threading.Event(), threading.Event()
    worker = TriageWorker(queue, ScriptedDiagnoser(), tmp_path,  # type: ignore[arg-type]
                          on_finished=lambda uid: arrived.set())
    loop = threading.Thread(target=worker.run, args=(stop, wake), kwargs={"poll_seconds": 60.0})
    loop.start()
    try:
        fill(queue, tmp_path, ["a.dcm"])
        wake.set()  # the SCP's signal: a new instance is queued (long before the 60 s poll)
        assert arrived.wait(timeout=60)
    finally:
        stop.set()
        wake.set()
        loop.join(timeout=60)
    assert not loop.is_alive() and queue.counts()["failed"] == 1


@pytest.fixture(scope="module")
def diagnoser(tmp_path_factory: pytest.TempPathFactory, segmenter: LungSegmenter) -> Diagnoser:
    return Diagnoser(make_tiny_head(tmp_path_factory.mktemp("worker") / "head", with_map=False), segmenter=segmenter)


def stored(store: Path, queue: WorkQueue) -> None:
    """One frontal radiograph received into ``store`` and queued, as the SCP does."""
    image = np.clip(chest_like(200, 190), 0, 4095).astype(np.uint16)
    (store / "in").mkdir(parents=True)
    path = make_dicom(store / "in" / "a.dcm", image, ViewPosition="PA")
    header = pydicom.dcmread(path, stop_before_pixels=True)
    queue.enqueue(header.SOPInstanceUID, header.StudyInstanceUID, header.SeriesInstanceUID, path, "hash")


def test_results_are_written_and_queued_for_sending_in_the_same_step(tmp_path: Path, diagnoser: Diagnoser) -> None:
    queue = WorkQueue.in_store(tmp_path)
    stored(tmp_path, queue)
    TriageWorker(queue, diagnoser, tmp_path, send_results=True, result_kinds=("sr", "sc")).process_available()
    (item,) = queue.items()
    assert item.state == "done" and item.decision in ("flagged", "not flagged") and item.probability is not None
    assert [Path(path).name for path in item.result_files] == [f"{item.sop_instance_uid}.sr.dcm",
                                                               f"{item.sop_instance_uid}.sc.dcm"]
    assert all(Path(path).parent == tmp_path / "results" and Path(path).exists() for path in item.result_files)
    assert item.send_state == "pending"
    unsent = WorkQueue.in_store(tmp_path / "quiet")
    stored(tmp_path / "quiet", unsent)
    TriageWorker(unsent, diagnoser, tmp_path / "quiet").process_available()  # no destination: nothing written
    (item,) = unsent.items()
    assert item.state == "done" and item.result_files == [] and item.send_state == ""


def test_a_result_that_cannot_be_written_is_done_and_its_send_failed(tmp_path: Path, diagnoser: Diagnoser,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: Any, **kwargs: Any) -> None:
        raise PneumoError("The store is full.")

    monkeypatch.setattr(engine.export, "export_structured_report", refuse)
    queue = WorkQueue.in_store(tmp_path)
    stored(tmp_path, queue)
    TriageWorker(queue, diagnoser, tmp_path, send_results=True, result_kinds=("sr",)).process_available()
    (item,) = queue.items()
    assert item.state == "done" and item.result_files == []
    assert item.send_state == "failed" and item.send_error == "the result could not be written: sr: The store is full."
