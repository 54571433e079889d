"""Batch-folder triage: every radiograph under a folder through the Diagnoser, into a sorted CSV.

Decoding runs on one worker thread while the model runs on the caller's thread, so the two overlap.
Finished files are journalled (JSON lines, flushed and fsynced per batch) next to the output; a re-run with
the same output skips files whose path and content hash are already done, never duplicates a row, and a
kill loses at most the batch in flight. Every file gets a row — unreadable or not-diagnosed ones with the
reason — and no case is hidden because the model scored it low.
"""

from __future__ import annotations

import csv
import io
import json
import os
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from engine.diagnoser import Diagnoser, blocking_flags
from engine.errors import Cancelled, PneumoError
from engine.io import LoadedImage, load_image
from engine.io.study_scan import iter_candidate_files
from engine.paths import write_atomic
from engine.progress import Progress

COLUMNS = ("file", "study_uid", "series_uid", "probability", "decision", "threshold", "lung_crop_quality",
           "error", "sha256")


@dataclass
class TriageRow:
    file: str  # relative to the triaged folder
    study_uid: str = ""
    series_uid: str = ""
    probability: float | None = None
    decision: str = ""  # "flagged" | "not flagged" | "not diagnosed" | "unreadable"
    threshold: float | None = None
    lung_crop_quality: str = ""  # "ok" or the quality flags
    error: str = ""
    sha256: str = ""


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

    @property
    def images_per_second(self) -> float:
        done = self.total - self.skipped_existing
        return done / self.seconds if self.seconds > 0 else 0.0

    def line(self) -> str:
        return (f"{self.total} images: {self.flagged} flagged, {self.not_flagged} not flagged, "
                f"{self.not_diagnosed} not diagnosed, {self.unreadable} unreadable")

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "images_per_second": round(self.images_per_second, 3), "summary": self.line()}


def _hash(path: Path) -> str:
    import hashlib

    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()[:32]


def journal_path(out: Path) -> Path:
    return out.with_name(out.name + ".journal.jsonl")


def _load_done(out: Path) -> dict[tuple[str, str], TriageRow]:
    """Rows already finished, from the final CSV of an earlier run and from the journal of a killed one."""
    done: dict[tuple[str, str], TriageRow] = {}
    if out.exists():
        with open(out, newline="") as handle:
            for record in csv.DictReader(line for line in handle if not line.startswith("#")):
                row = _row_from(record)
                if row.sha256:
                    done[(row.file, row.sha256)] = row
    journal = journal_path(out)
    if journal.exists():
        for line in journal.read_text().splitlines():
            try:
                row = _row_from(json.loads(line))
            except (ValueError, TypeError):
                continue  # a torn last line from a kill: that file is simply done again
            done[(row.file, row.sha256)] = row
    return done


def _row_from(record: dict[str, Any]) -> TriageRow:
    def number(value: Any) -> float | None:
        return None if value in (None, "") else float(value)

    return TriageRow(file=record["file"], study_uid=record.get("study_uid") or "",
                     series_uid=record.get("series_uid") or "", probability=number(record.get("probability")),
                     decision=record.get("decision") or "", threshold=number(record.get("threshold")),
                     lung_crop_quality=record.get("lung_crop_quality") or "", error=record.get("error") or "",
                     sha256=record.get("sha256") or "")


def sort_rows(rows: list[TriageRow]) -> list[TriageRow]:
    """Highest probability first; rows without a probability (not diagnosed, unreadable) after them."""
    return sorted(rows, key=lambda r: (r.probability is None, -(r.probability or 0.0), r.file))


def write_csv(out: Path, rows: list[TriageRow], summary: TriageSummary) -> None:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(COLUMNS)
    for row in sort_rows(rows):
        values = asdict(row)
        values["probability"] = "" if row.probability is None else f"{row.probability:.6f}"
        values["threshold"] = "" if row.threshold is None else f"{row.threshold:.6f}"
        writer.writerow([values[c] for c in COLUMNS])
    buffer.write(f"# {summary.line()}\n")
    write_atomic(out, buffer.getvalue().encode())


def triage_folder(folder: str | Path, out: str | Path, diagnoser: Diagnoser, *, batch_size: int = 8,
                  progress: Callable[[Progress], None] | None = None, cancelled: Callable[[], bool] = lambda: False,
                  on_rows: Callable[[list[TriageRow]], None] | None = None) -> TriageSummary:
    folder, out = Path(folder), Path(out)
    started = time.perf_counter()
    paths = list(iter_candidate_files(folder))
    paths = [p for p in paths if p.resolve() not in (out.resolve(), journal_path(out).resolve())]
    done = _load_done(out)
    rows: dict[tuple[str, str], TriageRow] = {}
    todo: list[tuple[Path, str, str]] = []
    for path in paths:
        relative = path.relative_to(folder).as_posix()
        try:
            digest = _hash(path)
        except OSError as exc:
            rows[(relative, "")] = TriageRow(relative, decision="unreadable", error=f"cannot read ({exc.strerror})")
            continue
        if (relative, digest) in done:
            rows[(relative, digest)] = done[(relative, digest)]
        else:
            todo.append((path, relative, digest))
    skipped = len(paths) - len(todo) - sum(1 for k in rows if not k[1])
    journal = journal_path(out)
    journal.parent.mkdir(parents=True, exist_ok=True)
    count = len(paths) - len(todo)
    with open(journal, "a", encoding="utf-8") as log_file, ThreadPoolExecutor(max_workers=1) as decoder:
        batches = [todo[i : i + batch_size] for i in range(0, len(todo), batch_size)]
        pending = decoder.submit(_decode_batch, batches[0]) if batches else None
        for index in range(len(batches)):
            if cancelled():
                raise Cancelled("Triage was cancelled; finished files are kept and skipped next time.")
            assert pending is not None
            decoded = pending.result()
            pending = decoder.submit(_decode_batch, batches[index + 1]) if index + 1 < len(batches) else None
            new_rows = _diagnose(decoded, diagnoser)
            for row in new_rows:
                rows[(row.file, row.sha256)] = row
                log_file.write(json.dumps(asdict(row)) + "\n")
            log_file.flush()
            os.fsync(log_file.fileno())
            count += len(new_rows)
            if on_rows:
                on_rows(new_rows)
            if progress:
                progress(Progress.of(count, len(paths), started, "Triage"))
    final = list(rows.values())
    summary = TriageSummary(
        out=str(out), total=len(final), flagged=sum(r.decision == "flagged" for r in final),
        not_flagged=sum(r.decision == "not flagged" for r in final),
        not_diagnosed=sum(r.decision == "not diagnosed" for r in final),
        unreadable=sum(r.decision == "unreadable" for r in final), skipped_existing=skipped,
        seconds=time.perf_counter() - started)
    write_csv(out, final, summary)
    journal.unlink(missing_ok=True)  # everything is in the CSV now
    return summary


Decoded = list[tuple[str, str, LoadedImage | PneumoError, float]]


def _decode_batch(batch: list[tuple[Path, str, str]]) -> Decoded:
    """Runs on the decode thread: read + convert, so the model thread never waits on the disk."""
    decoded: Decoded = []
    for path, relative, digest in batch:
        start = time.perf_counter()
        try:
            image = load_image(path)
            image.model_uint8  # noqa: B018 - computed here, on the decode thread
            decoded.append((relative, digest, image, (time.perf_counter() - start) * 1e3))
        except PneumoError as exc:
            decoded.append((relative, digest, exc, 0.0))
        except Exception as exc:  # noqa: BLE001 - one broken file never stops a triage run
            decoded.append((relative, digest, PneumoError(f"unexpected decoding error ({type(exc).__name__})"), 0.0))
    return decoded


def _diagnose(decoded: Decoded, diagnoser: Diagnoser) -> list[TriageRow]:
    rows: list[TriageRow] = []
    ready: list[tuple[str, str, LoadedImage, float]] = []
    for relative, digest, item, ms in decoded:
        if isinstance(item, PneumoError):
            rows.append(TriageRow(relative, decision="unreadable", error=item.user_message, sha256=digest))
            continue
        meta = item.meta
        blocking = blocking_flags(meta.flags)
        if blocking:
            rows.append(TriageRow(relative, meta.study_uid or "", meta.series_uid or "", decision="not diagnosed",
                                  error="not diagnosed: " + "; ".join(blocking), sha256=digest))
            continue
        ready.append((relative, digest, item, ms))
    if ready:
        try:
            results = diagnoser.predict_batch([r[2] for r in ready], allow_flagged=True,
                                              decode_ms=[r[3] for r in ready])
        except PneumoError as exc:
            results = [exc] * len(ready)  # type: ignore[list-item]
        for (relative, digest, image, _), result in zip(ready, results, strict=True):
            meta = image.meta
            if isinstance(result, PneumoError):
                rows.append(TriageRow(relative, meta.study_uid or "", meta.series_uid or "", decision="not diagnosed",
                                      error=result.user_message, sha256=digest))
                continue
            quality = "ok" if result.lung_crop.ok else "; ".join(result.lung_crop.flags)
            rows.append(TriageRow(relative, meta.study_uid or "", meta.series_uid or "", result.probability,
                                  "flagged" if result.decision else "not flagged", result.threshold, quality, "",
                                  digest))
    return rows


def iter_rows(out: Path) -> Iterator[TriageRow]:
    """Read a finished triage CSV back (the GUI table, tests)."""
    with open(out, newline="") as handle:
        for record in csv.DictReader(line for line in handle if not line.startswith("#")):
            yield _row_from(record)
