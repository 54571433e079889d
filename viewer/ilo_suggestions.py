"""An ILO head's suggestion beside the ILO form (``engine.ilo.suggestion``): the 12-point profusion, the major
category, the zones and the shape, in amber, with the form's own profusion box, shape box and zone boxes outlined.

Nothing is filled in: the reader's fields stay empty until the reader chooses, by entering a value or by pressing
"Take …", which puts that suggestion into the form as the reader's own entry (the reader chose it). What a signed
reading keeps of the model is ``model_suggestion`` (the suggestion as the model gave it), apart from the reading.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from engine.ilo.suggestion import IloSuggestion
from engine.result import DiagnosisResult
from viewer.ilo_form import SUGGESTION_STYLE, SUGGESTION_TIP, IloForm

BOX_STYLE = "QWidget#suggestions { border: 2px solid #e69500; border-radius: 4px; background: #fff6e0; }"
ZONE_SHORT = {"right_upper": "RU", "right_middle": "RM", "right_lower": "RL", "left_upper": "LU",
              "left_middle": "LM", "left_lower": "LL"}


def suggestion_of(result: DiagnosisResult | None) -> IloSuggestion | None:
    """The ILO suggestion of a diagnosed result (None for a crop head, or a case not diagnosed)."""
    if result is None or result.ilo is None or not result.decision.diagnosed:
        return None
    return result.ilo


def model_suggestion(result: DiagnosisResult | None) -> dict[str, Any] | None:
    """What a signed reading keeps of the model's ILO suggestion (``ReadingStore.save(model_suggestion=...)``)."""
    suggestion = suggestion_of(result)
    if suggestion is None:
        return None
    return {**suggestion.to_json(), "model_id": result.model_id,  # type: ignore[union-attr]
            "probability": round(result.probability, 6), "flagged": result.decision.flagged}  # type: ignore[union-attr]


class SuggestionBox(QWidget):
    """The amber box over the form; hidden while there is no ILO suggestion."""

    def __init__(self, form: IloForm) -> None:
        super().__init__()
        self.form = form
        self.suggestion: IloSuggestion | None = None
        self.setObjectName("suggestions")
        self.setStyleSheet(BOX_STYLE)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 4, 6, 4)
        self.text = QLabel("")
        self.text.setWordWrap(True)
        self.text.setStyleSheet("color:#6b3d00;")
        layout.addWidget(self.text)
        buttons = QHBoxLayout()
        self.take_profusion = QPushButton("Take the profusion")
        self.take_zones = QPushButton("Take the zones")
        self.take_shape = QPushButton("Take the shape")
        for button in (self.take_profusion, self.take_zones, self.take_shape):
            button.setToolTip("Enter the model's suggestion in the form as your own reading (only if you see it)")
            buttons.addWidget(button)
        buttons.addStretch(1)
        layout.addLayout(buttons)
        self.take_profusion.clicked.connect(self.take_suggested_profusion)
        self.take_zones.clicked.connect(self.take_suggested_zones)
        self.take_shape.clicked.connect(self.take_suggested_shape)
        self.show_suggestion(None)

    def show_suggestion(self, suggestion: IloSuggestion | None) -> None:
        """Show ``suggestion`` (None hides the box and the outlines); the form's values are never changed here."""
        self.suggestion = suggestion
        self.setVisible(suggestion is not None)
        profusion = self.form.profusion
        profusion.setStyleSheet(SUGGESTION_STYLE if suggestion is not None else "")
        profusion.setToolTip(f"The model suggests {suggestion.profusion}. {SUGGESTION_TIP}" if suggestion
                             else "Type it: 1/1 (or 11), 3/+ (or 3+), 0/- (or 0-)")
        shape = suggestion.shape if suggestion is not None else None
        self.form.primary.setStyleSheet(SUGGESTION_STYLE if shape else "")
        self.form.primary.setToolTip(f"The model suggests {shape}. {SUGGESTION_TIP}" if shape else "")
        self.take_shape.setVisible(suggestion is not None and suggestion.shape_output)
        self.take_shape.setEnabled(bool(shape))
        if suggestion is None:
            self.text.setText("")
            return
        zones = ", ".join(ZONE_SHORT[zone] for zone in suggestion.zones) or "none"
        self.text.setText(f"{'SIMULATION — ' if suggestion.simulation else ''}<b>Model suggests</b> (not a reading): "
                          f"profusion <b>{suggestion.profusion}</b> · major category <b>{suggestion.category}</b> · "
                          f"zones <b>{zones}</b> · shape <b>{_shape_words(suggestion)}</b>")
        self.take_zones.setEnabled(bool(suggestion.zones))

    def take_suggested_profusion(self) -> None:
        """The reader takes the suggested profusion (2A is the reader's to answer, and is left as it is)."""
        if self.suggestion is not None:
            box = self.form.profusion
            box.setCurrentIndex(box.findData(self.suggestion.profusion))

    def take_suggested_shape(self) -> None:
        """The reader takes the suggested primary shape (the secondary shape is the reader's to choose)."""
        if self.suggestion is not None and self.suggestion.shape:
            box = self.form.primary
            box.setCurrentIndex(box.findData(self.suggestion.shape))

    def take_suggested_zones(self) -> None:
        """The reader takes the suggested zones (ticks them; boxes already ticked stay ticked)."""
        if self.suggestion is not None:
            for zone in self.suggestion.zones:
                self.form.zones[zone].setChecked(True)


def _shape_words(suggestion: IloSuggestion) -> str:
    if suggestion.shape is not None:
        chance = "" if suggestion.shape_probability is None else f" ({suggestion.shape_probability:.0%})"
        return f"{suggestion.shape}{chance}"
    return "none (not suggested abnormal)" if suggestion.shape_output else "not predicted by this head"
