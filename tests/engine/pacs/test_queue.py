"""The work queue: arrival order, exactly-once claims across a kill, duplicates, worklist orders, sends."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from engine.pacs.queue import ItemResult, WorkQueue


def fill(queue: WorkQueue, count: int) -> None:
    for index in range(count):
        queue.enqueue(f"1.2.{index}", "1.9", "", f"/store/{index}.dcm", f"hash{index}", received_at=1000.0 + index)


def test_claims_follow_arrival_and_each_item_once(tmp_path: Path) -> None:
    queue = WorkQueue.in_store(tmp_path)
    fill(queue, 5)
    first, second = queue.claim(2), queue.claim(2)
    assert [i.sop_instance_uid for i in first] == ["1.2.0", "1.2.1"]
    assert [i.sop_instance_uid for i in second] == ["1.2.2", "1.2.3"]
    assert queue.counts() == {"queued": 1, "running": 4, "done": 0, "failed": 0, "skipped": 0}


def test_kill_while_running_requeues_exactly_the_unfinished(tmp_path: Path) -> None:
    """A real process claims three items, finishes one and is killed with SIGKILL; a new process recovers."""
    fill(WorkQueue.in_store(tmp_path), 4)
    script = textwrap.dedent(f"""
        import os, signal
        from engine.pacs.queue import ItemResult, WorkQueue
        queue = WorkQueue.in_store({str(tmp_path)!r})
        items = queue.claim(3)
        queue.finish(items[0].id, ItemResult("done", 0.9, "flagged", 0.5))
        os.kill(os.getpid(), signal.SIGKILL)
    """)
    killed = subprocess.run([sys.executable, "-c", script], capture_output=True, timeout=60)
    assert killed.returncode == -9
    queue = WorkQueue.in_store(tmp_path)
    assert queue.counts() == {"queued": 1, "running": 2, "done": 1, "failed": 0, "skipped": 0}
    assert queue.recover() == 2
    again = queue.claim(10)
    assert [i.sop_instance_uid for i in again] == ["1.2.1", "1.2.2", "1.2.3"]  # never 1.2.0 a second time


def test_duplicates_same_content_ignored_other_content_requeued(tmp_path: Path) -> None:
    queue = WorkQueue.in_store(tmp_path)
    assert queue.enqueue("1.2.3", "1.9", "", "/a.dcm", "aaa")
    [item] = queue.claim()
    queue.finish(item.id, ItemResult("done", 0.2, "not flagged", 0.5))
    assert not queue.enqueue("1.2.3", "1.9", "", "/a.dcm", "aaa")
    assert queue.counts()["done"] == 1
    assert queue.enqueue("1.2.3", "1.9", "", "/a.dcm", "bbb")  # corrected image: diagnosed again
    assert queue.counts() == {"queued": 1, "running": 0, "done": 0, "failed": 0, "skipped": 0}


def test_flagged_first_then_score_then_newest(tmp_path: Path) -> None:
    queue = WorkQueue.in_store(tmp_path)
    fill(queue, 5)
    results = [ItemResult("done", 0.3, "not flagged", 0.5), ItemResult("done", 0.7, "flagged", 0.5),
               ItemResult("done", 0.9, "flagged", 0.5), ItemResult("failed", None, "unreadable", None, "broken")]
    for item, result in zip(queue.claim(4), results, strict=True):
        queue.finish(item.id, result)
    flagged = [i.sop_instance_uid for i in queue.items("flagged")]
    assert flagged[:3] == ["1.2.2", "1.2.1", "1.2.0"]
    assert [i.sop_instance_uid for i in queue.items("newest")] == ["1.2.4", "1.2.3", "1.2.2", "1.2.1", "1.2.0"]
    item = queue.find("1.2.3")
    assert item is not None and item.to_json()["error"] == "broken" and item.to_json()["state"] == "failed"
    with pytest.raises(ValueError, match="order"):
        queue.items("alphabetical")


def test_sends_retry_then_fail_visibly(tmp_path: Path) -> None:
    queue = WorkQueue.in_store(tmp_path)
    fill(queue, 1)
    [item] = queue.claim()
    queue.finish(item.id, ItemResult("done", 0.9, "flagged", 0.5, result_paths=("/r.sr.dcm", "/r.sc.dcm")), send=True)
    [due] = queue.due_sends()
    assert due.result_files == ["/r.sr.dcm", "/r.sc.dcm"]
    queue.record_send(due.id, sent=False, error="refused", retry_at=due.send_next_at + 3600)
    assert queue.due_sends() == []
    assert queue.due_sends(now=due.send_next_at + 3601)[0].send_attempts == 1
    queue.record_send(due.id, sent=False, error="refused again")
    final = queue.find("1.2.0")
    assert final is not None and (final.send_state, final.send_error) == ("failed", "refused again")
    queue.resend(final.id)
    assert [i.id for i in queue.due_sends()] == [final.id]


def test_a_reader_never_creates_a_database(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        WorkQueue.in_store(tmp_path / "nothing", readonly=True)
    assert not (tmp_path / "nothing").exists()
