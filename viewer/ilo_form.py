"""The ILO (2022) reading form as one keyboard-friendly widget: Tab walks the sections in the paper form's order,
every choice has a mnemonic or a focusable box, and the form's rules are shown live under it.

Layout only: the widget edits an ``engine.ilo.IloReading``. The model's suggestions are shown *beside* the
fields (an amber outline and a "suggested by the model" tooltip) and never tick anything: the reader's entries are
the reading. An untouched form answers nothing: every question starts empty ("—", neither yes nor no), and the rules
under the form say what is still unanswered.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import (
    QButtonGroup,
    QCheckBox,
    QComboBox,
    QFormLayout,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QRadioButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from engine.ilo.acquisition import AcquisitionCheck
from engine.ilo.codes import (
    DIFFUSE_SITES,
    LARGE_OPACITIES,
    PLAQUE_SITES,
    PROFUSION,
    QUALITY_GRADES,
    QUALITY_MARKS,
    QUALITY_REASONS,
    SHAPES,
    SYMBOLS,
)
from engine.ilo.form import DiffuseThickening, IloReading, PleuralPlaques, Sides, SmallOpacities, problems
from viewer.wheel_guard import guard_wheel

SUGGESTION_STYLE = "border: 2px solid #e69500; border-radius: 3px; background: #fff6e0;"
SUGGESTION_TIP = "Suggested by the model (its evidence, not a reading) — tick it only if you see it."


UNANSWERED = "—"  # the text of a choice the reader has not made


def _yes_no(title: str, yes_text: str, no_text: str) -> tuple[QWidget, QRadioButton, QRadioButton]:
    """A yes/no question, answered neither way until the reader chooses; the texts carry distinct mnemonics
    (Alt+letter) per question."""
    box = QWidget()
    row = QHBoxLayout(box)
    row.setContentsMargins(0, 0, 0, 0)
    yes, no = QRadioButton(yes_text), QRadioButton(no_text)
    group = QButtonGroup(box)
    group.addButton(yes)
    group.addButton(no)
    row.addWidget(QLabel(title))
    row.addWidget(yes)
    row.addWidget(no)
    row.addStretch(1)
    return box, yes, no


def _answer(yes: QRadioButton, no: QRadioButton) -> bool | None:
    return True if yes.isChecked() else False if no.isChecked() else None


def _set_answer(yes: QRadioButton, no: QRadioButton, value: bool | None) -> None:
    group = yes.group()
    group.setExclusive(False)  # an exclusive group cannot uncheck its checked button
    yes.setChecked(value is True)
    no.setChecked(value is False)
    group.setExclusive(True)


class ProfusionBox(QComboBox):
    """The 12-point profusion scale, typed as the reader says it: "1/1", "11", "3+" or "0-" select that value,
    however slowly they are typed (Qt's own type-ahead forgets after 0.4 s and cannot tell 1/0 from 1/1)."""

    def __init__(self) -> None:
        super().__init__()
        self.addItem(UNANSWERED, None)
        for value in PROFUSION:
            self.addItem(value, value)
        self._typed = ""  # what the reader has typed of one value so far
        self._typing = False
        self.currentIndexChanged.connect(self._chosen_elsewhere)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        text = event.text()
        plain = not event.modifiers() & ~(Qt.KeyboardModifier.ShiftModifier | Qt.KeyboardModifier.KeypadModifier)
        if not (text and text.isprintable() and not text.isspace() and plain):
            self._typed = ""
            super().keyPressEvent(event)  # arrows, Home/End, F4, Alt+Down: the combo box's own keys
            return
        for typed in (self._typed + text, text):  # go on with what was typed, else start again
            match = _profusion_match(typed)
            if match is not None:
                self._typing = True
                self.setCurrentIndex(self.findData(match))
                self._typing = False
                complete = typed in (match, match.replace("/", ""))
                self._typed = "" if complete else typed  # a whole value typed: the next key starts another
                break
        else:
            self._typed = ""
        event.accept()

    def focusOutEvent(self, event) -> None:
        self._typed = ""
        super().focusOutEvent(event)

    def _chosen_elsewhere(self) -> None:
        if not self._typing:  # the arrows, the list or the program chose: typing starts afresh
            self._typed = ""


def _profusion_match(typed: str) -> str | None:
    """The first profusion value that ``typed`` begins, with or without its slash ("1", "1/", "11" -> 1/0, 1/0,
    1/1); None when it begins none."""
    return next((value for value in PROFUSION if value.startswith(typed) or value.replace("/", "").startswith(typed)),
                None)


def _choose(box: QComboBox, value: object) -> None:
    """Select the item holding ``value``; the unanswered item (the first) for None."""
    box.setCurrentIndex(0 if value is None else max(0, box.findData(value)))


class SidesBoxes(QWidget):
    """Two check boxes, R and L (the form's sides)."""

    changed = Signal()

    def __init__(self) -> None:
        super().__init__()
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        self.right, self.left = QCheckBox("R"), QCheckBox("L")
        for box in (self.right, self.left):
            row.addWidget(box)
            box.toggled.connect(self.changed)
        row.addStretch(1)

    def value(self) -> Sides:
        return Sides(self.right.isChecked(), self.left.isChecked())

    def set_value(self, sides: Sides) -> None:
        self.right.setChecked(sides.right)
        self.left.setChecked(sides.left)


class PleuralGroup(QGroupBox):
    """Plaques (3A) or diffuse thickening (3C): sites with calcification, extent and width per side."""

    changed = Signal()

    def __init__(self, title: str, sites: dict[str, str]) -> None:
        super().__init__(title)
        grid = QGridLayout(self)
        grid.addWidget(QLabel("site"), 0, 0)
        grid.addWidget(QLabel("present"), 0, 1)
        grid.addWidget(QLabel("calcified"), 0, 2)
        self.sites: dict[str, SidesBoxes] = {}
        self.calcification: dict[str, SidesBoxes] = {}
        for row, (site, words) in enumerate(sites.items(), start=1):
            grid.addWidget(QLabel(words), row, 0)
            self.sites[site], self.calcification[site] = SidesBoxes(), SidesBoxes()
            grid.addWidget(self.sites[site], row, 1)
            grid.addWidget(self.calcification[site], row, 2)
        row = len(sites) + 1
        self.extent = {side: QSpinBox() for side in ("right", "left")}
        self.width = {side: QComboBox() for side in ("right", "left")}
        for side in ("right", "left"):
            self.extent[side].setRange(0, 3)
            self.extent[side].setSpecialValueText("—")  # 0 is "no extent marked", shown blank, never a chosen 0
            self.extent[side].setToolTip("Extent along the chest wall: 1 up to 1/4, 2 up to 1/2, 3 over 1/2")
            self.width[side].addItems(["", "a", "b", "c"])
            self.width[side].setToolTip("Width of in-profile thickening: a 3-5 mm, b 5-10 mm, c over 10 mm")
        grid.addWidget(QLabel("extent R / L"), row, 0)
        grid.addWidget(self.extent["right"], row, 1)
        grid.addWidget(self.extent["left"], row, 2)
        grid.addWidget(QLabel("width R / L"), row + 1, 0)
        grid.addWidget(self.width["right"], row + 1, 1)
        grid.addWidget(self.width["left"], row + 1, 2)
        for boxes in (*self.sites.values(), *self.calcification.values()):
            boxes.changed.connect(self.changed)
        for side in ("right", "left"):
            self.extent[side].valueChanged.connect(self.changed)
            self.width[side].currentTextChanged.connect(self.changed)

    def values(self) -> dict[str, object]:
        return {"sites": {s: b.value() for s, b in self.sites.items() if b.value().any},
                "calcification": {s: b.value() for s, b in self.calcification.items() if b.value().any},
                "extent_right": self.extent["right"].value(), "extent_left": self.extent["left"].value(),
                "width_right": self.width["right"].currentText(), "width_left": self.width["left"].currentText()}

    def set_values(self, record: PleuralPlaques | DiffuseThickening) -> None:
        for site, boxes in self.sites.items():
            boxes.set_value(record.sites.get(site, Sides()))
        for site, boxes in self.calcification.items():
            boxes.set_value(record.calcification.get(site, Sides()))
        for side in ("right", "left"):
            self.extent[side].setValue(getattr(record, f"extent_{side}"))
            self.width[side].setCurrentText(getattr(record, f"width_{side}"))


class IloForm(QWidget):
    """The whole form; ``reading()`` returns what the reader entered (unsigned), ``set_reading`` shows one."""

    changed = Signal()

    def __init__(self) -> None:
        super().__init__()
        layout = QVBoxLayout(self)
        self._building = True
        # False until the reader enters something (or a saved reading is shown): the defaults are no reading.
        self.entered = False

        quality = QGroupBox("1  Radiograph &quality")
        quality_layout = QVBoxLayout(quality)
        quality_row = QHBoxLayout()
        self.quality = QComboBox()
        self.quality.addItem(UNANSWERED, None)
        for grade, words in QUALITY_GRADES.items():  # the NIOSH form's marks: 1, 2, 3, U/R
            self.quality.addItem(f"{QUALITY_MARKS[grade]} — {words}", grade)
        self.quality_comment = QLineEdit()
        self.quality_comment.setPlaceholderText("reason, when quality is not 1")
        quality_row.addWidget(self.quality, 2)
        quality_row.addWidget(self.quality_comment, 3)
        quality_layout.addLayout(quality_row)
        reasons = QGridLayout()
        self.quality_reasons: dict[str, QCheckBox] = {}
        for index, (code, words) in enumerate(QUALITY_REASONS.items()):
            box = QCheckBox(words)
            box.setToolTip("If not grade 1, mark all that apply (CDC/NIOSH 2.8)")
            self.quality_reasons[code] = box
            reasons.addWidget(box, index // 2, index % 2)  # two columns: the form lives in a side dock
        quality_layout.addLayout(reasons)
        # The digital-reading acquisition check (bits stored, pixel pitch): a warning beside the grade, never a block.
        self.acquisition = QLabel("")
        self.acquisition.setWordWrap(True)
        self.acquisition.setVisible(False)
        quality_layout.addWidget(self.acquisition)
        layout.addWidget(quality)

        parenchyma = QGroupBox("2  Parenchymal abnormalities")
        form = QFormLayout(parenchyma)
        row, self.parenchymal_yes, self.parenchymal_no = _yes_no("2A consistent with pneumoconiosis?", "&Yes", "&No")
        form.addRow(row)
        self.primary, self.secondary = QComboBox(), QComboBox()
        for box in (self.primary, self.secondary):
            box.addItem(UNANSWERED, "")
            for shape, words in SHAPES.items():
                box.addItem(f"{shape} — {words}", shape)
        form.addRow("2B shape/size: primary", self.primary)
        form.addRow("secondary", self.secondary)
        zones = QWidget()
        zone_grid = QGridLayout(zones)
        zone_grid.setContentsMargins(0, 0, 0, 0)
        self.zones: dict[str, QCheckBox] = {}
        # As on the form (and the film): the patient's right on the left.
        for column, side in enumerate(("right", "left")):
            zone_grid.addWidget(QLabel(side.upper()[0]), 0, column + 1)
            for row_index, level in enumerate(("upper", "middle", "lower"), start=1):
                box = QCheckBox(level)
                self.zones[f"{side}_{level}"] = box
                zone_grid.addWidget(box, row_index, column + 1)
        form.addRow("zones", zones)
        self.profusion = ProfusionBox()
        self.profusion.setToolTip("Type it: 1/1 (or 11), 3/+ (or 3+), 0/- (or 0-)")
        form.addRow("&profusion", self.profusion)
        self.large = QComboBox()
        self.large.addItem(UNANSWERED, None)
        for category, words in LARGE_OPACITIES.items():
            self.large.addItem(f"{category} — {words}", category)
        form.addRow("2C &large opacities", self.large)
        layout.addWidget(parenchyma)

        pleura = QGroupBox("3  Pleural abnormalities")
        pleural_layout = QVBoxLayout(pleura)
        row, self.pleural_yes, self.pleural_no = _yes_no("consistent with pneumoconiosis?", "Y&es", "N&o")
        pleural_layout.addWidget(row)
        self.plaques = PleuralGroup("3A plaques", PLAQUE_SITES)
        pleural_layout.addWidget(self.plaques)
        angle = QWidget()
        angle_row = QHBoxLayout(angle)
        angle_row.setContentsMargins(0, 0, 0, 0)
        angle_row.addWidget(QLabel("3B costophrenic angle obliteration"))
        self.costophrenic = SidesBoxes()
        angle_row.addWidget(self.costophrenic)
        pleural_layout.addWidget(angle)
        self.diffuse = PleuralGroup("3C diffuse pleural thickening", DIFFUSE_SITES)
        pleural_layout.addWidget(self.diffuse)
        layout.addWidget(pleura)

        symbols = QGroupBox("4  Symbols and comments")
        symbol_layout = QVBoxLayout(symbols)
        grid = QGridLayout()
        self.symbols: dict[str, QCheckBox] = {}
        for index, (code, words) in enumerate(SYMBOLS.items()):
            box = QCheckBox(code)
            box.setToolTip(words)
            self.symbols[code] = box
            grid.addWidget(box, index // 8, index % 8)
        symbol_layout.addLayout(grid)
        self.comments = QPlainTextEdit()
        self.comments.setPlaceholderText("4C comments")
        self.comments.setTabChangesFocus(True)  # Tab leaves the box, as everywhere else in the form
        self.comments.setMaximumHeight(60)
        symbol_layout.addWidget(self.comments)
        layout.addWidget(symbols)

        for box in (self.quality, self.primary, self.secondary, self.large):
            # Long descriptions show in the drop-down; closed, the box stays narrow enough for a side dock.
            box.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
            box.setMinimumContentsLength(10)
        self.problems = QLabel("")
        self.problems.setWordWrap(True)
        self.problems.setStyleSheet("color:#8a4b00;")
        layout.addWidget(self.problems)
        for signal in (self.quality.currentIndexChanged, self.quality_comment.textChanged,
                       self.parenchymal_yes.toggled, self.parenchymal_no.toggled, self.primary.currentIndexChanged,
                       self.secondary.currentIndexChanged, self.profusion.currentIndexChanged,
                       self.large.currentIndexChanged, self.pleural_yes.toggled, self.pleural_no.toggled,
                       self.plaques.changed,
                       self.costophrenic.changed, self.diffuse.changed, self.comments.textChanged,
                       *(box.toggled for box in (*self.zones.values(), *self.symbols.values(),
                                                 *self.quality_reasons.values()))):
            signal.connect(self._changed)
        guard_wheel(self)  # a wheel over a field scrolls the form; it never changes the reading
        self._building = False
        self._changed()

    def _changed(self, *_args: object) -> None:
        if self._building:
            return
        self.entered = True
        found = problems(self.reading(), require_signature=False)
        self.problems.setText("\n".join(f"• {line}" for line in found) if found else "✓ The form is consistent.")
        self.changed.emit()

    def reading(self) -> IloReading:
        """The reader's entries (not signed: the panel adds the reader's name and the date)."""
        return IloReading(
            quality=self.quality.currentData(), quality_comment=self.quality_comment.text().strip(),
            quality_reasons=tuple(code for code, box in self.quality_reasons.items() if box.isChecked()),
            parenchymal=_answer(self.parenchymal_yes, self.parenchymal_no),
            small=SmallOpacities(primary=self.primary.currentData(), secondary=self.secondary.currentData(),
                                 zones=tuple(zone for zone, box in self.zones.items() if box.isChecked()),
                                 profusion=self.profusion.currentData()),
            large=self.large.currentData(), pleural=_answer(self.pleural_yes, self.pleural_no),
            plaques=PleuralPlaques(**self.plaques.values()), costophrenic=self.costophrenic.value(),
            diffuse=DiffuseThickening(**self.diffuse.values()),
            symbols=tuple(code for code, box in self.symbols.items() if box.isChecked()),
            comments=self.comments.toPlainText().strip())

    def set_reading(self, reading: IloReading, *, entered: bool = True) -> None:
        self._building = True
        try:
            _choose(self.quality, reading.quality)
            self.quality_comment.setText(reading.quality_comment)
            for code, box in self.quality_reasons.items():
                box.setChecked(code in reading.quality_reasons)
            _set_answer(self.parenchymal_yes, self.parenchymal_no, reading.parenchymal)
            _choose(self.primary, reading.small.primary)
            _choose(self.secondary, reading.small.secondary)
            for zone, box in self.zones.items():
                box.setChecked(zone in reading.small.zones)
            _choose(self.profusion, reading.small.profusion)
            _choose(self.large, reading.large)
            _set_answer(self.pleural_yes, self.pleural_no, reading.pleural)
            self.plaques.set_values(reading.plaques)
            self.costophrenic.set_value(reading.costophrenic)
            self.diffuse.set_values(reading.diffuse)
            for code, box in self.symbols.items():
                box.setChecked(code in reading.symbols)
            self.comments.setPlainText(reading.comments)
        finally:
            self._building = False
        self._changed()
        self.entered = entered

    def focus_first(self) -> None:
        """The keyboard on the first field (film quality), where a reading starts."""
        self.quality.setFocus()

    def set_acquisition(self, check: AcquisitionCheck | None) -> None:
        """The image's acquisition check under the quality grade (hidden without an image)."""
        self.acquisition.setVisible(check is not None)
        self.acquisition.setText("" if check is None else check.message())
        self.acquisition.setStyleSheet("color:#b00020; font-weight:bold;" if check is not None and check.below
                                       else "color:#555;")

    def clear(self) -> None:
        self.set_reading(IloReading(), entered=False)
        self.show_suggestions((), abnormal=False)

    def show_suggestions(self, zones: tuple[str, ...] | list[str], *, abnormal: bool) -> None:
        """Outline what the model has evidence for; nothing is ticked."""
        for zone, box in self.zones.items():
            suggested = zone in zones
            box.setStyleSheet(SUGGESTION_STYLE if suggested else "")
            box.setToolTip(SUGGESTION_TIP if suggested else "")
            box.setProperty("suggested", suggested)
        self.parenchymal_yes.setStyleSheet(SUGGESTION_STYLE if abnormal else "")
        self.parenchymal_yes.setToolTip(SUGGESTION_TIP if abnormal else "")
        self.parenchymal_yes.setProperty("suggested", abnormal)
