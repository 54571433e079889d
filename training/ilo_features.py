"""On-disk cache of the ILO heads' frozen-encoder features (``engine.ilo.zone_features``), one entry per file.

Keyed by file content, segmenter weights and the feature settings; every entry is written atomically. Training
on cached features is what makes the ILO heads trainable on a CPU: the frozen encoder runs once per film.
"""

from __future__ import annotations

import hashlib
import io
import logging
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from engine.errors import Cancelled, PneumoError
from engine.ilo.zone_features import (
    FEATURE_VERSION,
    TAPS,
    ZONE_MARGIN,
    ZONE_SHAPE,
    FilmFeatures,
    FrozenEncoder,
    features_of,
)
from engine.io import load_image
from engine.paths import cache_dir, file_sha256, write_atomic
from engine.progress import Progress
from engine.segment import LungSegmenter

log = logging.getLogger(__name__)


class FeatureCache:
    """``FilmFeatures`` per file content, in the user's cache folder."""

    def __init__(self, segmenter: LungSegmenter, root: Path | None = None) -> None:
        self.segmenter = segmenter
        signature = f"{FEATURE_VERSION}|{segmenter.weights_id}|{TAPS}|{ZONE_SHAPE}|{ZONE_MARGIN}"
        self.folder = (root or cache_dir() / "ilo_features") / hashlib.sha256(signature.encode()).hexdigest()[:12]
        self._encoder: FrozenEncoder | None = None

    @property
    def encoder(self) -> FrozenEncoder:
        if self._encoder is None:
            self._encoder = FrozenEncoder()
        return self._encoder

    def _path(self, key: str) -> Path:
        return self.folder / key[:2] / f"{key}.npz"

    def get(self, key: str) -> FilmFeatures | None:
        path = self._path(key)
        if not path.exists():
            return None
        try:
            with np.load(path) as data:
                return FilmFeatures(data["whole"], data["zones"], data["zone_area"], bool(data["fallback"]))
        except (OSError, ValueError, KeyError):
            return None

    def put(self, key: str, features: FilmFeatures) -> None:
        buffer = io.BytesIO()
        np.savez(buffer, whole=features.whole, zones=features.zones, zone_area=features.zone_area,
                 fallback=np.array(features.fallback))
        write_atomic(self._path(key), buffer.getvalue())

    def compute(self, path: Path) -> FilmFeatures:
        return features_of(load_image(path).model_uint8, self.segmenter, self.encoder)

    def features(self, paths: list[Path], *, progress: Callable[[Progress], None] | None = None,
                 cancelled: Callable[[], bool] = lambda: False
                 ) -> tuple[list[FilmFeatures], list[str], dict[Path, str]]:
        """(features of the readable files in order, their content hashes, {failed path: reason})."""
        out, keys, failed = [], [], {}
        started = time.perf_counter()
        for number, path in enumerate(paths, start=1):
            if cancelled():
                raise Cancelled("Computing the features was cancelled.")
            try:
                key = file_sha256(path)
                entry = self.get(key)
                if entry is None:
                    entry = self.compute(path)
                    self.put(key, entry)
            except PneumoError as exc:
                failed[path] = exc.user_message
                continue
            except OSError as exc:
                failed[path] = f"unreadable ({type(exc).__name__})"
                continue
            out.append(entry)
            keys.append(key)
            if progress is not None and (number % 16 == 0 or number == len(paths)):
                progress(Progress.of(number, len(paths), started, "Encoding zones"))
        return out, keys, failed
