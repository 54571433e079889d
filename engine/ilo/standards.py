"""The ILO standard radiographs a reader compares with, from a local folder and a small index.

The ILO's standard images are licensed by the ILO and do not ship with this program: the reader points Settings at
the folder from the ILO's media (DICOM, PNG or TIFF) holding an index, ``index.json`` or ``index.csv``, that says
what each file shows::

    [{"file": "11pp.dcm", "shows": "1/1 p/p"}, {"file": "A.dcm", "shows": "A", "note": "large opacity"}]

or ``file,shows[,note]`` rows in the CSV. ``shows`` is one of: a profusion with the primary/secondary shape
("1/1 p/p", "2/2 q/t"; "0/0" may stand alone), a large opacity ("A", "B", "C"), a pleural example (text naming
plaques, thickening, costophrenic angles or calcification, e.g. "pleural plaques") or a quality example (text
starting "quality"). Every problem with the index is a one-line message naming the entry and the fix.
"""

from __future__ import annotations

import csv
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine.errors import PneumoError
from engine.ilo.codes import LARGE_OPACITIES, PROFUSION, SHAPES

INDEX_NAMES = ("index.json", "index.csv")
IMAGE_SUFFIXES = frozenset({".dcm", ".dicom", ".dic", "", ".png", ".tif", ".tiff", ".jpg", ".jpeg"})
KINDS = ("profusion", "large opacity", "pleural", "quality")
SHOWS_HELP = ('a profusion with shapes ("1/1 p/p"; "0/0" alone), a large opacity ("A", "B", "C"), a pleural '
              'example ("pleural plaques") or a quality example ("quality example")')
_PROFUSION = re.compile(r"^(?P<profusion>\d/[\d+-])(?:\s+(?P<primary>[a-z])/(?P<secondary>[a-z]))?$")
_PLEURAL_WORDS = ("pleura", "plaque", "thickening", "costophrenic", "calcification")


class StandardsError(PneumoError):
    """The standards folder or its index cannot be used."""

    default_message = "The ILO standards folder cannot be used — check it in Settings."


@dataclass(frozen=True)
class StandardImage:
    """One standard radiograph: its file and what it shows."""

    path: Path
    shows: str  # as the index writes it, tidied ("1/1 p/p")
    kind: str  # one of KINDS
    profusion: str | None = None  # PROFUSION value, for a profusion standard
    shapes: tuple[str, str] = ("", "")  # (primary, secondary), for a profusion standard
    note: str = ""  # the index's own words, e.g. "stand-in"

    def label(self) -> str:
        """The identity shown over the standard: what it is, its file, and the index's note."""
        note = f" — {self.note}" if self.note else ""
        return f"ILO standard {self.shows} ({self.path.name}){note}"


def find_index(folder: str | Path) -> Path:
    """The folder's index file; a clear error when there is none, or two."""
    root = Path(folder)
    if not root.is_dir():
        raise StandardsError(f"The ILO standards folder {root} does not exist — choose the folder in Settings.")
    found = [root / name for name in INDEX_NAMES if (root / name).is_file()]
    if not found:
        raise StandardsError(f"No index in {root.name}: add index.json or index.csv saying what each file shows "
                             "(see docs/ilo.md).")
    if len(found) > 1:
        raise StandardsError(f"{root.name} has both index.json and index.csv — keep one.")
    return found[0]


def read_standards(folder: str | Path) -> tuple[list[StandardImage], list[str]]:
    """Every usable entry of the folder's index, and one line for each problem (the folder or index missing,
    an unreadable index, an entry that names no file or shows something unknown, a duplicate)."""
    try:
        index = find_index(folder)
        entries = _entries(index)
    except StandardsError as exc:
        return [], [exc.user_message]
    standards: list[StandardImage] = []
    found: list[str] = []
    seen: set[str] = set()
    for where, entry in entries:
        try:
            standard = parse_entry(Path(folder), entry)
        except StandardsError as exc:
            found.append(f"{index.name} {where}: {exc.user_message}")
            continue
        key = standard.path.name.lower()
        if key in seen:
            found.append(f"{index.name} {where}: {standard.path.name} is listed twice — keep one entry.")
            continue
        seen.add(key)
        standards.append(standard)
    if not standards and not found:
        found.append(f"{index.name} lists no standard images.")
    return standards, found


def load_standards(folder: str | Path) -> list[StandardImage]:
    """The folder's standards; a ``StandardsError`` naming the first problem (and how many more) if any."""
    standards, found = read_standards(folder)
    if found:
        more = f" (and {len(found) - 1} more)" if len(found) > 1 else ""
        raise StandardsError(found[0] + more)
    return standards


def parse_entry(folder: Path, entry: dict[str, Any]) -> StandardImage:
    """One index entry ({"file", "shows", optional "note"}) as a ``StandardImage``."""
    unknown = sorted(set(entry) - {"file", "shows", "note"})
    if unknown:
        raise StandardsError(f"unknown field(s) {', '.join(unknown)}; the fields are file, shows and note.")
    name, shows = str(entry.get("file") or "").strip(), " ".join(str(entry.get("shows") or "").split())
    if not name:
        raise StandardsError("no file named; give the image's file name, relative to the folder.")
    path = folder / name
    if Path(name).is_absolute() or ".." in Path(name).parts:
        raise StandardsError(f"{name}: give the file relative to the standards folder.")
    if path.suffix.lower() not in IMAGE_SUFFIXES:
        raise StandardsError(f"{name} is not a DICOM, PNG, TIFF or JPEG file.")
    if not path.is_file():
        raise StandardsError(f"{name} is not in the folder — correct the name or copy the file there.")
    if not shows:
        raise StandardsError(f"{name}: say what it shows — {SHOWS_HELP}.")
    note = str(entry.get("note") or "").strip()
    return _classified(path, shows, note)


def _classified(path: Path, shows: str, note: str) -> StandardImage:
    lowered = shows.lower()
    match = _PROFUSION.match(lowered)
    if match:
        profusion, primary, secondary = match["profusion"], match["primary"] or "", match["secondary"] or ""
        if profusion not in PROFUSION:
            raise StandardsError(f"{path.name}: profusion {profusion} is not on the 12-point scale "
                                 f"({' '.join(PROFUSION)}).")
        for shape in (primary, secondary):
            if shape and shape not in SHAPES:
                raise StandardsError(f"{path.name}: shape {shape!r} is not one of {' '.join(SHAPES)}.")
        if not primary and profusion[0] != "0":
            raise StandardsError(f"{path.name}: profusion {profusion} needs its shapes, e.g. '{profusion} p/p'.")
        tidy = f"{profusion} {primary}/{secondary}" if primary else profusion
        return StandardImage(path, tidy, "profusion", profusion, (primary, secondary), note)
    if shows.upper() in LARGE_OPACITIES and shows != "0":
        return StandardImage(path, shows.upper(), "large opacity", note=note)
    if any(word in lowered for word in _PLEURAL_WORDS):
        return StandardImage(path, shows, "pleural", note=note)
    if lowered.startswith("quality"):
        return StandardImage(path, shows, "quality", note=note)
    raise StandardsError(f"{path.name}: {shows!r} is not something the index knows — write {SHOWS_HELP}.")


def _entries(index: Path) -> list[tuple[str, dict[str, Any]]]:
    """(where, entry) pairs from a JSON or CSV index."""
    try:
        text = index.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise StandardsError(f"{index.name} cannot be read ({exc.__class__.__name__}).") from None
    if index.suffix == ".json":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise StandardsError(f"{index.name} is not valid JSON (line {exc.lineno}: {exc.msg}).") from None
        if isinstance(data, dict) and set(data) == {"standards"}:
            data = data["standards"]
        if isinstance(data, dict):  # {"file": "shows"}
            data = [{"file": name, "shows": shows} for name, shows in data.items()]
        if not isinstance(data, list) or not all(isinstance(item, dict) for item in data):
            raise StandardsError(f"{index.name} must be a list of {{\"file\": ..., \"shows\": ...}} objects.")
        return [(f"entry {number}", item) for number, item in enumerate(data, start=1)]
    rows = list(csv.DictReader(text.splitlines()))
    header = set(rows[0]) if rows else set()
    if not {"file", "shows"} <= header:
        raise StandardsError(f"{index.name} needs a header row with the columns file,shows (and optionally note).")
    return [(f"line {number}", {key: value for key, value in row.items() if key is not None})
            for number, row in enumerate(rows, start=2)]


def default_standard(standards: list[StandardImage], profusion: str | None, primary: str = "",
                     secondary: str = "") -> StandardImage | None:
    """The profusion standard closest to the form's entries: the nearest major category first, then the same
    shapes (both, then the primary), then the nearest subcategory on the 12-point scale; 1/1 (else the first
    standard) when the form has no profusion yet."""
    candidates = [s for s in standards if s.kind == "profusion"]
    if not candidates:
        return standards[0] if standards else None
    if profusion not in PROFUSION:
        return next((s for s in candidates if s.profusion == "1/1"), candidates[0])
    wanted = PROFUSION.index(profusion)

    def distance(standard: StandardImage) -> tuple[int, int, int]:
        value = standard.profusion or "0/0"
        shapes = standard.shapes
        mismatch = 0 if not (primary and shapes[0]) else (shapes[0] != primary) * 2 + (
            shapes[1] != (secondary or primary))
        return abs(int(value[0]) - int(profusion[0])), mismatch, abs(PROFUSION.index(value) - wanted)

    return min(candidates, key=distance)
