"""The window's side of a blind double reading: while the ILO panel says the reader reads blind (another reader has
signed the image, they have not), the model's result is held whatever the read-first setting and Show AI result
does not show it; once they sign, it is shown, and the model's answer at signing goes into their reading.

Installed by the B reader tools (``BlindReading(window)``); the rules are ``engine.read_first`` (holding) and
``engine.ilo.double_reading`` (who reads blind).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QObject

from engine.result import DiagnosisResult

if TYPE_CHECKING:
    from viewer.main_window import MainWindow

BLIND_NOTE = ("Blind reading: another reader has signed this image. The first reading and the AI result are shown "
              "once you sign your ILO reading.")


class BlindReading(QObject):
    def __init__(self, window: MainWindow) -> None:
        super().__init__(window)
        self.window = window
        ilo = window.ilo
        ilo.blind_changed.connect(self._blind_changed)
        ilo.model_answer = self.model_answer
        # After the window's own reveal slot (connected first): say why nothing was shown.
        window.panel.reveal_requested.connect(self._reveal_refused)
        window.menus.reveal.triggered.connect(self._reveal_refused)

    def model_answer(self) -> DiagnosisResult | None:
        """The model's result for the image on screen, drawn or still held back from a blind reader."""
        return self.window.panel.result or self.window.read_first_session.held_result()

    def _blind_changed(self, blind: bool) -> None:
        """Told for every image shown, every signature and every change of reader."""
        window = self.window
        session = window.read_first_session
        if blind:
            if window.panel.result is not None or (session.revealed and window.diagnosis_running):
                # Another reader sat down while this image's result was on screen: start it again, blind.
                window.open_image(window.current_path)
                return
            session.read_blind()
            window.panel.set_blind_note(BLIND_NOTE)
            if session.held:
                window.panel.show_held()
            window.ilo_dock.show()  # the blind reader's first task is the form
        else:
            window.panel.set_blind_note("")
            if session.blind:  # this image's blindness ends: they have signed (or are a reader who has)
                session.unblind()
                window.reveal_result()
                if window.ilo_dock.isVisible() and window.ilo.evidence is None and not window.diagnosis_running:
                    window.ilo.measure_evidence(window.model, window.panel.result, window.saliency, window.workers)

    def _reveal_refused(self, *_args: object) -> None:
        if self.window.read_first_session.blind:
            self.window.panel.show_held()
            self.window.statusBar().showMessage(BLIND_NOTE, 10_000)
