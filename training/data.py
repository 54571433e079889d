"""Labelled radiographs for fine-tuning: a folder with one sub-folder per class, or a CSV.

Patient ids (for patient-level splits) come from the CSV's ``patient_id`` column, else from the DICOM
PatientID (hashed at once, never logged or stored in clear), else one patient per file; the summary says
which source was used.
"""

from __future__ import annotations

import csv
import logging
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from engine.errors import Cancelled, PneumoError, TrainingError
from engine.io import DICOM_SUFFIXES, RASTER_SUFFIXES, is_dicom_file, is_research_file
from engine.io.phi import hash_uid
from engine.io.research_image import is_detached_pixel_data
from engine.progress import Progress
from training.ilo_labels import IloTruth, has_ilo_columns, truth_from_row

log = logging.getLogger(__name__)

MIN_IMAGES_PER_CLASS = 10  # fewer cannot give a validation split and a meaningful metric


@dataclass(frozen=True)
class Item:
    path: Path
    label: int
    patient: str  # hashed or derived id, never a clear-text PatientID
    ilo: IloTruth | None = None  # an ILO-graded CSV's 12-point grade, zones and shape (training.ilo_labels)


@dataclass
class LabelledSet:
    items: list[Item]
    classes: tuple[str, ...]
    patient_source: str  # "csv" | "dicom PatientID (hashed)" | "one patient per file" | mixed
    skipped: list[tuple[Path, str]] = field(default_factory=list)
    root: Path | None = None

    def counts(self) -> dict[str, int]:
        counter = Counter(item.label for item in self.items)
        return {name: counter.get(index, 0) for index, name in enumerate(self.classes)}

    def patients(self) -> dict[str, int]:
        per_class: dict[str, set[str]] = {name: set() for name in self.classes}
        for item in self.items:
            per_class[self.classes[item.label]].add(item.patient)
        return {name: len(ids) for name, ids in per_class.items()}

    def summary(self) -> dict[str, object]:
        return {"images": len(self.items), "per_class": self.counts(), "patients_per_class": self.patients(),
                "patients": len({i.patient for i in self.items}), "patient_id_source": self.patient_source,
                "skipped": len(self.skipped), "classes": list(self.classes)}

    def without(self, failed: dict[Path, str]) -> LabelledSet:
        """The same set minus files that failed later (decode, segmentation), listed as skipped."""
        kept = [item for item in self.items if item.path not in failed]
        return LabelledSet(kept, self.classes, self.patient_source, self.skipped + list(failed.items()), self.root)

    @property
    def ilo_graded(self) -> bool:
        """Every film has an ILO reading (12-point grade and zones): the ILO heads can learn from it."""
        return bool(self.items) and all(item.ilo is not None for item in self.items)

    @property
    def ordinal(self) -> bool:
        """Ordered grades (class names 0, 1, 2, ... such as the ILO major categories) rather than two classes."""
        return is_ordinal(self.classes)

    def binary_labels(self) -> list[int]:
        """For ordered grades: 0 for the lowest grade, 1 for any higher one (the binary head's task)."""
        return [int(item.label >= 1) for item in self.items] if self.ordinal else [item.label for item in self.items]

    def check_usable(self, folds: int = 1) -> None:
        """Refuse, before any training, data that cannot give a model (names the fix)."""
        if len(self.classes) != 2 and not self.ordinal:
            raise TrainingError(f"Need exactly two classes, or ordered grades named 0, 1, 2, ... (found "
                                f"{len(self.classes)}: {', '.join(self.classes)}).")
        for name, count in self.counts().items():
            if count == 0:
                raise TrainingError(f"Class '{name}' has no readable images.")
            if count < MIN_IMAGES_PER_CLASS:
                raise TrainingError(f"Class '{name}' has only {count} readable images; at least "
                                    f"{MIN_IMAGES_PER_CLASS} are needed.")
        need = max(2, folds) * 2 if folds > 1 else 2
        for name, count in self.patients().items():
            if count < need:
                raise TrainingError(f"Class '{name}' has only {count} patients; {folds}-fold cross-validation "
                                    f"with a validation split needs at least {need}. Use fewer folds.")


def is_ordinal(classes: tuple[str, ...]) -> bool:
    """Three or more classes named by consecutive integers from 0 (ILO categories 0-3, a 0-4 severity scale)."""
    return len(classes) >= 3 and all(c.isdigit() for c in classes) and [int(c) for c in classes] == list(
        range(len(classes)))


def class_order(names: set[str] | list[str]) -> tuple[str, ...]:
    """Integer names in numeric order (so "10" follows "9"), any others alphabetically."""
    names = set(names)
    if names and all(name.isdigit() for name in names):
        return tuple(sorted(names, key=int))
    return tuple(sorted(names))


def binary_classes(classes: tuple[str, ...]) -> tuple[str, ...]:
    """The binary head's two labels: the classes themselves, or for grades "0" and "1+" (any higher grade)."""
    return (classes[0], f"{classes[1]}+") if is_ordinal(classes) else classes


def positive_class_index(classes: tuple[str, ...]) -> int:
    """Which class is the finding: the one that is not called normal/negative (else the second)."""
    normal_words = ("normal", "negative", "healthy", "no_finding", "nofinding", "0")
    for index, name in enumerate(classes):
        if name.lower() in normal_words:
            return 1 - index if len(classes) == 2 else index
    return 1


def load_labelled(source: str | Path) -> LabelledSet:
    source = Path(source)
    if source.is_file() and source.suffix.lower() == ".csv":
        return from_csv(source)
    if source.is_dir():
        return from_folder(source)
    raise TrainingError(f"{source} is neither a folder with one sub-folder per class nor a CSV file.")


def _is_image_candidate(path: Path) -> bool:
    suffix = path.suffix.lower()
    return suffix in RASTER_SUFFIXES or suffix in DICOM_SUFFIXES or is_research_file(path) or is_dicom_file(path)


def from_folder(root: Path) -> LabelledSet:
    classes = class_order([d.name for d in root.iterdir() if d.is_dir() and not d.name.startswith(".")])
    if not classes:
        raise TrainingError(f"{root} has no class sub-folders (expected e.g. normal/ and pneumoconiosis/).")
    items, skipped, sources = [], [], Counter()
    for label, name in enumerate(classes):
        for path in sorted((root / name).rglob("*")):
            if not path.is_file() or path.name.startswith(".") or is_detached_pixel_data(path):
                continue
            if not _is_image_candidate(path):
                skipped.append((path, f"not an image file ({path.suffix or 'no suffix'})"))
                continue
            patient, how = _patient_from_file(path)
            sources[how] += 1
            items.append(Item(path, label, patient))
    return LabelledSet(items, classes, _describe_sources(sources), skipped, root)


def from_csv(path: Path) -> LabelledSet:
    try:
        with open(path, newline="") as handle:
            rows = list(csv.DictReader(handle))
    except (OSError, UnicodeDecodeError, csv.Error):
        raise TrainingError(f"{path.name} could not be read as CSV.") from None
    graded = bool(rows) and has_ilo_columns(list(rows[0]))
    if not rows or "path" not in rows[0] or ("label" not in rows[0] and not graded):
        raise TrainingError(f"{path.name} needs the columns path,label[,patient_id] (or ILO readings: "
                            "path,grade,zones[,shape][,patient_id]).")
    truths: list[IloTruth | None] = []
    for number, row in enumerate(rows, start=2):  # line numbers as an editor shows them
        try:
            truths.append(truth_from_row(row) if graded else None)
        except TrainingError as exc:
            raise TrainingError(f"{path.name}, line {number}: {exc.user_message}") from None
    # ILO readings: the class is the major category, so the splits are stratified by it (training.ilo_labels)
    labels = [str(t.category) if t is not None else row.get("label", "").strip() for row, t in zip(rows, truths,
                                                                                                   strict=True)]
    classes = class_order({label for label in labels if label})
    items, skipped, sources = [], [], Counter()
    for row, label, truth in zip(rows, labels, truths, strict=True):
        file = Path(row["path"].strip())
        file = file if file.is_absolute() else path.parent / file
        if not label:
            skipped.append((file, "no label in the CSV"))
            continue
        if not file.exists():
            skipped.append((file, "file not found"))
            continue
        patient = (row.get("patient_id") or "").strip()
        if patient:
            how = "csv"
            patient = f"csv:{patient}"
        else:
            patient, how = _patient_from_file(file)
        sources[how] += 1
        items.append(Item(file, classes.index(label), patient, truth))
    if not items:
        missing = [file for file, reason in skipped if reason == "file not found"]
        if missing:
            shown = ", ".join(str(file) for file in missing[:3])
            raise TrainingError(f"None of the {len(rows)} files {path.name} lists exists (relative paths are "
                                f"read from the CSV's folder), e.g. {shown}.")
    return LabelledSet(items, classes, _describe_sources(sources), skipped, path.parent)


def _patient_from_file(path: Path) -> tuple[str, str]:
    if path.suffix.lower() not in RASTER_SUFFIXES and not is_research_file(path) and is_dicom_file(path):
        try:
            from engine.io.dicom import read_header

            patient_id = str(read_header(path).get("PatientID", "") or "").strip()
        except PneumoError:
            patient_id = ""
        if patient_id:
            return f"dicom:{hash_uid(patient_id)}", "dicom PatientID (hashed)"
    return f"file:{path}", "one patient per file"


def _describe_sources(sources: Counter) -> str:
    if not sources:
        return "none"
    if len(sources) == 1:
        return next(iter(sources))
    return "mixed: " + ", ".join(f"{how} ({n})" for how, n in sources.most_common())


@dataclass
class DataCheck:
    """What a check of labelled data found: the readable set, and the files that could not be decoded."""

    source: Path
    dataset: LabelledSet  # readable images only
    unreadable: list[tuple[Path, str]] = field(default_factory=list)


def check_readable(source: Path, *, progress: Callable[[Progress], None] | None = None,
                   cancelled: Callable[[], bool] = lambda: False) -> DataCheck:
    """Read the labelled set and decode every image once; unreadable files are listed, not fatal."""
    from engine.io import load_image

    dataset = load_labelled(source)
    unreadable: list[tuple[Path, str]] = []
    started = time.perf_counter()
    total = len(dataset.items)
    for number, item in enumerate(dataset.items, start=1):
        if cancelled():
            raise Cancelled()
        try:
            load_image(item.path)
        except PneumoError as exc:
            unreadable.append((item.path, exc.user_message))
        except Exception as exc:  # noqa: BLE001 - one broken file never stops the check
            unreadable.append((item.path, f"unexpected decoding error ({type(exc).__name__})"))
        if progress is not None and (number == total or number % 8 == 0):
            progress(Progress.of(number, total, started, "Checking images"))
    return DataCheck(Path(source), dataset.without(dict(unreadable)), unreadable)
