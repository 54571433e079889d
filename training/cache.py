"""On-disk cache of segmented lung regions, keyed by file content and by the segmenter that made them.

Each entry holds the lung rectangle of one radiograph with a border around it (room for the box jitter of
``training.augment``), at the source's resolution up to ``REGION_CAP`` pixels, plus the rectangle's size in
source pixels. Model crops for any head geometry are made from it with ``engine.segment.model_crop`` — the same
function inference uses — so training and inference cannot drift apart. Epochs after the first never segment
again; every file is written atomically and an entry is trusted only when both its PNG and JSON exist.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from engine.errors import Cancelled, PneumoError
from engine.flags import codes
from engine.io import LoadedImage, load_image
from engine.model.config import PreprocessConfig
from engine.paths import cache_dir, file_sha256, write_atomic
from engine.preprocess import whole_image
from engine.presentation import present
from engine.progress import Progress
from engine.segment import LungSegmenter, model_crop, resize_area

log = logging.getLogger(__name__)
CACHE_VERSION = "3"  # 3: the whole radiograph at WHOLE_SIZE beside the region
REGION_BORDER = 0.15  # of the lung rectangle's size, each side: room for shifting and scaling the box
REGION_CAP = 768  # regions larger than this are stored downsampled (far above any head's effective side)
WHOLE_SIZE = 224  # the whole radiograph, for the out-of-domain check's reference features


@dataclass(frozen=True)
class CachedRegion:
    region: np.ndarray  # uint8 (h, w): the lung rectangle and a border around it
    box: tuple[int, int, int, int]  # the lung rectangle inside ``region`` (x0, y0, x1, y1)
    box_side: int  # the rectangle's long side in the source radiograph's pixels
    source_long_side: int  # the radiograph's long side in pixels
    flags: tuple[str, ...]  # flag codes (engine.flags)
    fallback: bool
    whole: np.ndarray  # uint8 (WHOLE_SIZE, WHOLE_SIZE): engine.preprocess.whole_image of the radiograph

    def crop(self, size: int, effective_side: int | None) -> np.ndarray:
        """The model crop of this radiograph for a head geometry (``PreprocessConfig``)."""
        return model_crop(self.region, self.box, size, effective_side)


def cut_region(image_uint8: np.ndarray, box: tuple[int, int, int, int]) -> tuple[np.ndarray, tuple[int, ...]]:
    """The box plus ``REGION_BORDER`` around it (clipped to the image), downsampled to ``REGION_CAP`` at most;
    returns the region and the box in its coordinates."""
    height, width = image_uint8.shape
    x0, y0, x1, y1 = box
    bx, by = round((x1 - x0) * REGION_BORDER), round((y1 - y0) * REGION_BORDER)
    rx0, ry0, rx1, ry1 = max(0, x0 - bx), max(0, y0 - by), min(width, x1 + bx), min(height, y1 + by)
    region = image_uint8[ry0:ry1, rx0:rx1]
    inner = (x0 - rx0, y0 - ry0, x1 - rx0, y1 - ry0)
    scale = min(1.0, REGION_CAP / max(region.shape))
    if scale < 1.0:
        region = resize_area(region, max(1, round(region.shape[1] * scale)), max(1, round(region.shape[0] * scale)))
        inner = tuple(round(v * scale) for v in inner)
    return np.ascontiguousarray(region), inner


class RegionCache:
    """``presentation``: a head card's preprocessing whose film grid every image is first brought to
    (``engine.presentation``, as inference does); None: images at the size they are decoded."""

    def __init__(self, segmenter: LungSegmenter, root: Path | None = None,
                 presentation: PreprocessConfig | None = None) -> None:
        self.segmenter = segmenter
        self.presentation = presentation if presentation is not None and presentation.film_grid else None
        signature = f"{CACHE_VERSION}|{segmenter.weights_id}|{REGION_BORDER}|{REGION_CAP}|{WHOLE_SIZE}"
        if self.presentation is not None:  # only then: caches made without a grid stay valid
            signature += f"|grid {self.presentation.film_grid}|q {self.presentation.film_jpeg_quality}"
        self.folder = (root or cache_dir() / "regions") / hashlib.sha256(signature.encode()).hexdigest()[:12]

    def _paths(self, key: str) -> tuple[Path, Path, Path]:
        base = self.folder / key[:2] / key
        return base.with_suffix(".png"), base.with_suffix(".whole.png"), base.with_suffix(".json")

    def get(self, key: str) -> CachedRegion | None:
        png, whole_png, meta = self._paths(key)
        if not (png.exists() and whole_png.exists() and meta.exists()):
            return None
        try:
            info = json.loads(meta.read_text())
            with Image.open(png) as picture:
                region = np.asarray(picture.convert("L"))
            with Image.open(whole_png) as picture:
                whole = np.asarray(picture.convert("L"))
            return CachedRegion(region, tuple(info["box"]), int(info["box_side"]), int(info["source_long_side"]),
                                tuple(info.get("flags", ())), bool(info.get("fallback", False)), whole)
        except (OSError, ValueError, KeyError, TypeError):
            return None  # a damaged entry is made again

    def put(self, key: str, entry: CachedRegion) -> None:
        png, whole_png, meta = self._paths(key)
        for path, pixels in ((png, entry.region), (whole_png, entry.whole)):
            buffer = io.BytesIO()
            Image.fromarray(pixels).save(buffer, format="PNG")
            write_atomic(path, buffer.getvalue())
        info = {"box": [int(v) for v in entry.box], "box_side": int(entry.box_side),
                "source_long_side": int(entry.source_long_side),
                "flags": list(entry.flags), "fallback": entry.fallback}
        write_atomic(meta, json.dumps(info).encode())

    def prepare(self, paths: list[Path], *, batch_size: int = 16,
                progress: Callable[[Progress], None] | None = None,
                cancelled: Callable[[], bool] = lambda: False) -> tuple[dict[Path, str], dict[Path, str]]:
        """Make sure every file has a cached region. Returns ({path: key}, {failed path: reason})."""
        keys, failed, todo = self._sort(paths)
        started = time.perf_counter()
        done = len(paths) - len(todo)
        for offset in range(0, len(todo), batch_size):
            if cancelled():
                raise Cancelled("Preparing the images was cancelled.")
            chunk = todo[offset : offset + batch_size]
            images, ready = [], []
            for path, key in chunk:
                try:
                    images.append(self._eight_bit(load_image(path)))
                    ready.append((path, key))
                except PneumoError as exc:
                    failed[path] = exc.user_message
                    keys.pop(path, None)
            if images:
                for (_path, key), image, lungs in zip(ready, images, self.segmenter.lung_crops(images), strict=True):
                    region, box = cut_region(image, lungs.box)
                    x0, y0, x1, y1 = lungs.box
                    self.put(key, CachedRegion(region, box, max(x1 - x0, y1 - y0), max(image.shape),  # type: ignore[arg-type]
                                               tuple(codes(lungs.flags)), lungs.fallback,
                                               whole_image(image, WHOLE_SIZE)))
            done += len(chunk)
            if progress is not None:
                progress(Progress.of(done, len(paths), started, "Segmenting"))
        return keys, failed

    def uncached(self, paths: list[Path]) -> list[Path]:
        """The files ``prepare`` would segment (unreadable ones are left to it to report)."""
        return [path for path, _key in self._sort(paths)[2]]

    def _sort(self, paths: list[Path]) -> tuple[dict[Path, str], dict[Path, str], list[tuple[Path, str]]]:
        """({path: key}, {unreadable path: reason}, [(path, key) without a cached region]): each file hashed once."""
        keys: dict[Path, str] = {}
        failed: dict[Path, str] = {}
        todo: list[tuple[Path, str]] = []
        for path in paths:
            try:
                key = file_sha256(path)
            except OSError as exc:
                failed[path] = f"unreadable ({type(exc).__name__})"
                continue
            keys[path] = key
            if self.get(key) is None:
                todo.append((path, key))
        return keys, failed, todo

    def _eight_bit(self, image: LoadedImage) -> np.ndarray:
        return image.model_uint8 if self.presentation is None else present(image, self.presentation).pixels

    def load_all(self, keys: list[str]) -> list[CachedRegion]:
        entries = [self.get(key) for key in keys]
        missing = sum(entry is None for entry in entries)
        if missing:
            raise PneumoError(f"{missing} cached lung regions vanished during training — run again.")
        return entries  # type: ignore[return-value]
