"""Batch-folder triage: every radiograph under a folder through ``Diagnoser.iter_diagnose``, into a sorted CSV.

Finished files are journalled (JSON lines, flushed and fsynced per batch) next to the output; a re-run with
the same output skips files whose path and content hash are already done, never duplicates a row, and a
kill loses at most the batch in flight. Every file gets a row — unreadable or not-diagnosed ones with the
reason — and no case is hidden because the model scored it low. The summary goes to the caller (stdout,
``--json``).
"""

from __future__ import annotations

import io
import json
import logging
import os
import time
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING

from engine.errors import Cancelled, PneumoError
from engine.io.study_scan import iter_candidate_files
from engine.paths import file_sha256, lock_exclusively
from engine.progress import Progress
from engine.triage.rows import TriageRow, TriageSummary, existing_rows, journal_path, row_for, unreadable_row, write_csv

if TYPE_CHECKING:
    from engine.diagnoser import Diagnoser

log = logging.getLogger(__name__)




def triage_folder(folder: str | Path, out: str | Path, diagnoser: Diagnoser, *, batch_size: int = 8,
                  progress: Callable[[Progress], None] | None = None, cancelled: Callable[[], bool] = lambda: False,
                  on_rows: Callable[[list[TriageRow]], None] | None = None) -> TriageSummary:
    folder, out = Path(folder), Path(out)
    started = time.perf_counter()
    excluded = {out.resolve(), journal_path(out).resolve()}
    paths = [p for p in iter_candidate_files(folder) if p.resolve() not in excluded]
    if not paths:
        raise PneumoError(f"No DICOM, PNG, JPEG or TIFF files found under {folder} — nothing to triage.")
    before = _stamp(out)
    earlier, untrusted = existing_rows(out)
    done = {(row.file, row.sha256): row for row in earlier}
    rows: dict[tuple[str, str], TriageRow] = {}
    todo: dict[Path, tuple[str, str]] = {}
    for path in paths:
        relative = path.relative_to(folder).as_posix()
        try:
            digest = file_sha256(path)
        except OSError as exc:
            rows[(relative, "")] = unreadable_row(relative, f"cannot read ({exc.strerror})")
            continue
        if (relative, digest) in done:
            rows[(relative, digest)] = done[(relative, digest)]
        else:
            todo[path] = (relative, digest)
    skipped = len(rows) - sum(1 for key in rows if not key[1])
    count = len(paths) - len(todo)
    journal = journal_path(out)
    journal.parent.mkdir(parents=True, exist_ok=True)
    with open(journal, "a", encoding="utf-8") as log_file:
        if not lock_exclusively(log_file):
            raise PneumoError(f"Another triage run is writing {out} — wait for it to finish or choose another "
                              "--out.")
        batch: list[TriageRow] = []
        outcomes = diagnoser.iter_diagnose(list(todo), batch_size, cancelled=cancelled)
        for number, outcome in enumerate(outcomes, start=1):
            relative, digest = todo[outcome.path]
            row = row_for(relative, digest, outcome)
            rows[(row.file, row.sha256)] = row
            batch.append(row)
            if len(batch) == batch_size or number == len(todo):
                _journal(log_file, batch)
                count += len(batch)
                if on_rows:
                    on_rows(batch)
                if progress:
                    progress(Progress.of(count, len(paths), started, "Triage", carried=len(paths) - len(todo)))
                batch = []
        if cancelled() and count < len(paths):
            _journal(log_file, batch)
            raise Cancelled("Triage was cancelled; finished files are kept and skipped next time.")
    if _stamp(out) != before:
        # Someone wrote to the CSV while we ran (a script appending rows): keep what they wrote, not just ours.
        log.warning("the results CSV changed during the run; its rows are merged, not overwritten")
        appended, more_untrusted = existing_rows(out)
        untrusted += more_untrusted
        for row in appended:
            rows.setdefault((row.file, row.sha256), row)
    final = list(rows.values())
    summary = TriageSummary.tally(out, final, skipped_existing=skipped, seconds=time.perf_counter() - started,
                                  untrusted_rows=untrusted)
    write_csv(out, final)
    journal.unlink(missing_ok=True)  # everything is in the CSV now
    return summary


def _stamp(out: Path) -> tuple[int, int] | None:
    try:
        status = out.stat()
    except OSError:
        return None
    return status.st_size, status.st_mtime_ns


def _journal(handle: io.TextIOBase, rows: list[TriageRow]) -> None:
    for row in rows:
        handle.write(json.dumps(asdict(row)) + "\n")
    handle.flush()
    os.fsync(handle.fileno())


