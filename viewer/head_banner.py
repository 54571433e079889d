"""The banner over the reading window: the research-use notice, led by the active head's intended use when the head
was trained on simulated films (its card says SIMULATION, e.g. the ILO phantom head: "SIMULATION - trained on
synthetic opacities; for trying the ILO workflow, never for patients"). It stays up for as long as that head is
active: set when the head loads, on every result it gives, and when a head is chosen."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel

from engine.model.head_card import HeadCard, is_simulation
from engine.notices import DISCLAIMER

if TYPE_CHECKING:
    from viewer.diagnosis_panel import DiagnosisPanel

PLAIN_STYLE = "background:#8b0000; color:white; font-weight:bold; padding:5px;"
SIMULATION_STYLE = "background:#6a1b9a; color:white; font-weight:bold; padding:6px; font-size:14px;"


class HeadBanner(QLabel):
    def __init__(self) -> None:
        super().__init__(f"⚠ {DISCLAIMER}")  # the one wording, which already asks for a qualified reader
        self.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.setWordWrap(True)
        self.setStyleSheet(PLAIN_STYLE)
        self.simulation = False

    def show_head(self, card: HeadCard, panel: DiagnosisPanel | None = None) -> None:
        """The banner for the active head (and its intended use under every result in ``panel``)."""
        use = card.intended_use
        self.simulation = is_simulation(card)
        self.setText(f"⚠ {use.description} — {DISCLAIMER}" if self.simulation else f"⚠ {DISCLAIMER}")
        self.setStyleSheet(SIMULATION_STYLE if self.simulation else PLAIN_STYLE)
        self.setToolTip("The active head was trained on simulated films: its output is for trying the workflow."
                        if self.simulation else "")
        if panel is not None:
            panel.set_intended_use(use.description or f"{use.population} {'/'.join(use.views)} "
                                   f"{'/'.join(use.modalities)} radiographs; classes {', '.join(card.labels)}")
