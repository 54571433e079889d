"""Read first: the reader reads the film before seeing the AI's answer. Qt-free, so the rules have unit tests.

``ReadFirstSession`` decides, for the case on screen, which of a diagnosis' events (``engine.reading``) still
count and which are kept back until the reader asks; the window only draws what it is handed.
"""

from __future__ import annotations

from engine.reading import MapReady, ReadingEvent, ResultReady, SaliencyReady

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

    def reveal(self) -> list[ReadingEvent]:
        """The reader asks: the held events, in the order they came, to draw now; later ones are drawn at once."""
        self._revealed = True
        held, self._held = self._held, []
        return held

    def forget(self) -> bool:
        """Drop what is held (a new head is active); True when something was."""
        had, self._held = bool(self._held), []
        return had
