"""The double reading as the ILO panel shows it: whose reading is on the form, whether the reader reads blind, and
the image's state (awaiting a second reading, concordant, discordant and queued for a third, adjudicating reading).

``case_view`` is the rule (no Qt in it, so tests read it directly); ``DoubleReadingStatus`` is the line under the
form. The states and the discordance rule are ``engine.ilo.double_reading``'s.
"""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtWidgets import QLabel

from engine.ilo.double_reading import Case, CaseStatus, DiscordanceRule, case_of
from engine.ilo.store import StoredReading

STYLES = {  # by the reader's situation: blind, waiting for someone, settled, to adjudicate
    "blind": "background:#e3ecfa; color:#123a7a; font-weight:bold; padding:3px;",
    "waiting": "color:#444; padding:3px;",
    "settled": "background:#e8f5e9; color:#1b5e20; padding:3px;",
    "discordant": "background:#fff3e0; color:#8a4b00; font-weight:bold; padding:3px;",
}


@dataclass(frozen=True)
class CaseView:
    """What the panel shows of one image to one reader."""

    case: Case
    own: StoredReading | None  # this reader's latest reading of the image (what the form shows and amends)
    blind: bool  # others have signed, this reader has not: their readings and the AI result stay hidden
    text: str
    style: str


def case_view(key: str, history: list[StoredReading], me: str, rule: DiscordanceRule) -> CaseView:
    """The image ``key`` with its ``history`` (oldest first) as the reader ``me`` (a ``reader_key``) sees it."""
    case = case_of(key, history, rule)
    own = case.by(me)
    if case.blind_for(me):
        others = len(case.readings)
        adjudicating = case.status is CaseStatus.AWAITING_ADJUDICATION
        text = (f"Blind {'third, adjudicating' if adjudicating else 'second' if others == 1 else 'further'} reading: "
                f"{others} reading{'s' if others > 1 else ''} of this image by "
                f"{'other readers' if others > 1 else 'another reader'} and the AI result stay hidden until you "
                "sign yours.")
        return CaseView(case, None, True, text, STYLES["blind"])
    status = case.status
    if status is CaseStatus.UNREAD:
        return CaseView(case, None, False, "", STYLES["waiting"])
    head = "Double reading" + (f" (yours is the {case.role_of(own)} reading)" if own is not None else "") + ": "
    if status is CaseStatus.AWAITING_SECOND:
        return CaseView(case, own, False, head + "awaiting a second, independent reading.", STYLES["waiting"])
    if status is CaseStatus.CONCORDANT:
        return CaseView(case, own, False, head + "concordant — the two readings agree by the programme's rule.",
                        STYLES["settled"])
    reasons = "; ".join(case.reasons)
    if status is CaseStatus.AWAITING_ADJUDICATION:
        return CaseView(case, own, False, head + f"discordant ({reasons}) — queued for a third, adjudicating "
                        "reading.", STYLES["discordant"])
    return CaseView(case, own, False, head + f"discordant ({reasons}), adjudicated by a third reading.",
                    STYLES["settled"])


class DoubleReadingStatus(QLabel):
    """One line under the form: the image's double-reading state for the reader at the workstation."""

    def __init__(self) -> None:
        super().__init__("")
        self.setWordWrap(True)
        self.setVisible(False)
        self.view: CaseView | None = None

    def show_view(self, view: CaseView | None, problem: str = "") -> None:
        self.view = view
        text = problem or ("" if view is None else view.text)
        self.setText(text)
        self.setStyleSheet(STYLES["discordant"] if problem else "" if view is None else view.style)
        self.setVisible(bool(text))
