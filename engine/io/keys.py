"""This installation's secret keys: 32 random bytes made once, in an owner-only file, never logged.

``deid.key`` in the user's data folder keys the de-identification's pseudonyms (``engine.io.deidentify``) and the
UID hashes of audit records (``engine.io.phi.hash_uid``); the PACS node keeps its own ``node.key`` in its store
(``engine.pacs.node``). A module of its own so that both may use it without importing each other.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from engine.paths import data_dir

KEY_FILE = "deid.key"


def installation_key(folder: Path | None = None, *, name: str = KEY_FILE) -> bytes:
    """This installation's secret pseudonym key, created on first use (32 random bytes, owner-only file); ``name``
    and ``folder`` choose another key file (the PACS node keeps its own in its store)."""
    path = (folder or data_dir()) / name
    if path.exists():
        key = path.read_bytes()
        if len(key) >= 32:
            return key
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_bytes(32)
    # O_EXCL: two processes starting together keep whichever key was written first.
    try:
        handle = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_bytes()
    with os.fdopen(handle, "wb") as out:
        out.write(key)
    return key
