"""Which trained head is active: installed heads live in the user's data folder; the shipped default is
used when none is installed. Installing switches a small pointer file atomically and keeps the previous
head, so one click rolls back."""

from __future__ import annotations

import json
import shutil
import time
import uuid
from pathlib import Path

from engine.errors import ModelLoadError
from engine.paths import DEFAULT_HEAD, data_dir, write_atomic


class ModelStore:
    def __init__(self, root: Path | None = None) -> None:
        self.root = root or data_dir() / "models"
        self.pointer = self.root / "active.json"

    def _read(self) -> dict[str, str | None]:
        try:
            data = json.loads(self.pointer.read_text())
            return data if isinstance(data, dict) else {}
        except (OSError, ValueError):
            return {}

    def active(self) -> Path | None:
        path = self._read().get("active")
        return Path(path) if path and Path(path).exists() else None

    def previous(self) -> Path | None:
        path = self._read().get("previous")
        return Path(path) if path and Path(path).exists() else None

    def install(self, head_dir: Path) -> Path:
        """Copy a trained head into the store and make it active; the current one becomes 'previous'."""
        from engine.model.checkpoint import load_checkpoint  # torch: only when a head is installed

        load_checkpoint(head_dir)  # refuse anything that is not a loadable head before touching the store
        target = self.root / f"head-{time.strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:8]}"  # unique within a second
        staging = self.root / f".{target.name}.partial"
        shutil.copytree(head_dir, staging)
        staging.replace(target)
        current = self.active()
        write_atomic(self.pointer, json.dumps({"active": str(target),
                                               "previous": str(current) if current else None}).encode())
        return target

    def rollback(self) -> Path | None:
        """Make the previous head active again (None = back to the shipped default)."""
        state = self._read()
        if "active" not in state:
            raise ModelLoadError("There is no installed head to roll back from.")
        previous = state.get("previous")
        write_atomic(self.pointer, json.dumps({"active": previous, "previous": state.get("active")}).encode())
        return Path(previous) if previous else None


def active_head_dir(store: ModelStore | None = None) -> Path:
    """The head the app uses: the one the fine-tune wizard installed, else the shipped default."""
    installed = (store or ModelStore()).active()
    if installed is not None:
        return installed
    if not DEFAULT_HEAD.exists():
        raise ModelLoadError("No trained head is installed — train one with `pneumollm train` or reinstall the app "
                             "(the default head ships in resources/default_head).")
    return DEFAULT_HEAD
