"""Which fine-tune wizard the window opens: a program of its own (the model runs in its own process, so this
process never imports torch), or in this process for a window given its own diagnoser factory (tests,
benchmarks). One wizard at a time either way; the window hears which head became active."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QWidget

if TYPE_CHECKING:
    from viewer.finetune import FinetuneWizard
    from viewer.settings import ViewerSettings
    from viewer.wizard_process import WizardProcess


class WizardLauncher(QObject):
    head_changed = Signal(object)  # the newly active head folder, or None (back to the shipped default)
    status = Signal(str, int)  # a line for the status bar, how long to show it (ms)

    def __init__(self, window: QWidget, settings: Callable[[], ViewerSettings], *, in_process: bool) -> None:
        super().__init__(window)
        self.window, self.settings, self.in_process = window, settings, in_process
        self.wizard: FinetuneWizard | None = None
        self.process: WizardProcess | None = None

    def open(self) -> FinetuneWizard | WizardProcess:
        return self._open_in_process() if self.in_process else self._open_program()

    def close(self) -> None:
        """With the window: a running training stops (nothing half-trained is installed; runs resume)."""
        if self.wizard is not None:
            self.wizard.reject()
        if self.process is not None:
            self.process.stop()

    def _open_in_process(self) -> FinetuneWizard:
        if self.wizard is None:
            from viewer.finetune import FinetuneWizard  # training's libraries load when the wizard opens

            settings = self.settings()
            self.wizard = FinetuneWizard(self.window, vision_weights=settings.vision_weights or None,
                                         llm_path=settings.llm_path or None)
            self.wizard.head_changed.connect(self.head_changed.emit)
            self.wizard.finished.connect(self._in_process_closed)
        self.wizard.show()
        self.wizard.raise_()
        return self.wizard

    def _in_process_closed(self, _code: int) -> None:
        self.wizard = None

    def _open_program(self) -> WizardProcess:
        from viewer.wizard_process import WizardProcess

        if self.process is None:
            settings = self.settings()
            self.process = WizardProcess(self, vision_weights=settings.vision_weights, llm_path=settings.llm_path)
            self.process.head_changed.connect(self.head_changed.emit)
            self.process.ended.connect(lambda text: text and self.status.emit(text, 30_000))
        if self.process.start():
            self.status.emit("Opening the fine-tune wizard…", 10_000)
        else:
            self.status.emit("The fine-tune wizard is already open.", 10_000)
        return self.process
