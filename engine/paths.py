"""Where things live on disk, and how files are written so a kill never leaves half of one.

* ``data_dir()`` — the user's data folder (installed heads, audit log, readings); ``PNEUMOLLM_DATA`` overrides.
* ``cache_dir()`` — prepared weights and lung-crop caches; ``PNEUMOLLM_CACHE`` overrides.
* ``RESOURCES`` — what ships with the app (the default head, the lung segmenter, icons).
"""

from __future__ import annotations

import hashlib
import os
import sys
import tempfile
from pathlib import Path
from typing import IO, Any

RESOURCES = Path(__file__).resolve().parents[1] / "resources"
DEFAULT_HEAD = RESOURCES / "default_head"


def data_dir() -> Path:
    """The user's data folder (PNEUMOLLM_DATA overrides)."""
    override = os.environ.get("PNEUMOLLM_DATA")
    if override:
        return Path(override)
    return _platform_dir(windows=("APPDATA", "AppData/Roaming", "pneumollm"),
                         mac="Library/Application Support/pneumollm", xdg=("XDG_DATA_HOME", ".local/share"))


def cache_dir() -> Path:
    """The user's cache folder for prepared weights and crops (PNEUMOLLM_CACHE overrides)."""
    override = os.environ.get("PNEUMOLLM_CACHE")
    if override:
        return Path(override)
    return _platform_dir(windows=("LOCALAPPDATA", "AppData/Local", "pneumollm/Cache"),
                         mac="Library/Caches/pneumollm", xdg=("XDG_CACHE_HOME", ".cache"))


def _platform_dir(*, windows: tuple[str, str, str], mac: str, xdg: tuple[str, str]) -> Path:
    home = Path.home()
    if sys.platform == "win32":
        variable, fallback, leaf = windows
        return Path(os.environ.get(variable, home / fallback)) / leaf
    if sys.platform == "darwin":
        return home / mac
    variable, fallback = xdg
    return Path(os.environ.get(variable, home / fallback)) / "pneumollm"


def write_atomic(path: Path, data: bytes) -> None:
    """Write via a temporary file and ``os.replace`` so a kill never leaves a half-written file.

    The file gets the permissions the user's umask gives a new file (``mkstemp`` alone would make it 0600).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current


def file_sha256(path: Path, *, length: int = 32, chunk: int = 1 << 20) -> str:
    """Content hash of a file (hex, first ``length`` characters): triage resume keys, crop-cache keys,
    training-image fingerprints.

    A MetaImage / NRRD header whose pixels are in a separate file (``x.mhd`` + ``x.raw``) hashes both: two headers
    are often byte-identical (same size, same data-file name, different folders) while their pixels differ.
    """
    from engine.io.research_image import detached_pixel_files

    digest = hashlib.sha256()
    for part in (Path(path), *detached_pixel_files(Path(path))):
        with open(part, "rb") as handle:
            while block := handle.read(chunk):
                digest.update(block)
    return digest.hexdigest()[:length]


def lock_exclusively(handle: IO[Any]) -> bool:
    """Take a non-blocking exclusive lock on an open file for as long as it stays open; False if another
    process holds it. The operating system drops the lock when the process dies, so a kill never leaves a
    stale lock behind (a lock *file* would)."""
    try:
        if sys.platform == "win32":
            import msvcrt

            msvcrt.locking(handle.fileno(), msvcrt.LK_NBLCK, 1)
        else:
            import fcntl

            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return False
    return True
