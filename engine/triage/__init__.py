"""Batch triage: many radiographs through one Diagnoser into rows a reader works through, most suspicious first.

``rows`` (the CSV's rows, the summary, reading results back), ``folder`` (a folder on this machine, journalled
and resumable), ``cluster`` (the same on a Dask cluster, into Parquet; import it by name: it loads Dask). The
PACS node's worklist (``engine.pacs``) writes the same rows.
"""

from engine.triage.rows import (
    COLUMNS,
    DECISION_ORDER,
    UNREADABLE,
    TriageRow,
    TriageSummary,
    decision_rank,
    default_results_path,
    existing_rows,
    iter_rows,
    journal_path,
    row_for,
    sort_rows,
    unreadable_row,
    write_csv,
)

__all__ = ["COLUMNS", "DECISION_ORDER", "UNREADABLE", "TriageRow", "TriageSummary", "decision_rank",
           "default_results_path", "existing_rows", "iter_rows", "journal_path", "row_for", "sort_rows",
           "triage_folder", "unreadable_row", "write_csv"]


def __getattr__(name: str) -> object:
    # The folder runner loads the decoders (pydicom, ...) - on first use, so the viewer's window does not wait
    if name == "triage_folder":
        from engine.triage import folder

        return getattr(folder, name)
    raise AttributeError(f"module 'engine.triage' has no attribute {name!r}")
