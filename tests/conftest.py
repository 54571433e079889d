"""Shared fixtures: the public data beside the repo, and offscreen Qt."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

from engine.segment import LungSegmenter

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("MPLBACKEND", "Agg")
# Exports (ONNX models of the frozen networks) go to a throw-away cache, never the user's.
os.environ.setdefault("PNEUMOLLM_CACHE", tempfile.mkdtemp(prefix="pneumollm-test-cache-"))

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """``../shared/data`` (see its README); tests that need it skip with a clear reason when it is absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"public radiographs not found at {SHARED_DATA} (CI always has them)")
    return SHARED_DATA


@pytest.fixture(scope="session")
def dicom_dir(shared_data: Path) -> Path:
    folder = shared_data / "dicom"
    if not folder.is_dir():
        pytest.skip(f"{folder} is missing")
    return folder


@pytest.fixture(scope="session")
def segmenter() -> LungSegmenter:
    """Pretrained encoder, untrained decoder: enough for plumbing tests (crops usually fall back, visibly)."""
    return LungSegmenter(weights=None)


@pytest.fixture(scope="session")
def shipped_segmenter() -> LungSegmenter:
    """The lung segmenter that ships in resources/ (its model card: resources/lung_segmenter.md)."""
    return LungSegmenter()
