"""Readings as CSV rows for a screening programme's database: one row per reading, the ILO fields as columns.

Sides are written in the form's notation ("R", "L", "R L", "0"); lists are space-separated; booleans are
"yes"/"no", as on the paper form; a question the reader left unanswered is an empty cell. No
patient-identifying column exists: rows are keyed by ``instance_key``.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from pathlib import Path

from engine.ilo.codes import DIFFUSE_SITES, PLAQUE_SITES
from engine.ilo.form import IloReading, Sides, validate
from engine.ilo.store import StoredReading
from engine.paths import write_atomic


def _yes(value: bool | None) -> str:
    return "" if value is None else "yes" if value else "no"


def _text(value: object) -> str:
    """An answer as text; an unanswered one (None) is an empty cell."""
    return "" if value is None else str(value)


def _site_columns(prefix: str, sites: dict[str, str]) -> list[str]:
    return [f"{prefix}_{site}" for site in sites] + [f"{prefix}_calcified_{site}" for site in sites] + [
        f"{prefix}_extent_right", f"{prefix}_extent_left", f"{prefix}_width_right", f"{prefix}_width_left"]


COLUMNS: tuple[str, ...] = (
    "instance_key", "version", "reader", "read_on", "saved_at", "amendment_reason",
    "quality", "quality_comment",
    "parenchymal", "shape_primary", "shape_secondary", "zones", "profusion", "category", "large_opacities",
    "pleural", *_site_columns("plaques", PLAQUE_SITES), "costophrenic_obliteration",
    *_site_columns("diffuse", DIFFUSE_SITES),
    "other_abnormalities", "symbols", "comments",
)


def reading_row(reading: IloReading, stored: StoredReading | None = None) -> dict[str, str]:
    """One reading as a CSV row (every column of ``COLUMNS``)."""
    row = {
        "instance_key": stored.instance_key if stored else "", "version": str(stored.version) if stored else "",
        "reader": reading.reader, "read_on": reading.read_on, "saved_at": stored.saved_at if stored else "",
        "amendment_reason": stored.amendment_reason if stored else "",
        "quality": _text(reading.quality), "quality_comment": reading.quality_comment,
        "parenchymal": _yes(reading.parenchymal), "shape_primary": reading.small.primary,
        "shape_secondary": reading.small.secondary, "zones": " ".join(reading.small.zones),
        "profusion": _text(reading.small.profusion), "category": _text(reading.category),
        "large_opacities": _text(reading.large),
        "pleural": _yes(reading.pleural), "costophrenic_obliteration": reading.costophrenic.code(),
        "other_abnormalities": _yes(reading.other_abnormalities), "symbols": " ".join(reading.symbols),
        "comments": reading.comments,
    }
    for prefix, record, sites in (("plaques", reading.plaques, PLAQUE_SITES),
                                  ("diffuse", reading.diffuse, DIFFUSE_SITES)):
        for site in sites:
            row[f"{prefix}_{site}"] = record.sites.get(site, Sides()).code()
            row[f"{prefix}_calcified_{site}"] = record.calcification.get(site, Sides()).code()
        for side in ("right", "left"):
            row[f"{prefix}_extent_{side}"] = str(getattr(record, f"extent_{side}"))
            row[f"{prefix}_width_{side}"] = getattr(record, f"width_{side}")
    return {column: row[column] for column in COLUMNS}


def write_csv(path: str | Path, readings: Iterable[StoredReading]) -> Path:
    """Write stored readings (each version its own row) to ``path`` atomically."""
    return _write_rows(path, (reading_row(stored.reading, stored) for stored in readings))


def write_reading_csv(path: str | Path, reading: IloReading) -> Path:
    """Write one signed reading (not from the store: no key or version) as a one-row CSV."""
    validate(reading)
    return _write_rows(path, [reading_row(reading)])


def _write_rows(path: str | Path, rows: Iterable[dict[str, str]]) -> Path:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    write_atomic(Path(path), buffer.getvalue().encode("utf-8"))
    return Path(path)
