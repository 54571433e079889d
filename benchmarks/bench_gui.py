"""How long the GUI thread stalls: start-up, model loading, one diagnosis, opening and triaging a DICOM folder.

    QT_QPA_PLATFORM=offscreen python benchmarks/bench_gui.py [--model DIR] [--image RG1_UNCR.dcm]

Runs itself twice, one after the other in fresh interpreters (cold starts): the model in its own process (the
app's way) and the old in-process start (the model's libraries imported before the window shows), then prints
both start-up and first-result times side by side. ``--mode process|in-process`` runs one of them.

A 10 ms QTimer records when the event loop runs; a gap between two timeouts is a stall (a user would see a
frozen window for that long). Each phase prints one line, ``PHASE: longest stall N ms, 99th percentile M ms``.
Start-up is the time from the first line of this script (imports included) to the window being on screen: no
event loop runs before that, so the whole of it is one stall. Goal (issue 17): the window on screen in under
1.5 s and no stall over 50 ms after it; the first diagnosis of a cold start under 10 s. Real model (the
installed head, else the shipped one), real DICOMs from ``../shared/data/dicom``. A benchmark, not a test.
"""

from __future__ import annotations

import time

STARTED = time.perf_counter()  # before any import: start-up includes them

import argparse  # noqa: E402
import os  # noqa: E402
import shutil  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
from collections.abc import Callable  # noqa: E402
from pathlib import Path  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the checkout's packages, also as a plain script
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "dicom"
TICK_MS = 10


class StallRecorder:
    """Timestamps of a 10 ms QTimer's timeouts; gaps between them are the GUI thread's stalls."""

    def __init__(self) -> None:
        from PySide6.QtCore import QTimer

        self.ticks: list[float] = []
        self.timer = QTimer()
        self.timer.setInterval(TICK_MS)
        self.timer.timeout.connect(lambda: self.ticks.append(time.perf_counter()))

    def run_until(self, done: Callable[[], bool], timeout_s: float, state: Callable[[], str] = str) -> None:
        from PySide6.QtCore import QEventLoop, QTimer

        self.ticks = [time.perf_counter()]
        loop = QEventLoop()
        check = QTimer()
        check.timeout.connect(lambda: loop.quit() if done() else None)
        check.start(5)
        QTimer.singleShot(int(timeout_s * 1000), loop.quit)
        self.timer.start()
        loop.exec()
        self.timer.stop()
        check.stop()
        self.ticks.append(time.perf_counter())
        if not done():
            raise SystemExit(f"timed out after {timeout_s:.0f} s: {state()}")

    def line(self, phase: str, extra: str = "") -> str:
        import numpy as np

        gaps = np.diff(np.asarray(self.ticks)) * 1000
        longest, p99 = (float(gaps.max()), float(np.percentile(gaps, 99))) if len(gaps) else (0.0, 0.0)
        at = (self.ticks[int(np.argmax(gaps))] - self.ticks[0]) * 1000 if len(gaps) else 0.0
        total = (self.ticks[-1] - self.ticks[0]) * 1000
        return (f"{phase}: longest stall {longest:.0f} ms, 99th percentile {p99:.0f} ms "
                f"({len(gaps)} gaps over {total:.0f} ms, the longest from {at:.0f} ms{extra})")


def main(model: Path | None, image: str, data: Path = DATA, mode: str = "process") -> None:
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication(sys.argv[:1])
    from viewer.app import preload_under, show_splash

    before = time.perf_counter()
    splash = show_splash()
    after = time.perf_counter()
    # QSplashScreen.show() waits up to 1 s for the window to be exposed (so it is drawn before the start-up
    # work blocks the loop); the offscreen platform never exposes a window, so that wait is all timeout here.
    waited = "" if splash.windowHandle().isExposed() else (
        f" (of which {(after - before) * 1000:.0f} ms in QSplashScreen.show(), waiting for an exposure the "
        "offscreen platform never reports)")
    print(f"start: splash on screen after {(after - STARTED) * 1000:.0f} ms{waited}", flush=True)
    preload_under(splash)  # as the app does
    import viewer.main_window as main_window
    from engine.diagnoser_spec import DiagnoserSpec
    from viewer.main_window import MainWindow
    from viewer.model_client import default_diagnoser_factory
    from viewer.settings import ViewerSettings

    factory = None
    if mode == "in-process":  # the old start: the model's libraries under the splash, the model in this process
        from engine.model.runtime import preload_libraries

        preload_libraries(lambda _text: None)

        def factory(settings: ViewerSettings, progress: Callable[[str], None]):
            if model is None:
                return default_diagnoser_factory(settings, progress)
            return DiagnoserSpec.of(model).build(progress=progress)
    elif model is not None:
        main_window.model_spec = lambda settings: DiagnoserSpec.of(model, device=settings.device)

    settings = ViewerSettings(auto_diagnose=False)
    settings.read_first = False  # an attribute older versions lack: the same script measures before and after
    window = MainWindow(settings=settings, diagnoser_factory=factory, preload_model=True)
    window.resize(1500, 950)
    window.show()
    splash.finish(window)
    app.processEvents()
    shown = (time.perf_counter() - STARTED) * 1000
    print(f"start: longest stall {shown:.0f} ms, 99th percentile - (window on screen after {shown:.0f} ms, "
          "imports included)", flush=True)
    recorder = StallRecorder()

    # A cold start: the image is opened as soon as the window is up, while the model still loads.
    opened = time.perf_counter()
    window.open_path(data / image)
    recorder.run_until(lambda: window.current_image is not None, 120, window.panel.status.text)
    print(recorder.line("opening one DICOM (model loading meanwhile)"), flush=True)
    window.diagnose(True)  # allow_flagged: the public test films are adults, outside the shipped head's use
    recorder.run_until(lambda: window.panel.result is not None and not window.diagnosis_running, 600,
                       window.panel.status.text)
    first = time.perf_counter() - opened
    print(recorder.line("first diagnosis (cold: model loading)", f"; first result {first:.1f} s after opening, "
                        f"{time.perf_counter() - STARTED:.1f} s after launch"), flush=True)
    print(f"summary {mode}: window {shown / 1000:.2f} s, first result {first:.1f} s after opening", flush=True)
    for phase in ("one diagnosis (warm)",):
        began = time.perf_counter()
        window.diagnose(True)
        recorder.run_until(lambda: not window.diagnosis_running, 600, window.panel.status.text)
        outcome = "result shown" if window.panel.result is not None else window.panel.status.text()
        print(recorder.line(phase, f"; {time.perf_counter() - began:.1f} s, {outcome}"), flush=True)

    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch) / "dicom"
        shutil.copytree(data, folder)
        window.open_path(folder)
        recorder.run_until(lambda: bool(window.studies.paths) and window.current_image is not None
                           and window.studies.thumbnail_count() == len(window.studies.paths), 300)
        print(recorder.line("opening a DICOM folder", f"; {len(window.studies.paths)} images with thumbnails"),
              flush=True)
        # triage of the same folder in the Triage tab, the model process working while the window is watched
        window.show_triage_tab()
        window.triage_tab.set_folder(folder, Path(scratch) / "triage.csv")
        began = time.perf_counter()
        window.triage_tab.start()
        recorder.run_until(lambda: not window.triage_tab.is_running, 600)
        rows = window.triage_tab.rows()
        print(recorder.line("triage of the folder (Triage tab)", f"; {len(rows)} rows in "
                            f"{time.perf_counter() - began:.1f} s"), flush=True)
    window.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=None, help="a head folder (default: the installed head)")
    parser.add_argument("--image", default="RG1_UNCR.dcm", help="a file of the DICOM folder")
    parser.add_argument("--data", type=Path, default=DATA, help="a folder of DICOMs (default ../shared/data/dicom)")
    parser.add_argument("--mode", choices=("both", "process", "in-process"), default="both")
    args = parser.parse_args()
    if args.mode != "both":
        main(args.model, args.image, args.data, args.mode)
    else:
        import subprocess

        summaries = []
        for mode in ("process", "in-process"):
            print(f"--- {mode} ---", flush=True)
            extra = ["--model", str(args.model)] if args.model else []
            run = subprocess.run([sys.executable, __file__, "--mode", mode, "--image", args.image, "--data",
                                  str(args.data), *extra], capture_output=True, text=True)
            print(run.stdout, end="", flush=True)
            if run.returncode:
                print(run.stderr[-2000:], flush=True)
            summaries += [line for line in run.stdout.splitlines() if line.startswith("summary")]
        print("\n".join(summaries))
