"""The result type is torch-free: exports, triage rows and the window read results without the model's libraries."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_importing_the_result_type_loads_no_model_library() -> None:
    code = ("import sys, engine.result, engine.triage.rows, engine.diagnoser_spec, engine.decision\n"
            "print(','.join(m for m in ('torch', 'torchvision', 'transformers', 'sklearn', 'engine.diagnoser') "
            "if m in sys.modules))")
    run = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120,
                         env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "", f"loaded by the result type: {run.stdout.strip()}"


def test_a_diagnoser_spec_travels_by_pickle_and_names_its_plugin() -> None:
    import pickle

    from engine.decision import ThresholdChoice
    from engine.diagnoser_spec import DiagnoserSpec

    spec = DiagnoserSpec.of(Path("/heads/a"), vision_weights="", device="cpu", operating_point="sensitivity:0.95",
                            threads=2)
    assert spec.vision_weights is None and spec.model_dir == "/heads/a"
    assert spec.threshold == ThresholdChoice(None, "sensitivity:0.95")
    again = pickle.loads(pickle.dumps(spec))
    assert again == spec and again.plugin_name == spec.plugin_name
    assert DiagnoserSpec.of(Path("/heads/b")).plugin_name != spec.plugin_name
