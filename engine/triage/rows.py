"""Triage results as rows: the CSV's columns, one row per file, the run's summary, reading earlier results back.

Every batch runner (a folder here, a Dask cluster, the PACS node's worklist) writes these rows and tallies them
the same way; the CSV holds a header and data rows only: flagged, not flagged, not diagnosed (no score; the reason
in ``warnings``), unreadable (the reason in ``error``), each group highest probability first.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import logging
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

from engine.decision import Verdict
from engine.errors import PneumoError, UnsupportedImageError
from engine.flags import Severity, messages
from engine.paths import data_dir, write_atomic
from engine.result import CaseOutcome

log = logging.getLogger(__name__)

# Scripts read these columns by name and position: new ones go at the end.
COLUMNS = ("file", "study_uid", "series_uid", "probability", "decision", "threshold", "lung_crop_quality",
           "error", "sha256", "warnings")
UNREADABLE = "unreadable"


@dataclass
class TriageRow:
    file: str  # relative to the triaged folder
    study_uid: str = ""
    series_uid: str = ""
    probability: float | None = None
    decision: str = ""  # "flagged" | "not flagged" | "not diagnosed" | "unreadable"
    threshold: float | None = None
    lung_crop_quality: str = ""  # "ok" or the quality flags
    error: str = ""  # why an unreadable file has no row of its own (a held-back case's reason is a warning)
    sha256: str = ""
    warnings: str = ""  # why a case was held back, and every note shown with the result (file, domain, runtime)


@dataclass
class TriageSummary:
    out: str
    total: int
    flagged: int
    not_flagged: int
    not_diagnosed: int
    unreadable: int
    skipped_existing: int
    seconds: float
    untrusted_rows: int = 0  # rows of an earlier CSV or journal that could not be read back; redone

    @property
    def images_per_second(self) -> float:
        done = self.total - self.skipped_existing
        return done / self.seconds if self.seconds > 0 else 0.0

    def line(self) -> str:
        return (f"{self.total} images: {self.flagged} flagged, {self.not_flagged} not flagged, "
                f"{self.not_diagnosed} not diagnosed, {self.unreadable} unreadable")

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "images_per_second": round(self.images_per_second, 3), "summary": self.line()}

    @classmethod
    def tally(cls, out: str | Path, rows: Sequence[TriageRow], *, skipped_existing: int, seconds: float,
              untrusted_rows: int = 0) -> TriageSummary:
        """The counts of a run's final rows, by decision (every runner reports the same way)."""
        def count(decision: str) -> int:
            return sum(row.decision == decision for row in rows)

        return cls(out=str(out), total=len(rows), flagged=count(Verdict.FLAGGED),
                   not_flagged=count(Verdict.NOT_FLAGGED), not_diagnosed=count(Verdict.NOT_DIAGNOSED),
                   unreadable=count(UNREADABLE), skipped_existing=skipped_existing, seconds=seconds,
                   untrusted_rows=untrusted_rows)


def unreadable_row(relative: str, why: str, sha256: str = "") -> TriageRow:
    """The row of a file that could not be read (or crashed its decoder): its name and why, no decision."""
    return TriageRow(relative, decision=UNREADABLE, error=why, sha256=sha256)


def row_for(relative: str, digest: str, outcome: CaseOutcome) -> TriageRow:
    """The CSV row of one file: the result's own decision, never a second comparison with the threshold."""
    meta = outcome.meta
    study, series = (meta.study_uid or "", meta.series_uid or "") if meta is not None else ("", "")
    if outcome.result is None:
        error = outcome.error or PneumoError()
        decision = Verdict.NOT_DIAGNOSED.value if meta is not None else UNREADABLE
        if isinstance(error, UnsupportedImageError) and error.flags:  # held back, not broken: a warning
            return TriageRow(relative, study, series, decision=decision, sha256=digest, warnings=error.user_message)
        return TriageRow(relative, study, series, decision=decision, error=error.user_message, sha256=digest)
    result = outcome.result
    quality = "ok" if result.lung_crop.ok else "; ".join(messages(result.lung_crop.flags))
    notes = messages(flag for flag in (*result.image_flags, *result.warnings) if flag.severity is Severity.NOTE)
    if not result.decision.diagnosed:  # held back: its reason with the warnings, and no score until asked for
        return TriageRow(relative, study, series, None, result.decision.verdict.value, result.threshold, quality,
                         "", digest, "; ".join([result.decision.describe(), *notes]))
    return TriageRow(relative, study, series, result.probability, result.decision.verdict.value, result.threshold,
                     quality, "", digest, "; ".join(notes))


def default_results_path(folder: str | Path) -> Path:
    """Where the viewer saves a folder's triage CSV unless told otherwise: the user's data folder, never the image
    folder (often read-only, or a PACS share). One file per folder (its name plus a short digest of its path), so
    a second run on the same folder resumes."""
    resolved = Path(folder).expanduser().resolve()
    digest = hashlib.sha256(str(resolved).encode()).hexdigest()[:8]
    name = "".join(c if c.isalnum() or c in "-_" else "_" for c in resolved.name)[:40] or "folder"
    return data_dir() / "triage" / f"{name}-{digest}.csv"


def journal_path(out: Path) -> Path:
    return out.with_name(out.name + ".journal.jsonl")


def existing_rows(out: Path) -> tuple[list[TriageRow], int]:
    """Rows an earlier run on ``out`` left (its CSV, then the journal of a killed run) and how many lines
    could not be trusted (edited, torn, foreign): those files are simply done again."""
    rows: list[TriageRow] = []
    untrusted = 0
    if out.exists():
        try:
            with open(out, newline="", encoding="utf-8") as handle:
                for record in csv.DictReader(line for line in handle if not line.startswith("#")):
                    row = _row_from(record)
                    if row is None:
                        untrusted += 1
                    else:
                        rows.append(row)
        except (OSError, UnicodeDecodeError, csv.Error):
            log.warning("the earlier results CSV could not be read; every file is done again")
            untrusted += 1
    journal = journal_path(out)
    if journal.exists():
        for line in journal.read_text(encoding="utf-8", errors="replace").splitlines():
            try:
                row = _row_from(json.loads(line))
            except ValueError:
                row = None  # a torn last line from a kill
            if row is None:
                untrusted += 1
            else:
                rows.append(row)
    return rows, untrusted


def _row_from(record: Any) -> TriageRow | None:
    """A row read back, or None when it cannot be trusted (missing fields, numbers that are not numbers)."""
    if not isinstance(record, dict) or not record.get("file") or not record.get("sha256"):
        return None
    try:
        values = {f.name: (record.get(f.name) or "") for f in fields(TriageRow)}
        for name in ("probability", "threshold"):
            values[name] = None if values[name] in ("", None) else float(values[name])
        row = TriageRow(**{k: (v if k in ("probability", "threshold") else str(v)) for k, v in values.items()})
    except (TypeError, ValueError):
        return None
    if row.decision not in {v.value for v in Verdict} | {UNREADABLE}:
        return None
    return row


# The order rows are read in: flagged, not flagged, not diagnosed, unreadable (then highest probability first).
DECISION_ORDER = (Verdict.FLAGGED.value, Verdict.NOT_FLAGGED.value, Verdict.NOT_DIAGNOSED.value, UNREADABLE)


def decision_rank(decision: str) -> int:
    """Where a decision sorts in ``DECISION_ORDER`` (anything else last)."""
    return DECISION_ORDER.index(decision) if decision in DECISION_ORDER else len(DECISION_ORDER)


def sort_rows(rows: Iterable[TriageRow]) -> list[TriageRow]:
    """Flagged, then not flagged, each highest probability first; then not diagnosed (a held-back case sorts by
    no score, even one an older run recorded), then unreadable."""
    def key(row: TriageRow) -> tuple[int, float, str]:
        rank = decision_rank(row.decision)
        scored = row.probability is not None and rank < DECISION_ORDER.index(Verdict.NOT_DIAGNOSED.value)
        return rank, -(row.probability or 0.0) if scored else 0.0, row.file

    return sorted(rows, key=key)


def write_csv(out: Path, rows: Iterable[TriageRow]) -> None:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(COLUMNS)
    for row in sort_rows(rows):
        values = asdict(row)
        values["probability"] = "" if row.probability is None else f"{row.probability:.6f}"
        values["threshold"] = "" if row.threshold is None else f"{row.threshold:.6f}"
        writer.writerow([values[c] for c in COLUMNS])
    write_atomic(out, buffer.getvalue().encode())


def iter_rows(out: Path) -> Iterator[TriageRow]:
    """Read a finished triage CSV back (the GUI table, tests); rows that cannot be trusted are left out."""
    with open(out, newline="", encoding="utf-8") as handle:
        records = list(csv.DictReader(line for line in handle if not line.startswith("#")))
    for record in records:
        row = _row_from(record)
        if row is not None:
            yield row
