"""``import engine`` is cheap and Qt-free; its small public API resolves to the real classes."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import engine

ROOT = Path(__file__).resolve().parents[2]


def test_import_engine_loads_neither_torch_nor_qt() -> None:
    code = "import sys, engine; print(sorted(m for m in ('torch', 'PySide6') if m in sys.modules))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_public_names_resolve() -> None:
    """Each public name is the real object of the module that owns it; the rest of ``__all__`` are the errors."""
    from engine.decision import Decision, Verdict
    from engine.diagnoser import Diagnoser
    from engine.errors import PneumoError
    from engine.io import LoadedImage, load_image
    from engine.model.registry import load_profile
    from engine.result import DiagnosisResult

    owned = {"Diagnoser": Diagnoser, "DiagnosisResult": DiagnosisResult, "Decision": Decision, "Verdict": Verdict,
             "LoadedImage": LoadedImage, "load_image": load_image, "load_profile": load_profile}
    for name, thing in owned.items():
        assert getattr(engine, name) is thing, name
    errors = [getattr(engine, name) for name in engine.__all__ if name not in owned]
    assert len(errors) == len(engine.__all__) - len(owned) == 8  # every owned name is public too
    assert all(isinstance(error, type) and issubclass(error, PneumoError) for error in errors)
    assert len(set(engine.__all__)) == len(engine.__all__)
    with pytest.raises(AttributeError, match="no attribute 'diagnose'"):
        engine.diagnose  # noqa: B018 - a misspelt name fails at once, not with a None
