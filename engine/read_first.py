"""Read first: the reader reads the film before seeing the AI's answer. Qt-free, so the rules have unit tests.

``ReadFirstSession`` decides, for the case on screen, which of a diagnosis' events (``engine.reading``) still
count and which are kept back until the reader asks; the window only draws what it is handed. A blind reading
(double reading, ``engine.ilo.double_reading``) holds them whatever the setting, and asking does not show them:
only the end of the blindness (the reader has signed) does.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from engine.reading import MapReady, ReadingEvent, ResultReady, SaliencyReady

if TYPE_CHECKING:
    from engine.result import DiagnosisResult

HELD_BACK = (ResultReady, MapReady, SaliencyReady)  # what the model says about the case; progress lines pass


class ReadFirstSession:
    """The read-first state of the case on screen, and which diagnosis' events still count.

    Each diagnosis gets a token from ``start_diagnosis``; a cancel or a newer diagnosis makes older tokens stale,
    so a late event of a diagnosis the reader has left is dropped.
    """

    def __init__(self, read_first: bool) -> None:
        self._held: list[ReadingEvent] = []
        self._revealed = not read_first
        self._diagnosis = 0  # the token of the diagnosis whose events count
        self._blind = False  # a blind double reading: held until the reader signs, asking or not

    @property
    def revealed(self) -> bool:
        """True when results are drawn as they arrive (read-first off, or the reader has asked)."""
        return self._revealed

    @property
    def held(self) -> bool:
        """True when a result is in but kept back until the reader asks."""
        return bool(self._held)

    def new_image(self, read_first: bool) -> None:
        """Another image opens: nothing is held; in read-first mode its result waits for the reader again."""
        self._held = []
        self._revealed = not read_first
        self._blind = False

    def start_diagnosis(self) -> int:
        """A new diagnosis: its token; every earlier diagnosis' events are stale from now on."""
        self._diagnosis += 1
        return self._diagnosis

    def cancel(self) -> None:
        """Stop listening to the running diagnosis (what it already handed over stays held)."""
        self._diagnosis += 1

    def is_current(self, token: int) -> bool:
        return token == self._diagnosis

    def hold(self, event: ReadingEvent) -> bool:
        """Keep ``event`` back if the reader has not asked yet; False when it is to be drawn now."""
        if self._revealed or not isinstance(event, HELD_BACK):
            return False
        self._held.append(event)
        return True

    @property
    def blind(self) -> bool:
        """True while the reader reads blind: the result waits for their signature, not for their asking."""
        return self._blind

    def read_blind(self) -> None:
        """The reader has not signed an image another reader has: hold the model's events until ``unblind``."""
        self._blind, self._revealed = True, False

    def unblind(self) -> None:
        """The blind reader has signed: the held events wait only for ``reveal`` again."""
        self._blind = False

    def held_result(self) -> DiagnosisResult | None:
        """The held result, if one is in (recorded with a blind reading when it is signed)."""
        return next((event.result for event in self._held if isinstance(event, ResultReady)), None)

    def reveal(self) -> list[ReadingEvent]:
        """The reader asks: the held events, in the order they came, to draw now; later ones are drawn at once.
        Nothing while the reading is blind."""
        if self._blind:
            return []
        self._revealed = True
        held, self._held = self._held, []
        return held

    def forget(self) -> bool:
        """Drop what is held (a new head is active); True when something was."""
        had, self._held = bool(self._held), []
        return had
