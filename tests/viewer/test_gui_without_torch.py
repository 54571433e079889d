"""The window's process never imports the model's libraries: the model answers from its own process."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.dicom_factory import chest_like, make_dicom
from tests.head_factory import make_tiny_head

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = r"""
import sys, time
from pathlib import Path
from PySide6.QtWidgets import QApplication
import viewer.main_window as main_window
from engine.diagnoser_spec import DiagnoserSpec
from viewer.settings import ViewerSettings

head, film = Path(sys.argv[1]), Path(sys.argv[2])
main_window.model_spec = lambda settings: DiagnoserSpec.of(head, device="cpu")
app = QApplication([])
window = main_window.MainWindow(settings=ViewerSettings(read_first=False))
window.show()
window.open_path(film)
deadline = time.monotonic() + 240
while time.monotonic() < deadline and (window.panel.result is None or window.diagnosis_running):
    app.processEvents()
    time.sleep(0.02)
result = window.panel.result
print("result", None if result is None else result.decision.verdict.value)
print("loaded", ",".join(m for m in ("torch", "torchvision", "transformers", "sklearn") if m in sys.modules))
window.close()
"""


def test_the_window_diagnoses_without_importing_torch(tmp_path: Path) -> None:
    head = make_tiny_head(tmp_path / "head")
    film = make_dicom(tmp_path / "a.dcm", chest_like(300, 280), ViewPosition="PA")
    env = {**os.environ, "PYTHONPATH": str(ROOT), "QT_QPA_PLATFORM": "offscreen",
           "PNEUMOLLM_DATA": str(tmp_path / "data"), "PNEUMOLLM_CACHE": os.environ.get("PNEUMOLLM_CACHE", "")}
    if not env["PNEUMOLLM_CACHE"]:
        env.pop("PNEUMOLLM_CACHE")
    run = subprocess.run([sys.executable, "-c", SCRIPT, str(head), str(film)], cwd=tmp_path, env=env,
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-2000:]
    lines = dict(line.split(" ", 1) if " " in line else (line, "") for line in run.stdout.splitlines())
    assert lines.get("result") in ("flagged", "not flagged", "not diagnosed"), run.stdout + run.stderr[-2000:]
    assert lines.get("loaded", "") == "", f"the window's process imported {lines['loaded']}"


# What the window's process may not have loaded by the time the window is built: each costs 0.1-0.7 s of import
# that the reader would wait for (pydicom pulls in requests; matplotlib draws only in the plots process).
LATER = ("pydicom", "PIL", "scipy", "matplotlib", "pynetdicom", "SimpleITK", "reportlab", "highdicom", "torch")
BUILD_ONLY = r"""
import sys
from PySide6.QtWidgets import QApplication
import viewer.app
import viewer.main_window as main_window
from viewer.settings import ViewerSettings

app = QApplication([])
window = main_window.MainWindow(settings=ViewerSettings(read_first=False), preload_model=False)
print("loaded", ",".join(m for m in sys.argv[1:] if m in sys.modules))
window.close()
"""


def test_the_window_is_built_before_any_decoder_or_plotting_library_loads(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "QT_QPA_PLATFORM": "offscreen",
           "PNEUMOLLM_DATA": str(tmp_path / "data")}
    run = subprocess.run([sys.executable, "-c", BUILD_ONLY, *LATER], cwd=tmp_path, env=env,
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr[-2000:]
    loaded = next(line for line in run.stdout.splitlines() if line.startswith("loaded")).removeprefix("loaded").strip()
    assert loaded == "", f"building the window imported {loaded}"
