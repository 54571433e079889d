"""ILO-graded training data: the 12-point profusion grade, the affected zones and the shape of each film.

A training CSV is ``path,grade,zones[,shape][,patient_id][,grade_<zone>...]`` (``label`` optional):

* ``grade``: the 12-point profusion ``0/-`` ... ``3/+`` (``engine.ilo.codes.PROFUSION``); ``profusion`` (the ILO
  form's CSV column) is read the same way;
* ``zones``: the affected zones, ``;``-separated names from ``engine.ilo.codes.ZONES`` (the form's CSV separates
  them by spaces; both are read), or ``none``;
* ``shape`` (or the form's ``shape_primary``): ``p q r s t u``, or ``none``;
* ``grade_<zone>`` (optional): each zone's own profusion; without it a listed zone takes the film's grade and an
  unlisted one ``0/0``.

The film's class for the patient-level splits is its major category (``"0"`` ... ``"3"``), so the ordinal
machinery of ``training.data`` (binary labels ``>= 1/0``) applies unchanged. ``readings_to_training_csv`` turns
the ILO form's CSV export (``engine.ilo.csv_rows``, keyed by ``instance_key``) into this format.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from engine.errors import TrainingError
from engine.ilo.codes import PROFUSION, SHAPES, ZONES
from engine.paths import file_sha256, write_atomic

GRADE_COLUMNS = ("grade", "profusion")
SHAPE_COLUMNS = ("shape", "shape_primary")
SHAPE_NAMES = ("none", *SHAPES)  # index 0: no small opacities recorded
CATEGORIES = ("0", "1", "2", "3")


@dataclass(frozen=True)
class IloTruth:
    """One film's ILO reading, as the ILO heads learn it."""

    grade: int  # index into PROFUSION (0 = 0/-, 1 = 0/0, ..., 11 = 3/+)
    zones: tuple[bool, ...]  # affected, in ZONES order
    zone_grades: tuple[int, ...]  # each zone's own profusion index, in ZONES order
    shape: str  # "none" or a SHAPES letter

    @property
    def category(self) -> int:
        return int(PROFUSION[self.grade][0])

    @property
    def abnormal(self) -> bool:
        """ILO's threshold: profusion 1/0 or more."""
        return self.category >= 1

    @property
    def zone_present(self) -> tuple[bool, ...]:
        """Zones with small opacities at 1/0 or more (what the per-zone presence head learns)."""
        return tuple(listed and PROFUSION[g][0] != "0" for listed, g in zip(self.zones, self.zone_grades,
                                                                            strict=True))


def has_ilo_columns(columns: list[str] | tuple[str, ...]) -> bool:
    return any(name in columns for name in GRADE_COLUMNS)


def parse_grade(text: str) -> int:
    value = text.strip()
    if value not in PROFUSION:
        raise TrainingError(f"Profusion grade {text!r} is not on the 12-point scale ({' '.join(PROFUSION)}).")
    return PROFUSION.index(value)


def parse_zones(text: str) -> tuple[bool, ...]:
    """``right_upper;left_upper`` (or space-separated, the form's CSV), ``none`` or empty -> six booleans."""
    names = [name for name in text.replace(";", " ").replace(",", " ").split() if name]
    if names in ([], ["none"]):
        return (False,) * len(ZONES)
    unknown = [name for name in names if name not in ZONES]
    if unknown:
        raise TrainingError(f"Unknown zone(s) {', '.join(unknown)}; zones are {', '.join(ZONES)} or none.")
    return tuple(zone in names for zone in ZONES)


def truth_from_row(row: Mapping[str, str]) -> IloTruth:
    """An ``IloTruth`` from one CSV row (TrainingError names a bad value)."""
    grade_text = next((row[c] for c in GRADE_COLUMNS if (row.get(c) or "").strip()), "")
    if not grade_text:
        raise TrainingError("no profusion grade")
    grade = parse_grade(grade_text)
    zones = parse_zones(row.get("zones") or "")
    shape = next(((row.get(c) or "").strip() for c in SHAPE_COLUMNS if (row.get(c) or "").strip()), "none")
    if shape not in SHAPE_NAMES:
        raise TrainingError(f"Shape {shape!r} is not one of {' '.join(SHAPE_NAMES)}.")
    zone_grades = []
    for zone, listed in zip(ZONES, zones, strict=True):
        own = (row.get(f"grade_{zone}") or "").strip()
        zone_grades.append(parse_grade(own) if own else (grade if listed else PROFUSION.index("0/0")))
    if PROFUSION[grade][0] != "0" and not any(zones):
        raise TrainingError(f"Grade {PROFUSION[grade]} needs the affected zones.")
    return IloTruth(grade, zones, tuple(zone_grades), shape)


def readings_to_training_csv(readings_csv: str | Path, images: list[Path], out_csv: str | Path,
                             patient_of: Mapping[str, str] | None = None) -> dict[str, int]:
    """The ILO form's CSV export -> a training CSV (paths relative to ``out_csv``'s folder).

    Each reading's ``instance_key`` (``engine.ilo.store.instance_key``: a hash of the SOP Instance UID, or of a
    raster file's content) is matched against ``images``; the latest version of each instance wins. Patients come
    from ``patient_of`` (image path -> id) when given, else each DICOM's hashed PatientID or one per file
    (``training.data``). Returns counts: written, unmatched readings, readings without a small-opacity answer.
    """
    from engine.ilo.store import instance_key
    from engine.io import load_image

    with open(readings_csv, newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    latest: dict[str, dict[str, str]] = {}
    for row in rows:
        key = row.get("instance_key", "")
        if key and (key not in latest or int(row.get("version") or 0) >= int(latest[key].get("version") or 0)):
            latest[key] = row
    keys: dict[str, Path] = {}
    for image in images:
        keys["file:" + file_sha256(image)] = image
        if image.suffix.lower() not in (".png", ".jpg", ".jpeg", ".tif", ".tiff"):
            keys.setdefault(instance_key(load_image(image).meta), image)
    out = Path(out_csv)
    written, unanswered = [], 0
    for key, row in latest.items():
        if key not in keys:
            continue
        if not (row.get("profusion") or "").strip():
            if (row.get("parenchymal") or "").strip() != "no":
                unanswered += 1
                continue
            row = {**row, "profusion": "0/0", "zones": ""}  # 2A "no": the form skips 2B, category 0
        truth = truth_from_row(row)  # checked before it is written
        path = keys[key]
        try:
            relative = path.resolve().relative_to(out.parent.resolve()).as_posix()
        except ValueError:
            relative = str(path.resolve())
        written.append({"path": relative, "grade": PROFUSION[truth.grade],
                        "zones": ";".join(z for z, on in zip(ZONES, truth.zones, strict=True) if on) or "none",
                        "shape": truth.shape, "patient_id": (patient_of or {}).get(str(path), "")})
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=["path", "grade", "zones", "shape", "patient_id"], lineterminator="\n")
    writer.writeheader()
    writer.writerows(written)
    write_atomic(out, buffer.getvalue().encode("utf-8"))
    return {"written": len(written), "unmatched": len(latest) - len(written) - unanswered, "unanswered": unanswered}
