"""``import engine`` is cheap and Qt-free; its small public API resolves to the real classes."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import engine

ROOT = Path(__file__).resolve().parents[2]


def test_import_engine_loads_neither_torch_nor_qt() -> None:
    code = "import sys, engine; print(sorted(m for m in ('torch', 'PySide6') if m in sys.modules))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_public_names_resolve() -> None:
    from engine.diagnoser import Diagnoser
    from engine.io import load_image

    assert engine.Diagnoser is Diagnoser and engine.load_image is load_image
    assert all(getattr(engine, name) is not None for name in engine.__all__)
