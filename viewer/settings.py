"""User settings (QSettings, organisation "PneumoLLM", application "PneumoLLM Viewer") and the dialog that
edits them; local weight paths are checked with the engine's validators as soon as they are chosen."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from PySide6.QtCore import QSettings
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QWidget,
)

from engine.decision import ThresholdChoice
from engine.diagnoser_spec import DiagnoserSpec
from engine.errors import ModelLoadError
from engine.ilo.standards import read_standards
from engine.model.head_card import HeadCard, describe_rule, load_head_card
from engine.model.local_weights import check_clip_weights, check_llm_folder
from engine.model.registry import load_profile, profile_names
from viewer.discordance_rule_editor import RuleEditor
from viewer.display_calibration import CalibrationDialog
from viewer.wheel_guard import guard_wheel

ORGANISATION = "PneumoLLM"
APPLICATION = "PneumoLLM Viewer"


def settings_store() -> QSettings:
    """The app's settings (user scope, in ``QSettings.defaultFormat()`` so tests can redirect them)."""
    return QSettings(QSettings.defaultFormat(), QSettings.Scope.UserScope, ORGANISATION, APPLICATION)


@dataclass
class ViewerSettings:
    profile: str = "embedded"
    vision_weights: str = ""
    llm_path: str = ""
    device: str = "auto"
    threshold_override: float | None = None
    operating_point: str | None = None  # one of the head card's named operating points; a threshold wins over it
    auto_diagnose: bool = True
    read_first: bool = True  # the model runs at once, its result is shown when the reader asks (automation bias)
    deidentified_display: bool = False  # hide the patient header (teaching, screenshots)
    standards_folder: str = ""  # the ILO standard images on this computer, with their index (never shipped)
    monitor_width_mm: float | None = None  # the display's visible width, for true size (None: not calibrated)
    head_folder: str = ""  # a head to use instead of the installed one (e.g. the ILO phantom head); "": installed

    def threshold_choice(self) -> ThresholdChoice:
        """The operating threshold these settings ask for (checked against the head when the model applies it)."""
        return ThresholdChoice(self.threshold_override, self.operating_point)

    def diagnoser_spec(self, model_dir: str | Path) -> DiagnoserSpec:
        """The model these settings ask for, with the head in ``model_dir``."""
        return DiagnoserSpec.of(model_dir, vision_weights=self.vision_weights, llm_path=self.llm_path,
                                device=self.device, threshold=self.threshold_override,
                                operating_point=self.operating_point)

    @classmethod
    def load(cls, store: QSettings | None = None) -> ViewerSettings:
        store = store or settings_store()
        threshold = store.value("model/threshold_override", "")
        try:
            override = float(threshold) if threshold not in ("", None) else None
        except (TypeError, ValueError):
            override = None
        if override is not None and not 0.0 <= override <= 1.0:
            override = None  # an edited settings file: not a probability, so the head card's threshold
        profile = str(store.value("model/profile", "embedded"))
        return cls(profile=profile if profile in profile_names() else "embedded",
                   vision_weights=str(store.value("model/vision_weights", "")),
                   llm_path=str(store.value("model/llm_path", "")),
                   device=str(store.value("model/device", "auto")), threshold_override=override,
                   operating_point=str(store.value("model/operating_point", "")) or None,
                   auto_diagnose=str(store.value("viewer/auto_diagnose", "true")).lower() == "true",
                   read_first=str(store.value("viewer/read_first", "true")).lower() == "true",
                   deidentified_display=str(store.value("viewer/deidentified_display", "false")).lower() == "true",
                   standards_folder=str(store.value("breader/standards_folder", "")),
                   monitor_width_mm=_positive(store.value("breader/monitor_width_mm", "")),
                   head_folder=str(store.value("model/head_folder", "")))

    def copy(self) -> ViewerSettings:
        return replace(self)

    def model_differs(self, other: ViewerSettings) -> bool:
        """True when switching from ``other`` to these settings needs a new model (not just a new threshold)."""
        return (self.profile, self.vision_weights, self.llm_path, self.device, self.head_folder) != (
            other.profile, other.vision_weights, other.llm_path, other.device, other.head_folder)

    def save(self, store: QSettings | None = None) -> None:
        store = store or settings_store()
        store.setValue("model/profile", self.profile)
        store.setValue("model/vision_weights", self.vision_weights)
        store.setValue("model/llm_path", self.llm_path)
        store.setValue("model/device", self.device)
        store.setValue("model/head_folder", self.head_folder)
        store.setValue("model/threshold_override", "" if self.threshold_override is None else self.threshold_override)
        store.setValue("model/operating_point", self.operating_point or "")
        store.setValue("viewer/auto_diagnose", "true" if self.auto_diagnose else "false")
        store.setValue("viewer/read_first", "true" if self.read_first else "false")
        store.setValue("viewer/deidentified_display", "true" if self.deidentified_display else "false")
        store.setValue("breader/standards_folder", self.standards_folder)
        store.setValue("breader/monitor_width_mm", "" if self.monitor_width_mm is None else self.monitor_width_mm)


def _positive(value: Any) -> float | None:
    """A positive number from the settings file, else None (absent, or edited into nonsense)."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if number > 0 else None


def operating_point_label(rule: str, point: Mapping[str, Any]) -> str:
    """'sensitivity 95% or more — threshold 0.763 (validation: sensitivity 96.2 %, specificity 98.8 %)'."""
    return (f"{describe_rule(rule)} — threshold {float(point['threshold']):.3f} (validation: sensitivity "
            f"{float(point['sensitivity']):.1f} %, specificity {float(point['specificity']):.1f} %)")


CUSTOM = "__custom__"


class SettingsDialog(QDialog):
    def __init__(self, settings: ViewerSettings, parent: QWidget | None = None, card: HeadCard | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Settings")
        self.setMinimumWidth(600)
        self.settings = settings
        form = QFormLayout(self)
        self.profile = QComboBox()
        for name in profile_names():
            self.profile.addItem(f"{name} — {load_profile(name).description}", name)
        self.profile.setCurrentIndex(max(0, self.profile.findData(settings.profile)))
        form.addRow("Model profile", self.profile)
        self.vision = QLineEdit(settings.vision_weights)
        self.vision.setPlaceholderText("full profile only: a local open_clip ViT-L/14 checkpoint file")
        self.vision.editingFinished.connect(self.validate)
        form.addRow("CLIP ViT-L/14 checkpoint", self._with_browse(self.vision, folder=False, title="CLIP checkpoint"))
        self.llm = QLineEdit(settings.llm_path)
        self.llm.setPlaceholderText("full profile only: a local Hugging Face LLaMA folder")
        self.llm.editingFinished.connect(self.validate)
        form.addRow("LLaMA folder", self._with_browse(self.llm, folder=True, title="LLaMA folder"))
        self.head = QLineEdit(settings.head_folder)
        self.head.setPlaceholderText("empty: the installed head (Model > Use a head folder… sets it too)")
        self.head.editingFinished.connect(self.validate)
        form.addRow("Head folder", self._with_browse(self.head, folder=True, title="Head folder"))
        self.device = QComboBox()
        for label, value in (("Automatic (CUDA when present)", "auto"), ("CPU", "cpu"), ("CUDA", "cuda")):
            self.device.addItem(label, value)
        self.device.setCurrentIndex(max(0, self.device.findData(settings.device)))
        form.addRow("Device", self.device)
        # The operating point: the head's own threshold, one of the points it was validated at, or a number.
        self.point = QComboBox()
        own = f"The model's own — threshold {card.threshold:.3f} ({card.threshold_source or 'from training'})" \
            if card else "The model's own operating threshold"
        self.point.addItem(own, None)
        for rule, point in (card.operating_points.items() if card else ()):
            self.point.addItem(operating_point_label(rule, point), rule)
        if settings.operating_point and self.point.findData(settings.operating_point) < 0:
            self.point.addItem(f"{settings.operating_point} (not offered by the installed head)",
                               settings.operating_point)
        self.point.addItem("A threshold of my own…", CUSTOM)
        chosen = CUSTOM if settings.threshold_override is not None else settings.operating_point
        self.point.setCurrentIndex(max(0, self.point.findData(chosen)))
        form.addRow("Operating point", self.point)
        self.threshold = QLineEdit("" if settings.threshold_override is None else f"{settings.threshold_override:g}")
        self.threshold.setPlaceholderText("a probability between 0 and 1")
        self.threshold.editingFinished.connect(self.validate)
        form.addRow("Threshold", self.threshold)
        self.point.currentIndexChanged.connect(self._point_changed)
        self._point_changed()
        self.auto = QCheckBox("Diagnose automatically when an image opens")
        self.auto.setChecked(settings.auto_diagnose)
        form.addRow("", self.auto)
        self.read_first = QCheckBox("Read first: show the model's result only when I ask (Show AI result, key A)")
        self.read_first.setChecked(settings.read_first)
        form.addRow("", self.read_first)
        self.deidentified = QCheckBox("De-identified display: hide the patient header (teaching, screenshots)")
        self.deidentified.setChecked(settings.deidentified_display)
        form.addRow("", self.deidentified)
        self.standards = QLineEdit(settings.standards_folder)
        self.standards.setPlaceholderText("a local folder of ILO standard images with index.json or index.csv")
        self.standards.editingFinished.connect(self.validate)
        form.addRow("ILO standards folder", self._with_browse(self.standards, folder=True,
                                                                  title="ILO standards folder"))
        self.monitor = QDoubleSpinBox()
        self.monitor.setRange(0.0, 3000.0)
        self.monitor.setDecimals(1)
        self.monitor.setSuffix(" mm")
        self.monitor.setSpecialValueText("not calibrated")
        self.monitor.setValue(settings.monitor_width_mm or 0.0)
        calibrate = QPushButton("Calibrate…")
        calibrate.clicked.connect(self._calibrate)
        monitor_row = QWidget()
        row = QHBoxLayout(monitor_row)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.monitor)
        row.addWidget(calibrate)
        form.addRow("Monitor visible width (true size)", monitor_row)
        self.rule = RuleEditor()  # double reading: when the image goes to a third, adjudicating reader
        form.addRow("Double reading: discordant when", self.rule)
        note = QLabel("The model profile must match the installed head; weights are never downloaded.")
        note.setWordWrap(True)
        note.setStyleSheet("color: #666")
        form.addRow(note)
        self.message = QLabel("")
        self.message.setWordWrap(True)
        form.addRow(self.message)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self._accept)
        buttons.rejected.connect(self.reject)
        form.addRow(buttons)
        guard_wheel(self)  # the wheel never changes the profile, device or operating point unless focused

    def _with_browse(self, edit: QLineEdit, *, folder: bool, title: str) -> QWidget:
        box = QWidget()
        row = QHBoxLayout(box)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(edit)
        button = QPushButton("Browse…")
        row.addWidget(button)

        def browse() -> None:
            path = (QFileDialog.getExistingDirectory(self, title) if folder
                    else QFileDialog.getOpenFileName(self, title)[0])
            if path:
                edit.setText(path)
                self.validate()

        button.clicked.connect(browse)
        return box

    def validate(self) -> str:
        """Check the chosen paths now, so a wrong file is named before any model is loaded."""
        problems = []
        checked = []
        for edit, check, name in ((self.vision, check_clip_weights, "CLIP checkpoint"),
                                  (self.llm, check_llm_folder, "LLaMA folder")):
            if edit.text().strip():
                try:
                    check(edit.text().strip())
                    checked.append(name)
                except ModelLoadError as exc:
                    problems.append(exc.user_message)
        head = self.head.text().strip()
        if head:
            try:
                load_head_card(head)
                checked.append("head folder")
            except ModelLoadError as exc:
                problems.append(exc.user_message)
        standards = self.standards.text().strip()
        if standards:
            found, wrong = read_standards(standards)
            problems += wrong[:3] + ([f"… and {len(wrong) - 3} more problems in the standards index."]
                                     if len(wrong) > 3 else [])
            if found and not wrong:
                checked.append(f"ILO standards folder ({len(found)} images)")
        if self.profile.currentData() == "full" and not (self.vision.text().strip() and self.llm.text().strip()):
            problems.append("The full profile needs a CLIP ViT-L/14 checkpoint and a LLaMA folder on this computer.")
        text = self.threshold.text().strip() if self.point.currentData() == CUSTOM else ""
        if self.point.currentData() == CUSTOM and not text:
            problems.append("Type the threshold, or choose one of the model's operating points.")
        if text:
            try:
                if not 0.0 <= float(text) <= 1.0:
                    problems.append("The threshold must be between 0 and 1.")
            except ValueError:
                problems.append("The threshold must be a number between 0 and 1.")
        if problems:
            self.message.setStyleSheet("color: #b00020")
            self.message.setText("\n".join(problems))
        else:
            self.message.setStyleSheet("color: #2e7d32")
            verb = "look" if len(checked) > 1 else "looks"
            self.message.setText(f"✓ {' and '.join(checked)} {verb} right." if checked else "")
        return "\n".join(problems)

    def _point_changed(self) -> None:
        self.threshold.setEnabled(self.point.currentData() == CUSTOM)

    def _accept(self) -> None:
        if self.validate():
            return
        custom = self.point.currentData() == CUSTOM
        text = self.threshold.text().strip() if custom else ""
        self.settings.operating_point = None if custom else self.point.currentData()
        self.settings.profile = self.profile.currentData()
        self.settings.vision_weights = self.vision.text().strip()
        self.settings.llm_path = self.llm.text().strip()
        self.settings.device = self.device.currentData()
        self.settings.head_folder = self.head.text().strip()
        self.settings.threshold_override = float(text) if text else None
        self.settings.auto_diagnose = self.auto.isChecked()
        self.settings.read_first = self.read_first.isChecked()
        self.settings.deidentified_display = self.deidentified.isChecked()
        self.settings.standards_folder = self.standards.text().strip()
        self.settings.monitor_width_mm = self.monitor.value() or None
        self.rule.save()
        self.accept()

    def _calibrate(self) -> None:
        dialog = CalibrationDialog(self.monitor.value() or None, self.screen().geometry().width(), self)
        if dialog.exec():
            self.monitor.setValue(dialog.width_mm or 0.0)
