"""PneumoLLM Viewer's engine: everything but the GUI (no Qt here; an import-linter contract enforces it).

The names most callers need, imported lazily so ``import engine`` stays cheap (torch loads on first use):

    from engine import Diagnoser, load_image
    result = Diagnoser().predict(load_image("chest.dcm"))
    result.decision.verdict, result.probability, result.threshold

Packages: ``engine.io`` (reading files), ``engine.model`` (PneumoLLM, its configs and checkpoints); modules for
each later step — see ``docs/architecture.md`` for the data flow and who owns each arrow.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

from engine.errors import (
    Cancelled,
    DicomReadError,
    ModelLoadError,
    PneumoError,
    ProfileError,
    SegmentationError,
    TrainingError,
    UnsupportedImageError,
)

_LAZY = {
    "Diagnoser": "engine.diagnoser",
    "DiagnosisResult": "engine.result",
    "Decision": "engine.decision",
    "Verdict": "engine.decision",
    "load_image": "engine.io",
    "LoadedImage": "engine.io",
    "load_profile": "engine.model.registry",
}

__all__ = ["Cancelled", "Decision", "Diagnoser", "DiagnosisResult", "DicomReadError", "LoadedImage",
           "ModelLoadError", "PneumoError", "ProfileError", "SegmentationError", "TrainingError",
           "UnsupportedImageError", "Verdict", "load_image", "load_profile"]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'engine' has no attribute {name!r}")
