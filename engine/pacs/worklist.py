"""The worklist as triage rows: the viewer's Worklist tab and ``pneumollm worklist --csv`` export the received
instances in the folder-triage CSV format (``engine.triage``), so scripts that read one read the other."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from engine.pacs.queue import WorkItem
from engine.triage import TriageRow, write_csv


def triage_row(item: WorkItem) -> TriageRow:
    """The CSV row of one received instance (queued or running ones say so in ``error``, skipped ones why)."""
    if item.state == "skipped":
        error = f"skipped: {item.error or 'not a radiograph to diagnose'}"
    else:
        error = item.error or ("" if item.state in ("done", "failed") else f"{item.state}, no result yet")
    return TriageRow(file=item.path, study_uid=item.study_instance_uid, series_uid=item.series_instance_uid,
                     probability=item.probability, decision=item.decision or "", threshold=item.threshold,
                     error=error, sha256=item.sha256, warnings=item.warnings)


def write_worklist_csv(out: str | Path, items: Iterable[WorkItem]) -> Path:
    write_csv(Path(out), [triage_row(item) for item in items])
    return Path(out)
