"""Workers: generators drain with progress, cancel stops between yields, errors reach ``failed``, callback-style
jobs get explicit ``progress``/``cancelled`` arguments, and a relay bound to a deleted widget stays silent."""

from __future__ import annotations

import threading

import pytest
from PySide6.QtWidgets import QWidget

from engine.errors import Cancelled
from viewer.workers import Worker, WorkerSet, bind, single_thread_pool, start

TIMEOUT_MS = 30_000


def collect(worker: Worker) -> dict[str, list]:
    seen: dict[str, list] = {"progress": [], "finished": [], "failed": [], "stopped": []}
    worker.signals.progress.connect(seen["progress"].append)
    worker.signals.finished.connect(seen["finished"].append)
    worker.signals.failed.connect(seen["failed"].append)
    worker.signals.stopped.connect(lambda: seen["stopped"].append(True))
    return seen


def ended(seen: dict[str, list]) -> bool:
    return bool(seen["finished"] or seen["failed"] or seen["stopped"])


def test_generator_values_arrive_as_progress_then_finished(qtbot) -> None:
    def count(n: int):
        yield from range(n)

    worker = Worker(count, 4)
    seen = collect(worker)
    start(worker)
    qtbot.waitUntil(lambda: ended(seen), timeout=TIMEOUT_MS)
    assert seen["progress"] == [0, 1, 2, 3] and seen["finished"] == [3]


def test_cancel_stops_between_yields(qtbot) -> None:
    release = threading.Event()

    def slow():
        yield "first"
        release.wait(10)
        yield "second"  # asked to stop before this one: never emitted
        yield "third"

    worker = Worker(slow)
    seen = collect(worker)
    worker.signals.progress.connect(lambda _value: (worker.cancel(), release.set()))
    start(worker, pool=single_thread_pool("test-workers"))
    qtbot.waitUntil(lambda: ended(seen), timeout=TIMEOUT_MS)
    assert seen["progress"] == ["first"] and seen["stopped"] and not seen["finished"]


def test_exceptions_and_cancelled_errors(qtbot) -> None:
    def boom() -> None:
        raise ValueError("broken")

    failing, cancelled = Worker(boom), Worker(lambda: (_ for _ in ()).throw(Cancelled()))
    seen_failing, seen_cancelled = collect(failing), collect(cancelled)
    start(failing)
    start(cancelled)
    qtbot.waitUntil(lambda: ended(seen_failing) and ended(seen_cancelled), timeout=TIMEOUT_MS)
    assert isinstance(seen_failing["failed"][0], ValueError)
    assert seen_cancelled["stopped"] and not seen_cancelled["failed"]


def test_reporting_jobs_get_explicit_callbacks(qtbot) -> None:
    def job(total: int, *, progress, cancelled) -> str:
        for step in range(total):
            if cancelled():
                raise Cancelled()
            progress(step)
        return "done"

    worker = Worker.reporting(job, 3)
    seen = collect(worker)
    workers = WorkerSet()
    workers.start(worker)
    qtbot.waitUntil(lambda: ended(seen), timeout=TIMEOUT_MS)
    assert seen["progress"] == [0, 1, 2] and seen["finished"] == ["done"]
    qtbot.waitUntil(lambda: len(workers) == 0, timeout=TIMEOUT_MS)  # released once its end arrived


def test_a_relay_outlived_by_its_worker_stays_silent(qtbot) -> None:
    release = threading.Event()
    calls: list[object] = []
    page = QWidget()

    def wait_then_finish() -> str:
        release.wait(10)
        return "late"

    worker = bind(Worker(wait_then_finish), page, finished=lambda w, value: calls.append(value))
    seen = collect(worker)
    start(worker)
    page.deleteLater()
    qtbot.waitUntil(lambda: not _alive(page), timeout=TIMEOUT_MS)
    release.set()
    qtbot.waitUntil(lambda: ended(seen), timeout=TIMEOUT_MS)
    assert seen["finished"] == ["late"] and calls == []


def _alive(widget: QWidget) -> bool:
    try:
        widget.objectName()
    except RuntimeError:
        return False
    return True


@pytest.fixture(autouse=True)
def _drain_pools() -> None:
    yield
    from PySide6.QtCore import QThreadPool

    QThreadPool.globalInstance().waitForDone(10_000)
    single_thread_pool("test-workers").waitForDone(10_000)
