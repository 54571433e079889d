"""The Kermany paediatric chest X-ray set (../shared/data/kermany): patient ids from file names, and the
paper-scale draw (630 radiographs: 401 abnormal, 229 normal, as the paper's pneumoconiosis set).

File names carry the patient: ``person1000_bacteria_2931.jpeg`` -> person1000, ``IM-0115-0001.jpeg`` ->
IM-0115, ``NORMAL2-IM-0383-0001.jpeg`` -> NORMAL2-IM-0383 — and where the patient stands in acquisition order
(``acquisition_order``): the set numbers its patients as they were collected, in series (the normals' ``IM-``
series, then ``NORMAL2-IM-``; one ``person`` series for the pneumonias). Its later films — the validation and
full-size films of ``kermany/fullres-dev``, NORMAL2-IM-14xx and person19xx — carry numbers past every training
film, so the latest-numbered training patients are the nearest stand-in for a later acquisition batch.
"""

from __future__ import annotations

import csv
import random
import re
from pathlib import Path

from engine.paths import write_atomic

_PATIENT = (re.compile(r"^(person\d+)_"), re.compile(r"^((?:NORMAL\d+-)?IM-\d+)-"))
CLASSES = ("NORMAL", "PNEUMONIA")
HOLDOUT_FRACTION = 0.15  # the share of patients the shipped head's hold-out takes (training.default_head)


def patient_of(name: str) -> str:
    for pattern in _PATIENT:
        match = pattern.match(name)
        if match:
            return match.group(1)
    return Path(name).stem  # unknown pattern: its own patient


_SERIES = (re.compile(r"^(?:NORMAL(\d+)-)?IM-(\d+)$"), re.compile(r"^person()(\d+)$"))


def acquisition_order(patient: str) -> tuple[int, int]:
    """(series, patient number) of a Kermany patient id (as ``patient_of`` gives it, or a training CSV's
    ``csv:``-prefixed id): later-acquired patients compare larger. Unknown names come first, so they are never
    taken for the latest batch."""
    name = patient.removeprefix("csv:")
    for pattern in _SERIES:
        match = pattern.match(name)
        if match:
            return int(match.group(1) or 1), int(match.group(2))
    return 0, -1


def kermany_rows(root: Path) -> list[tuple[Path, str, str]]:
    """(path, label, patient_id) for every image under root/{NORMAL,PNEUMONIA}."""
    rows = []
    for label in CLASSES:
        for path in sorted((root / label).glob("*.jpeg")):
            rows.append((path, label, patient_of(path.name)))
    return rows


def paper_scale_draw(root: Path, *, abnormal: int = 401, normal: int = 229, seed: int = 0
                     ) -> list[tuple[Path, str, str]]:
    """A seeded draw of the paper's size; patient ids kept so every split stays patient-disjoint."""
    rows = kermany_rows(root)
    rng = random.Random(seed)
    drawn = []
    for label, count in (("PNEUMONIA", abnormal), ("NORMAL", normal)):
        pool = [row for row in rows if row[1] == label]
        drawn.extend(rng.sample(pool, count))
    return sorted(drawn)


def write_csv(rows: list[tuple[Path, str, str]], path: Path) -> Path:
    lines = ["path,label,patient_id"] + [f"{p},{label},{patient}" for p, label, patient in rows]
    write_atomic(path, ("\n".join(lines) + "\n").encode())
    return path


def read_csv_rows(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


def holdout_split(rows: list[tuple[Path, str, str]], *, fraction: float = 0.15, seed: int = 0
                  ) -> tuple[list[tuple[Path, str, str]], list[tuple[Path, str, str]]]:
    """A patient-level, class-stratified hold-out: (training rows, test rows). No patient is in both, so the
    test rows are images the head never saw — the independent test set of the model card."""
    from sklearn.model_selection import StratifiedGroupKFold

    labels = [label for _, label, _ in rows]
    groups = [patient for _, _, patient in rows]
    splitter = StratifiedGroupKFold(n_splits=max(2, round(1 / fraction)), shuffle=True, random_state=seed)
    train, test = next(splitter.split(rows, labels, groups))
    return [rows[i] for i in sorted(train)], [rows[i] for i in sorted(test)]


# How the 224-pixel training copies were made, as far as their files tell (docs/resolution_cue.md): every
# film squashed to 224 x 224 whatever its aspect, Pillow's default resampling (bicubic, antialiased), saved as
# RGB JPEG at Pillow's default quality (their quantisation tables are libjpeg's at quality 75).
COPY_SIDE = 224
COPY_QUALITY = 75


def training_copy(source: Path, target: Path) -> Path:
    """A 224-pixel copy of a full-size Kermany film, made the way the training set's copies were."""
    from PIL import Image

    with Image.open(source) as film:
        copy = film.convert("RGB").resize((COPY_SIDE, COPY_SIDE), Image.BICUBIC)
    target.parent.mkdir(parents=True, exist_ok=True)
    copy.save(target, format="JPEG", quality=COPY_QUALITY)
    return target
