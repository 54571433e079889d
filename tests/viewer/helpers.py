"""Helpers for the viewer tests: windows, tiny models, user folders, screenshots (imported explicitly)."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from engine.diagnoser import Diagnoser
from engine.model_host import LocalModel
from engine.reading import ModelSession
from engine.segment import LungSegmenter
from tests.dicom_factory import chest_like, make_dicom
from tests.head_factory import make_tiny_head
from viewer.main_window import MainWindow
from viewer.settings import ViewerSettings

RESULT_TIMEOUT_MS = 180_000  # the machine is slow and shared; a tiny-model diagnosis takes about a second


def isolate_user_folders(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Point the cache and the user data folder (models, runs, audit log) into tmp_path."""
    monkeypatch.setenv("PNEUMOLLM_CACHE", str(tmp_path / "user-cache"))
    monkeypatch.setenv("PNEUMOLLM_DATA", str(tmp_path / "user-data"))


def tiny_diagnoser(folder: Path, threshold: float = 0.5) -> Diagnoser:
    head = make_tiny_head(folder / "head", with_map=False, threshold=threshold)
    return Diagnoser(head, segmenter=LungSegmenter(weights=None))


def in_process(build: Any) -> LocalModel:
    """A tab's model client serving requests in this process with the model ``build()`` returns (or raises)."""
    return LocalModel(ModelSession(lambda _progress: build()))


def make_triage_folder(root: Path, good: int = 5) -> Path:
    """``good`` frontal DICOMs, one PNG and one broken file: ``good + 2`` rows."""
    rng = np.random.default_rng(0)
    (root / "study").mkdir(parents=True)
    for index in range(good):
        image = chest_like(128 + index, 120).astype(np.float32) + rng.normal(0, 300 + 150 * index, (128 + index, 120))
        make_dicom(root / "study" / f"img{index}.dcm", np.clip(image, 0, 4095).astype(np.uint16), ViewPosition="PA")
    Image.fromarray(chest_like(dtype=np.uint8, high=250)).save(root / "chest.png")
    (root / "study" / "broken.dcm").write_bytes(b"\x00" * 300)
    return root


class GatedDiagnoser:
    """Wraps a Diagnoser; from the ``gate_after``-th batch of ``iter_diagnose`` on, waits until ``gate`` is set
    before handing out the batch's first outcome.

    Lets a test cancel between two batches deterministically, however slow the machine is.
    """

    def __init__(self, diagnoser: Diagnoser, gate_after: int = 1) -> None:
        self.diagnoser = diagnoser
        self.gate = threading.Event()
        self.gate_after = gate_after

    def iter_diagnose(self, paths: Any, batch_size: int = 8, **kwargs: Any) -> Any:
        for index, outcome in enumerate(self.diagnoser.iter_diagnose(paths, batch_size, **kwargs)):
            if index % batch_size == 0 and index // batch_size >= self.gate_after:
                self.gate.wait(timeout=60)
            yield outcome

    def __getattr__(self, name: str) -> Any:
        return getattr(self.diagnoser, name)


def settle() -> None:
    """Deliver what is already posted (queued signals from finished workers, layout requests) - no waiting on a
    clock: whatever a test checks next is decided by events already in the queue."""
    from PySide6.QtWidgets import QApplication

    for _ in range(3):  # a layout pass can post one more (a label's new height resizes its scroll area)
        QApplication.sendPostedEvents()
        QApplication.processEvents()


def save_screenshot(widget: Any, path: Path) -> Path:
    """Grab ``widget`` into ``path`` (a test's tmp folder: the README's screenshots come from
    docs/screenshots/make_screenshots.py with the real head, never from a test's tiny one)."""
    settle()  # pending layout requests (new label texts) before grabbing
    path.parent.mkdir(parents=True, exist_ok=True)
    assert widget.grab().save(str(path)), f"could not write {path}"
    return path


def make_window(qtbot, factory, **settings) -> MainWindow:
    """A shown main window with the given diagnoser factory and settings; no model is built until needed.

    Read-first mode is off unless asked for, so a test sees the result as soon as it is in.
    """
    settings.setdefault("read_first", False)
    window = MainWindow(settings=ViewerSettings(**settings), diagnoser_factory=factory, preload_model=False)
    qtbot.addWidget(window)
    window.resize(1400, 900)
    window.show()
    return window

def wait_for_result(qtbot, window: MainWindow, timeout: int = RESULT_TIMEOUT_MS) -> None:
    """Until the result is shown and the worker has finished (map and saliency included)."""
    qtbot.waitUntil(lambda: window.panel.result is not None, timeout=timeout)
    qtbot.waitUntil(lambda: not window.diagnosis_running, timeout=timeout)  # the busy button can blink off

def wait_for_image(qtbot, window: MainWindow, name: str, timeout: int = 60_000) -> None:
    qtbot.waitUntil(lambda: window.view.image is not None and window.view.image.meta.path.name == name,
                    timeout=timeout)
