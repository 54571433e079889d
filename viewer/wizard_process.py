"""The fine-tune wizard in a process of its own (``python -m viewer.finetune``), so the window never imports torch.

Training needs PyTorch; the reading window must not pay its seconds of import and hundreds of MB. The wizard's
one message back is which head became active (``head-changed`` lines on its stdout); anything on stderr is kept
for the error message if it ends badly.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path

from PySide6.QtCore import QObject, QProcess, QProcessEnvironment, Signal

log = logging.getLogger(__name__)
HEAD_CHANGED = "head-changed"
ERROR_TAIL_CHARS = 2000


def head_changed_line(folder: object) -> str:
    """What the wizard program writes when a head became active (``None``: back to the shipped default)."""
    return f"{HEAD_CHANGED}\t{'' if folder is None else Path(str(folder))}"


class WizardProcess(QObject):
    """One wizard program at a time; ``head_changed`` as the in-process wizard's signal, ``ended`` with a message
    when it stopped abnormally ("" when it was closed normally)."""

    head_changed = Signal(object)  # the newly active head folder (str), or None (back to the shipped default)
    ended = Signal(str)

    def __init__(self, parent: QObject | None = None, *, vision_weights: str = "", llm_path: str = "",
                 program: list[str] | None = None) -> None:
        """``program``: the Python arguments to run instead of ``-m viewer.finetune`` (tests)."""
        super().__init__(parent)
        self.program = program
        self.vision_weights, self.llm_path = vision_weights, llm_path
        self.process: QProcess | None = None
        self._stdout = b""
        self._stderr = b""

    def running(self) -> bool:
        return self.process is not None and self.process.state() != QProcess.ProcessState.NotRunning

    def start(self) -> bool:
        """Start the wizard; False when one is already open (the reader is told so by the caller)."""
        if self.running():
            return False
        process = QProcess(self)
        process.setProcessEnvironment(QProcessEnvironment.systemEnvironment())
        process.readyReadStandardOutput.connect(self._read_stdout)
        process.readyReadStandardError.connect(self._read_stderr)
        process.finished.connect(self._finished)
        process.errorOccurred.connect(self._failed)
        arguments = list(self.program) if self.program else ["-m", "viewer.finetune"]
        if self.vision_weights and not self.program:
            arguments += ["--vision-weights", self.vision_weights]
        if self.llm_path and not self.program:
            arguments += ["--llm-path", self.llm_path]
        self._stdout, self._stderr = b"", b""
        self.process = process
        process.start(sys.executable, arguments)
        return True

    def stop(self) -> None:
        """Close the wizard with the window (a training run in it is cancelled, as closing the wizard does)."""
        if self.running():
            assert self.process is not None
            self.process.terminate()
            if not self.process.waitForFinished(5000):
                self.process.kill()
                self.process.waitForFinished(2000)

    def _read_stdout(self) -> None:
        assert self.process is not None
        self._stdout += bytes(self.process.readAllStandardOutput().data())
        *lines, self._stdout = self._stdout.split(b"\n")
        for raw in lines:
            kind, _, value = raw.decode("utf-8", "replace").rstrip("\r").partition("\t")
            if kind == HEAD_CHANGED:
                self.head_changed.emit(value or None)

    def _read_stderr(self) -> None:
        assert self.process is not None
        self._stderr = (self._stderr + bytes(self.process.readAllStandardError().data()))[-ERROR_TAIL_CHARS:]

    def _finished(self, code: int, status: QProcess.ExitStatus) -> None:
        self._read_stdout()
        crashed = status == QProcess.ExitStatus.CrashExit or code != 0
        if crashed:
            log.warning("The fine-tune wizard ended with code %s", code)  # stderr may hold paths: not logged
        self.ended.emit(self._ending_message(code) if crashed else "")

    def _failed(self, error: QProcess.ProcessError) -> None:
        if error == QProcess.ProcessError.FailedToStart:
            self.ended.emit("The fine-tune wizard could not be started (the Python environment is incomplete).")

    def _ending_message(self, code: int) -> str:
        tail = self._stderr.decode("utf-8", "replace").strip().splitlines()[-1:] if self._stderr else []
        why = f": {tail[0]}" if tail else ""
        return f"The fine-tune wizard stopped unexpectedly (exit code {code}){why}. Your installed heads are unchanged."
