"""The persistent work queue: one SQLite row per received instance (standard-library ``sqlite3``, WAL mode).

The Storage SCP adds a row only after the instance is on disk, and returns success only after the row is
committed (``synchronous=FULL``), so anything a peer was told is stored survives ``kill -9``. The worker claims
rows in order of arrival (queued -> running) and writes the result with the state change in one transaction
(running -> done | failed); ``recover`` puts rows left running by a killed process back in the queue, so each
one is finished exactly once. Results (the DICOM SR) wait in the same table to be sent back to the PACS.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

STATES = ("queued", "running", "done", "failed", "skipped")  # skipped: kept, never diagnosed (``engine.pacs.intake``)
SEND_STATES = ("", "pending", "sent", "failed")  # "" = nothing to send (no destination, or no result)
FLAGGED_FIRST, NEWEST_FIRST = "flagged", "newest"
# The worklist's orders and their titles for people; the first is what the CLI and the viewer show by default.
ORDERS = {FLAGGED_FIRST: "Flagged first", NEWEST_FIRST: "Newest first"}
DB_NAME = "worklist.sqlite3"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS items (
    id INTEGER PRIMARY KEY AUTOINCREMENT,  -- order of arrival
    sop_instance_uid TEXT NOT NULL UNIQUE,
    study_instance_uid TEXT NOT NULL,
    series_instance_uid TEXT NOT NULL DEFAULT '',
    path TEXT NOT NULL,
    sha256 TEXT NOT NULL DEFAULT '',
    received_at REAL NOT NULL,
    state TEXT NOT NULL DEFAULT 'queued',
    probability REAL,
    decision TEXT,
    threshold REAL,
    error TEXT,
    warnings TEXT NOT NULL DEFAULT '',
    finished_at REAL,
    result_paths TEXT,  -- JSON list: the result objects (SR, SC) written to be sent
    send_state TEXT NOT NULL DEFAULT '',
    send_attempts INTEGER NOT NULL DEFAULT 0,
    send_next_at REAL,
    send_error TEXT
);
CREATE INDEX IF NOT EXISTS items_state ON items(state, id);
CREATE INDEX IF NOT EXISTS items_send ON items(send_state, send_next_at);
"""


@dataclass(frozen=True)
class WorkItem:
    id: int
    sop_instance_uid: str
    study_instance_uid: str
    series_instance_uid: str
    path: str
    sha256: str
    received_at: float
    state: str
    probability: float | None
    decision: str | None  # the result's verdict ("flagged", "not flagged", "not diagnosed", "unreadable")
    threshold: float | None
    error: str | None
    warnings: str
    finished_at: float | None
    result_paths: str | None  # JSON list (see ``result_files``)
    send_state: str
    send_attempts: int
    send_next_at: float | None
    send_error: str | None

    @property
    def result_files(self) -> list[str]:
        """The result objects (DICOM SR / SC) waiting to be, or already, sent."""
        return [str(path) for path in json.loads(self.result_paths)] if self.result_paths else []

    def to_json(self) -> dict[str, Any]:
        """The fields ``pneumollm worklist --json`` promises (first six, kept exactly), then extras."""
        return {
            "sop_instance_uid": self.sop_instance_uid,
            "study_instance_uid": self.study_instance_uid,
            "state": self.state,
            "probability": None if self.probability is None else round(self.probability, 6),
            "decision": self.decision,
            "error": self.error,
            "series_instance_uid": self.series_instance_uid,
            "threshold": None if self.threshold is None else round(self.threshold, 6),
            "warnings": self.warnings,
            "received_at": time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(self.received_at)),
            "send_state": self.send_state,
            "send_error": self.send_error,
        }


@dataclass(frozen=True)
class ItemResult:
    """What the worker learned about one instance (fields of ``engine.triage.TriageRow``)."""

    state: str  # done | failed
    probability: float | None = None
    decision: str | None = None
    threshold: float | None = None
    error: str | None = None
    warnings: str = ""
    result_paths: tuple[str, ...] = ()  # the DICOM SR / SC written for it, when they are to be sent


class WorkQueue:
    """Thread-safe access to the queue database of one store folder (the SCP's threads and the worker share it;
    other processes — ``pneumollm worklist``, the viewer — may read it at the same time)."""

    def __init__(self, path: str | Path, *, readonly: bool = False) -> None:
        self.path = Path(path)
        if readonly and not self.path.is_file():
            raise FileNotFoundError(f"no worklist database at {self.path}")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # autocommit (isolation_level=None): transactions are explicit below. A reader opens the file read-write
        # too, because SQLite's WAL index needs it, but never creates it (``readonly``) or changes a row.
        self._db = sqlite3.connect(self.path, timeout=30.0, isolation_level=None, check_same_thread=False)
        self._db.row_factory = sqlite3.Row
        self._lock = threading.RLock()
        if not readonly:
            self._db.execute("PRAGMA journal_mode=WAL")  # readers never block the SCP's writes
            self._db.execute("PRAGMA synchronous=FULL")  # a committed row survives power loss, not only kill -9
            self._db.executescript(_SCHEMA)

    @classmethod
    def in_store(cls, store: str | Path, *, readonly: bool = False) -> WorkQueue:
        return cls(Path(store) / DB_NAME, readonly=readonly)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    # -- the SCP ----------------------------------------------------------------------------------------
    def find(self, sop_instance_uid: str) -> WorkItem | None:
        with self._lock:
            row = self._db.execute("SELECT * FROM items WHERE sop_instance_uid = ?", (sop_instance_uid,)).fetchone()
        return _item(row) if row else None

    def enqueue(self, sop_instance_uid: str, study_instance_uid: str, series_instance_uid: str, path: str | Path,
                sha256: str, *, received_at: float | None = None, skipped: str | None = None) -> bool:
        """Queue one stored instance; True if queued. A duplicate SOP Instance UID with the same content is
        already queued or done (False); with other content it replaces the earlier row and is queued again.
        With ``skipped`` (the reason) the row is kept as skipped instead: stored, listed, never diagnosed."""
        now = time.time() if received_at is None else received_at
        state, finished = ("skipped", time.time()) if skipped else ("queued", None)
        with self._transaction() as db:
            row = db.execute("SELECT sha256 FROM items WHERE sop_instance_uid = ?", (sop_instance_uid,)).fetchone()
            if row is not None and row["sha256"] == sha256:
                return False
            if row is not None:
                db.execute("DELETE FROM items WHERE sop_instance_uid = ?", (sop_instance_uid,))
            db.execute("INSERT INTO items (sop_instance_uid, study_instance_uid, series_instance_uid, path, sha256, "
                       "received_at, state, error, finished_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                       (sop_instance_uid, study_instance_uid, series_instance_uid, str(path), sha256, now, state,
                        skipped, finished))
        return True

    def known_paths(self) -> set[str]:
        with self._lock:
            return {row[0] for row in self._db.execute("SELECT path FROM items")}

    # -- the worker -------------------------------------------------------------------------------------
    def recover(self) -> int:
        """Put rows a killed process left running back in the queue; how many."""
        with self._transaction() as db:
            recovered = db.execute("UPDATE items SET state = 'queued' WHERE state = 'running'").rowcount
        if recovered:
            log.info("%d instance(s) a previous run left unfinished are queued again", recovered)
        return recovered

    def claim(self, limit: int = 1) -> list[WorkItem]:
        """The oldest queued rows, marked running (at most ``limit``)."""
        with self._transaction() as db:
            rows = db.execute("SELECT * FROM items WHERE state = 'queued' ORDER BY id LIMIT ?", (limit,)).fetchall()
            db.executemany("UPDATE items SET state = 'running' WHERE id = ?", [(row["id"],) for row in rows])
        return [_item(row, state="running") for row in rows]

    def finish(self, item_id: int, result: ItemResult, *, send: bool = False) -> None:
        """Record a result and its state in one transaction; ``send`` queues its SR for the destination AE."""
        if result.state not in ("done", "failed"):
            raise ValueError(f"a finished item is done or failed, not {result.state!r}")
        send_state = "pending" if send and result.result_paths else ""
        paths = json.dumps(list(result.result_paths)) if result.result_paths else None
        with self._transaction() as db:
            db.execute("UPDATE items SET state = ?, probability = ?, decision = ?, threshold = ?, error = ?, "
                       "warnings = ?, finished_at = ?, result_paths = ?, send_state = ?, send_attempts = 0, "
                       "send_next_at = ?, send_error = NULL WHERE id = ?",
                       (result.state, result.probability, result.decision, result.threshold, result.error,
                        result.warnings, time.time(), paths, send_state,
                        time.time() if send_state else None, item_id))

    # -- the forwarder ----------------------------------------------------------------------------------
    def due_sends(self, now: float | None = None, limit: int = 16) -> list[WorkItem]:
        now = time.time() if now is None else now
        with self._lock:
            rows = self._db.execute("SELECT * FROM items WHERE send_state = 'pending' AND send_next_at <= ? "
                                    "ORDER BY id LIMIT ?", (now, limit)).fetchall()
        return [_item(row) for row in rows]

    def record_send(self, item_id: int, *, sent: bool, error: str | None = None,
                    retry_at: float | None = None) -> None:
        """After one send attempt: sent, retried later (``retry_at``), or failed for good (neither)."""
        state = "sent" if sent else "pending" if retry_at is not None else "failed"
        with self._transaction() as db:
            db.execute("UPDATE items SET send_state = ?, send_attempts = send_attempts + 1, send_next_at = ?, "
                       "send_error = ? WHERE id = ?", (state, retry_at, None if sent else error, item_id))

    def resend(self, item_id: int) -> None:
        """Try a failed send again now (the worklist's "send again")."""
        with self._transaction() as db:
            db.execute("UPDATE items SET send_state = 'pending', send_attempts = 0, send_next_at = ? "
                       "WHERE id = ? AND result_paths IS NOT NULL", (time.time(), item_id))

    def resend_failed(self) -> int:
        """Every send that failed after its retries, due again now (``worklist --resend failed``, and each start
        of a node with a destination); how many."""
        with self._transaction() as db:
            return db.execute("UPDATE items SET send_state = 'pending', send_attempts = 0, send_next_at = ? "
                              "WHERE send_state = 'failed' AND result_paths IS NOT NULL", (time.time(),)).rowcount

    # -- readers ----------------------------------------------------------------------------------------
    def items(self, order: str = NEWEST_FIRST) -> list[WorkItem]:
        """Every row: newest first, or flagged first (flagged, not flagged, not diagnosed, then the rest; the first
        two by probability, highest first; then newest). A held-back case sorts by no score."""
        if order not in ORDERS:
            raise ValueError(f"order must be one of {', '.join(ORDERS)}")
        # order_by is one of two fixed texts, never user input
        order_by = "id DESC" if order == NEWEST_FIRST else (
            "CASE decision WHEN 'flagged' THEN 0 WHEN 'not flagged' THEN 1 WHEN 'not diagnosed' THEN 2 ELSE 3 END, "
            "CASE WHEN decision IN ('flagged', 'not flagged') THEN probability END DESC, id DESC")
        with self._lock:
            rows = self._db.execute(f"SELECT * FROM items ORDER BY {order_by}").fetchall()
        return [_item(row) for row in rows]

    def counts(self) -> dict[str, int]:
        with self._lock:
            found = dict(self._db.execute("SELECT state, COUNT(*) FROM items GROUP BY state").fetchall())
        return {state: int(found.get(state, 0)) for state in STATES}


def _item(row: sqlite3.Row, **override: Any) -> WorkItem:
    values = {key: row[key] for key in row.keys()}  # noqa: SIM118 (sqlite3.Row is not a mapping)
    values.update(override)
    return WorkItem(**values)
