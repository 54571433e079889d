"""Where ILO readings are kept: one SQLite database in the user's data folder, one row per saved version.

A reading is never overwritten: saving again for the same instance adds an amendment (version n + 1, with the
reason), and the history keeps every version with its reader and time. SQLite's transactions make each save
all-or-nothing, so a kill mid-save leaves the previous version intact.

Instances are keyed without patient-identifying values: a hash of the DICOM SOP Instance UID, or of the file's
content for PNG/JPEG/TIFF (``instance_key``).
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from pathlib import Path

from engine.errors import PneumoError
from engine.ilo.form import IloReading, validate
from engine.io import ImageMeta
from engine.io.phi import uid_digest
from engine.paths import data_dir, file_sha256

SCHEMA = """
CREATE TABLE IF NOT EXISTS readings (
    instance_key TEXT NOT NULL,
    version INTEGER NOT NULL,
    reader TEXT NOT NULL,
    saved_at TEXT NOT NULL,
    amendment_reason TEXT NOT NULL DEFAULT '',
    reading TEXT NOT NULL,
    report_text TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (instance_key, version)
)
"""


@dataclass(frozen=True)
class StoredReading:
    """One saved version of a reading."""

    instance_key: str
    version: int  # 1 for the first reading, +1 per amendment
    reader: str
    saved_at: str  # ISO date-time, UTC
    amendment_reason: str
    reading: IloReading
    report_text: str = ""  # the reader's signed report text (an edited draft, or their own)


def instance_key(meta: ImageMeta) -> str:
    """A stable, non-identifying key for one image: hashed SOP Instance UID, else a content hash."""
    if meta.sop_instance_uid:
        return "sop:" + uid_digest(meta.sop_instance_uid)  # unkeyed: readings stay found if a key changes
    return "file:" + file_sha256(Path(meta.path))


class ReadingStore:
    """Readings per instance, with their amendment history (SQLite in the user's data folder by default)."""

    def __init__(self, path: str | Path | None = None) -> None:
        self.path = Path(path) if path else data_dir() / "ilo_readings.sqlite"
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._connect() as db:
            db.execute(SCHEMA)

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        try:
            with closing(sqlite3.connect(self.path, timeout=10)) as db, db:  # inner ``db``: one transaction
                yield db
        except sqlite3.DatabaseError as exc:
            raise PneumoError(f"The readings database could not be used ({exc}) — check {self.path.name} in the "
                              "data folder.", path=self.path) from None

    def save(self, key: str, reading: IloReading, *, amendment_reason: str = "", report_text: str = ""
             ) -> StoredReading:
        """Save a signed, consistent reading (and the reader's report text) as the next version for ``key``; an
        amendment needs a reason."""
        validate(reading)
        with self._connect() as db:
            (latest,) = db.execute("SELECT COALESCE(MAX(version), 0) FROM readings WHERE instance_key = ?",
                                   (key,)).fetchone()
            if latest and not amendment_reason.strip():
                raise PneumoError("This image already has a signed reading: give a reason to amend it.")
            now = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
            stored = StoredReading(key, latest + 1, reading.reader, now, amendment_reason.strip(), reading,
                                   report_text.strip())
            db.execute("INSERT INTO readings VALUES (?, ?, ?, ?, ?, ?, ?)",
                       (key, stored.version, stored.reader, stored.saved_at, stored.amendment_reason,
                        json.dumps(reading.to_dict(), sort_keys=True), stored.report_text))
        return stored

    def latest(self, key: str) -> StoredReading | None:
        history = self.history(key)
        return history[-1] if history else None

    def history(self, key: str) -> list[StoredReading]:
        """Every version saved for ``key``, oldest first."""
        with self._connect() as db:
            rows = db.execute("SELECT instance_key, version, reader, saved_at, amendment_reason, reading, report_text"
                              " FROM readings WHERE instance_key = ? ORDER BY version", (key,)).fetchall()
        return [StoredReading(*row[:5], IloReading.from_dict(json.loads(row[5])), row[6]) for row in rows]

    def instance_keys(self) -> list[str]:
        with self._connect() as db:
            return [row[0] for row in db.execute("SELECT DISTINCT instance_key FROM readings ORDER BY instance_key")]
