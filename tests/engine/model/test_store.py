"""Installing heads: each install is its own folder, the previous one is kept, rollback restores it."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.errors import ModelLoadError
from engine.model.store import ModelStore
from tests.head_factory import make_tiny_head


def test_two_installs_in_one_second_stay_apart_and_roll_back(tmp_path: Path) -> None:
    store = ModelStore(tmp_path / "models")
    with pytest.raises(ModelLoadError):
        store.rollback()  # nothing installed yet
    first = store.install(make_tiny_head(tmp_path / "a", seed=0, with_map=False))
    second = store.install(make_tiny_head(tmp_path / "b", seed=1, with_map=False))
    assert first != second and first.exists() and second.exists()
    assert store.active() == second and store.previous() == first
    assert store.rollback() == first and store.active() == first
    with pytest.raises(ModelLoadError):
        store.install(tmp_path / "not-a-head")
    assert store.active() == first  # a refused install leaves the active head alone
