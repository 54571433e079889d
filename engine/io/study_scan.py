"""Scan a folder tree into studies -> series -> images, with header-only DICOM reads.

Non-image objects (SR, presentation states, screen captures) are listed as skipped with a reason;
images that must not be diagnosed silently (lateral views, CT/MR/US, multi-frame) keep their flags.
Raster images (PNG/JPEG/TIFF) and research-format images (MetaImage/NRRD/NIfTI) are grouped one study per folder;
a MetaImage's or NRRD's separate pixel-data file (``x.raw`` beside ``x.mhd``) is part of its header's image, not
a file of its own.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from engine.errors import PneumoError
from engine.io.dicom import meta_from_header, read_header, skip_reason
from engine.io.image import ImageMeta
from engine.io.load import RASTER_SUFFIXES, is_dicom_file
from engine.io.phi import hash_uid
from engine.io.research_image import is_detached_pixel_data, is_research_file

log = logging.getLogger(__name__)

# Files that are never images; skipped silently to keep the list useful (DICOMDIR is an index).
_IGNORED_NAMES = frozenset({"DICOMDIR", ".DS_Store", "Thumbs.db", "desktop.ini"})
_IGNORED_SUFFIXES = frozenset({".txt", ".csv", ".json", ".xml", ".html", ".pdf", ".md", ".ini", ".log", ".zip"})


@dataclass
class Series:
    uid: str
    modality: str | None
    description: str
    images: list[ImageMeta] = field(default_factory=list)


@dataclass
class Study:
    uid: str  # StudyInstanceUID, or "folder:<relative path>" for raster images
    description: str
    series: dict[str, Series] = field(default_factory=dict)

    @property
    def image_count(self) -> int:
        return sum(len(s.images) for s in self.series.values())

    @property
    def uid_hash(self) -> str:
        return hash_uid(self.uid) or ""


@dataclass(frozen=True)
class SkippedFile:
    path: Path
    reason: str


@dataclass
class ScanResult:
    root: Path
    studies: dict[str, Study] = field(default_factory=dict)
    skipped: list[SkippedFile] = field(default_factory=list)

    def images(self) -> Iterator[ImageMeta]:
        for study in self.studies.values():
            for series in study.series.values():
                yield from series.images

    @property
    def image_count(self) -> int:
        return sum(study.image_count for study in self.studies.values())


def iter_candidate_files(root: Path) -> Iterator[Path]:
    """Every file under ``root`` that might be an image, in a stable (sorted) order."""
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in sorted(filenames):
            if name.startswith(".") or name in _IGNORED_NAMES:
                continue
            path = Path(dirpath) / name
            if path.suffix.lower() in _IGNORED_SUFFIXES or is_detached_pixel_data(path):
                continue
            yield path


def scan_folder(root: str | Path, *, progress: Callable[[int, Path], None] | None = None) -> ScanResult:
    """Group every image under ``root`` by StudyInstanceUID / SeriesInstanceUID (header-only reads)."""
    root = Path(root)
    result = ScanResult(root)
    for count, path in enumerate(iter_candidate_files(root), start=1):
        if progress is not None:
            progress(count, path)
        _add_file(result, path)
    return result


def _add_file(result: ScanResult, path: Path) -> None:
    suffix = path.suffix.lower()
    if (suffix in RASTER_SUFFIXES or is_research_file(path)) and not is_dicom_file(path):
        kind = "raster" if suffix in RASTER_SUFFIXES else "research"
        folder = path.parent.relative_to(result.root).as_posix() if path.parent != result.root else "."
        study = result.studies.setdefault(f"folder:{folder}", Study(f"folder:{folder}", f"Images in {folder}"))
        series = study.series.setdefault(folder, Series(folder, None, "Images"))
        series.images.append(ImageMeta(path=path, kind=kind, rows=0, columns=0))
        return
    if not is_dicom_file(path) and suffix:
        result.skipped.append(SkippedFile(path, f"not an image file ({suffix})"))
        return
    try:
        ds = read_header(path)
    except PneumoError as exc:
        result.skipped.append(SkippedFile(path, exc.user_message))
        return
    reason = skip_reason(ds)
    if reason is None and "PixelData" not in ds and "Rows" not in ds:
        reason = "no pixel data"
    if reason is not None:
        result.skipped.append(SkippedFile(path, reason))
        return
    meta = meta_from_header(ds, path)
    study_uid = meta.study_uid or f"unknown-study:{path.parent}"
    series_uid = meta.series_uid or f"unknown-series:{path.parent}"
    study = result.studies.setdefault(
        study_uid, Study(study_uid, str(ds.get("StudyDescription", "") or "Study"))
    )
    series = study.series.setdefault(
        series_uid,
        Series(series_uid, meta.modality, str(ds.get("SeriesDescription", "") or meta.modality or "Series")),
    )
    series.images.append(meta)
