"""Decoding in a helper process: the reading view's image and a folder's thumbnails.

Some DICOM decoders (GDCM's JPEG 2000, for one) hold Python's interpreter lock for the whole decode — two
seconds for a 2000-pixel film on a busy machine — so a decoding thread freezes every other thread, a GUI's
included. A separate process has its own interpreter: the caller's threads keep running.
"""

from __future__ import annotations

import atexit
import multiprocessing
from collections.abc import Iterator, Sequence
from concurrent.futures import CancelledError, Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

import numpy as np

from engine.errors import PneumoError, UnsupportedImageError
from engine.io import LoadedImage, load_image

THUMB_SIDE = 56


class HelperProcess:
    """One helper process, started on first use (with spawn, not fork: forking a process that runs Qt and
    PyTorch threads is unsafe), stopped at exit or after it died."""

    def __init__(self) -> None:
        self._pool: ProcessPoolExecutor | None = None

    def pool(self) -> ProcessPoolExecutor:
        if self._pool is None:
            self._pool = ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn"))
            atexit.register(self.stop)
        return self._pool

    def stop(self) -> None:
        """Stop the process (queued work is dropped); the next ``pool()`` starts a fresh one."""
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None


_DECODER = HelperProcess()
_pool = _DECODER.pool


def make_thumbnail(path: Path, size: int = THUMB_SIDE) -> np.ndarray | None:
    """A small 8-bit preview of the file's display image (None when it cannot be decoded)."""
    from PIL import Image

    try:
        image = load_image(path).display
    except PneumoError:
        return None
    picture = Image.fromarray(image)
    picture.thumbnail((size, size))
    return np.asarray(picture)


def _decode(path: Path) -> LoadedImage:
    image = load_image(path)
    _ = image.pixels  # the float image W/L and the read-out use, computed there too
    return image


def load_image_in_helper(path: str | Path) -> LoadedImage:
    """``load_image(path)`` (with its float pixels) run in the helper process; call it from a worker thread.

    Raises what ``load_image`` raises; a decoder that crashes the helper gives ``UnsupportedImageError``.
    """
    try:
        return _pool().submit(_decode, Path(path)).result()
    except BrokenProcessPool as exc:
        shutdown()
        raise UnsupportedImageError("The decoder stopped while reading this file — it may be damaged; open "
                                    "another file.", path=Path(path)) from exc


def iter_thumbnails(paths: Sequence[Path], size: int = THUMB_SIDE) -> Iterator[tuple[Path, np.ndarray | None]]:
    """``(path, thumbnail)`` in order, decoded in the helper process; closing the generator drops the rest."""
    futures: list[Future] = [_pool().submit(make_thumbnail, Path(path), size) for path in paths]
    try:
        for path, future in zip(paths, futures, strict=True):
            try:
                thumb = future.result()
            except BrokenProcessPool:  # a decoder crashed the helper: no thumbnails, a fresh helper next time
                shutdown()
                thumb = None
            except (CancelledError, RuntimeError, ValueError, OSError):  # a decoder's own error: no thumbnail
                thumb = None
            yield Path(path), thumb
    finally:
        for future in futures:
            future.cancel()


def shutdown() -> None:
    """Stop the helper process (queued thumbnails are dropped)."""
    _DECODER.stop()
