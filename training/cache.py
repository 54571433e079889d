"""On-disk cache of preprocessed lung crops, keyed by file content and by the segmenter that made them.

Epochs after the first never segment again, and a re-run on the same folder starts at once. Every file is
written atomically; a crop is only trusted when both its PNG and JSON exist.
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
from engine.io import load_image
from engine.paths import cache_dir, file_sha256, write_atomic
from engine.progress import Progress
from engine.segment import LungSegmenter

log = logging.getLogger(__name__)
CACHE_VERSION = "1"


@dataclass(frozen=True)
class CachedCrop:
    crop: np.ndarray  # uint8 (S, S)
    flags: tuple[str, ...]  # flag codes (engine.flags); older caches hold messages
    fallback: bool


class CropCache:
    def __init__(self, segmenter: LungSegmenter, input_size: int = 224, root: Path | None = None) -> None:
        self.segmenter = segmenter
        self.input_size = input_size
        signature = hashlib.sha256(f"{CACHE_VERSION}|{segmenter.weights_id}|{input_size}".encode()).hexdigest()[:12]
        self.folder = (root or cache_dir() / "crops") / signature

    def _paths(self, key: str) -> tuple[Path, Path]:
        base = self.folder / key[:2] / key
        return base.with_suffix(".png"), base.with_suffix(".json")

    def get(self, key: str) -> CachedCrop | None:
        png, meta = self._paths(key)
        if not (png.exists() and meta.exists()):
            return None
        try:
            info = json.loads(meta.read_text())
            crop = np.asarray(Image.open(png).convert("L"))
        except (OSError, ValueError):
            return None
        return CachedCrop(crop, tuple(info.get("flags", ())), bool(info.get("fallback", False)))

    def put(self, key: str, crop: np.ndarray, flags: tuple[str, ...], fallback: bool) -> None:
        png, meta = self._paths(key)
        buffer = io.BytesIO()
        Image.fromarray(crop).save(buffer, format="PNG")
        write_atomic(png, buffer.getvalue())
        write_atomic(meta, json.dumps({"flags": list(flags), "fallback": fallback}).encode())

    def prepare(self, paths: list[Path], *, batch_size: int = 16,
                progress: Callable[[Progress], None] | None = None,
                cancelled: Callable[[], bool] = lambda: False) -> tuple[dict[Path, str], dict[Path, str]]:
        """Make sure every file has a cached crop. Returns ({path: key}, {failed path: reason})."""
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
        started = time.perf_counter()
        done = len(paths) - len(todo)
        for offset in range(0, len(todo), batch_size):
            if cancelled():
                raise Cancelled("Preparing the images was cancelled.")
            chunk = todo[offset : offset + batch_size]
            images, ready = [], []
            for path, key in chunk:
                try:
                    images.append(load_image(path).model_uint8)
                    ready.append((path, key))
                except PneumoError as exc:
                    failed[path] = exc.user_message
                    keys.pop(path, None)
            if images:
                for (_path, key), crop in zip(ready, self.segmenter.lung_crops(images, size=self.input_size),
                                             strict=True):
                    self.put(key, crop.crop, tuple(codes(crop.flags)), crop.fallback)
            done += len(chunk)
            if progress is not None:
                progress(Progress.of(done, len(paths), started, "Segmenting"))
        return keys, failed

    def load_all(self, keys: list[str]) -> tuple[np.ndarray, list[CachedCrop]]:
        crops = [self.get(key) for key in keys]
        missing = sum(c is None for c in crops)
        if missing:
            raise PneumoError(f"{missing} cached crops vanished during training — run again.")
        return np.stack([c.crop for c in crops]), crops  # type: ignore[union-attr]
