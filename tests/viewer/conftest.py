"""Viewer fixtures: offscreen Qt, private settings and data folders, a tiny head with the real segmenter."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from engine.diagnoser import Diagnoser
from engine.segment import LungSegmenter
from tests.head_factory import make_tiny_head


@pytest.fixture(autouse=True)
def private_folders(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PNEUMOLLM_DATA", str(tmp_path / "user-data"))
    from PySide6.QtCore import QSettings

    QSettings.setDefaultFormat(QSettings.Format.IniFormat)
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, str(tmp_path / "settings"))


@pytest.fixture(scope="session")
def tiny_head(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_tiny_head(tmp_path_factory.mktemp("viewer-head") / "head")


@pytest.fixture(scope="session")
def tiny_diagnoser(tiny_head: Path, shipped_segmenter: LungSegmenter) -> Diagnoser:
    """Built once: windows share it (tests run one at a time and the model pool has a single thread)."""
    return Diagnoser(tiny_head, segmenter=shipped_segmenter)


@pytest.fixture()
def factory(tiny_diagnoser: Diagnoser):
    """A ``MainWindow`` diagnoser factory that reports progress like the real one, then returns the tiny model."""

    def make(settings, progress):
        progress("building the tiny test model")
        return tiny_diagnoser

    return make

