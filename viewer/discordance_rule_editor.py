"""Settings' double-reading rule: when two readings of one image are discordant and the image goes to a third,
adjudicating reader. Edits ``engine.ilo.double_reading.DiscordanceRule`` and saves it where the CLI
(``pneumollm readings``) reads it too, so the viewer and the reports use one rule.
"""

from __future__ import annotations

from PySide6.QtWidgets import QCheckBox, QHBoxLayout, QLabel, QSpinBox, QVBoxLayout, QWidget

from engine.errors import PneumoError
from engine.ilo.codes import PROFUSION
from engine.ilo.double_reading import DiscordanceRule, load_rule, save_rule

OFF = -1  # the spin box's value for "profusion part of the rule off"


class RuleEditor(QWidget):
    """Three parts of the rule, each can be switched off; ``save`` writes it when it changed."""

    def __init__(self) -> None:
        super().__init__()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.problem = ""
        try:
            self.loaded = load_rule()
        except PneumoError as exc:  # a hand-edited file gone wrong: show the default, say so, replace it on OK
            self.loaded, self.problem = None, exc.user_message
        rule = self.loaded or DiscordanceRule()
        self.major = QCheckBox("the major category differs (0, 1, 2, 3)")
        self.major.setChecked(rule.major_category)
        layout.addWidget(self.major)
        row = QHBoxLayout()
        row.addWidget(QLabel("the profusion differs by more than"))
        self.steps = QSpinBox()
        self.steps.setRange(OFF, len(PROFUSION) - 1)
        self.steps.setSpecialValueText("— (off)")
        self.steps.setSuffix(" subcategories")
        self.steps.setValue(OFF if rule.max_subcategory_steps is None else rule.max_subcategory_steps)
        row.addWidget(self.steps)
        row.addStretch(1)
        layout.addLayout(row)
        self.pleural = QCheckBox("one reader records pleural findings, the other does not")
        self.pleural.setChecked(rule.pleural)
        layout.addWidget(self.pleural)
        if self.problem:
            note = QLabel(f"{self.problem} The default is shown; OK saves it.")
            note.setWordWrap(True)
            note.setStyleSheet("color:#b00020;")
            layout.addWidget(note)

    def rule(self) -> DiscordanceRule:
        steps = self.steps.value()
        return DiscordanceRule(self.major.isChecked(), None if steps == OFF else steps, self.pleural.isChecked())

    def save(self) -> bool:
        """Write the rule if it differs from the one read (or that one was unreadable); True when written."""
        if self.rule() == self.loaded:
            return False
        save_rule(self.rule())
        return True
