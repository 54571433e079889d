"""Where ILO readings are kept: one SQLite database in the user's data folder, one row per saved version.

A reading is never overwritten: saving again for the same instance adds an amendment (version n + 1, with the
reason), and the history keeps every version with its reader and time. SQLite's transactions make each save
all-or-nothing, so a kill mid-save leaves the previous version intact.

Instances are keyed without patient-identifying values: a hash of the DICOM SOP Instance UID, or of the file's
content for PNG/JPEG/TIFF (``instance_key``).

Double reading (``engine.ilo.double_reading``): every version belongs to a reader (name, and the optional reader id
a programme gives its readers); an amendment is a reader saving again over their *own* reading, while another
reader's first save on the same image is that reader's own reading, version n + 1 of the image's history. Each
version also keeps what the model suggested for the image when it was signed (its ordinal head's major category,
and whether it flagged the image), for the reader-model agreement (``engine.ilo.agreement``), and an ILO head's
whole suggestion (``model_suggestion``: profusion, category, zones, per-zone profusion), kept apart from the reading.
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

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
# Columns added for double reading; a database made before them gains them (empty) when first opened.
ADDED_COLUMNS: dict[str, str] = {
    "reader_id": "TEXT NOT NULL DEFAULT ''",
    "model_category": "TEXT",  # the ordinal head's suggested major category "0".."3", NULL when none
    "model_flagged": "INTEGER",  # 1/0: the model flagged the image at its operating point; NULL: no result
    "model_suggestion": "TEXT",  # JSON: an ILO head's suggestion when signed (engine.ilo.suggestion), NULL: none
}
COLUMNS = ("instance_key", "version", "reader", "saved_at", "amendment_reason", "reading", "report_text",
           *ADDED_COLUMNS)


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
    reader_id: str = ""  # the programme's id for the reader (e.g. a B reader number); "" when not given
    model_category: str | None = None  # what the model suggested when this version was signed (see above)
    model_flagged: bool | None = None
    model_suggestion: dict[str, Any] | None = None  # an ILO head's suggestion (profusion, zones...), not the reading

    @property
    def reader_key(self) -> str:
        """Who read it: the reader id when given, else the name (case and spacing ignored)."""
        return reader_key(self.reader, self.reader_id)


def reader_key(name: str, reader_id: str = "") -> str:
    """One reader, however their name was typed: the reader id when there is one, else the name, case-folded."""
    return ("id:" + reader_id.strip().casefold()) if reader_id.strip() else "name:" + " ".join(name.split()).casefold()


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
            present = {row[1] for row in db.execute("PRAGMA table_info(readings)")}
            for column, kind in ADDED_COLUMNS.items():
                if column not in present:
                    db.execute(f"ALTER TABLE readings ADD COLUMN {column} {kind}")

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        try:
            with closing(sqlite3.connect(self.path, timeout=10)) as db, db:  # inner ``db``: one transaction
                yield db
        except sqlite3.DatabaseError as exc:
            raise PneumoError(f"The readings database could not be used ({exc}) — check {self.path.name} in the "
                              "data folder.", path=self.path) from None

    def save(self, key: str, reading: IloReading, *, amendment_reason: str = "", report_text: str = "",
             reader_id: str = "", model_category: str | None = None, model_flagged: bool | None = None,
             model_suggestion: dict[str, Any] | None = None) -> StoredReading:
        """Save a signed, consistent reading (and the reader's report text) as the next version for ``key``; saving
        again over the same reader's reading is an amendment and needs a reason (another reader's is their own)."""
        validate(reading)
        me = reader_key(reading.reader, reader_id)
        with self._connect() as db:
            rows = db.execute("SELECT version, reader, reader_id FROM readings WHERE instance_key = ?",
                              (key,)).fetchall()
            latest = max((row[0] for row in rows), default=0)
            if any(reader_key(row[1], row[2]) == me for row in rows) and not amendment_reason.strip():
                raise PneumoError("You have already signed a reading of this image: give a reason to amend it.")
            now = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
            stored = StoredReading(key, latest + 1, reading.reader, now, amendment_reason.strip(), reading,
                                   report_text.strip(), reader_id.strip(), model_category, model_flagged,
                                   model_suggestion)
            db.execute(f"INSERT INTO readings ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))})",
                       (key, stored.version, stored.reader, stored.saved_at, stored.amendment_reason,
                        json.dumps(reading.to_dict(), sort_keys=True), stored.report_text, stored.reader_id,
                        model_category, None if model_flagged is None else int(model_flagged),
                        None if model_suggestion is None else json.dumps(model_suggestion, sort_keys=True)))
        return stored

    def latest(self, key: str) -> StoredReading | None:
        history = self.history(key)
        return history[-1] if history else None

    def history(self, key: str) -> list[StoredReading]:
        """Every version saved for ``key``, oldest first."""
        with self._connect() as db:
            rows = db.execute(f"SELECT {', '.join(COLUMNS)} FROM readings WHERE instance_key = ? ORDER BY version",
                              (key,)).fetchall()
        return [StoredReading(*row[:5], IloReading.from_dict(json.loads(row[5])), row[6], row[7], row[8],
                              None if row[9] is None else bool(row[9]),
                              None if row[10] is None else json.loads(row[10])) for row in rows]

    def instance_keys(self) -> list[str]:
        with self._connect() as db:
            return [row[0] for row in db.execute("SELECT DISTINCT instance_key FROM readings ORDER BY instance_key")]
