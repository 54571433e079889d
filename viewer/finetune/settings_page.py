"""Page 2 of the fine-tune wizard: profile, length and evaluation, with a duration measured on this machine."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import (
    QButtonGroup,
    QComboBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QRadioButton,
    QSpinBox,
    QVBoxLayout,
    QWizardPage,
)

from engine.errors import PneumoError, TrainingError
from engine.model.head_card import IntendedUse, describe_rule
from engine.model.registry import load_profile
from engine.segment import LungSegmenter
from training.config import FinetuneConfig
from training.metrics import OPERATING_RULES
from viewer.error_dialog import message_for
from viewer.finetune.common import BAD_STYLE, PageContext, coloured, intended_use_of, plural
from viewer.finetune.intended_use_choice import choices, chosen_use
from viewer.workers import Worker


def measure_run(config: FinetuneConfig, batches: int, paths: tuple[Path, ...],
                segmenter: Callable[[], LungSegmenter]) -> Any:
    """Worker: the training steps, then the lung crops not cached yet and the reference map's t-SNE; a part that
    cannot be measured carries its reason and the others still count."""
    from training.cross_validation import profile_preprocess
    from training.estimate import CropTiming, MapTiming, measure, measure_crops, measure_map

    timing = measure(config, batches=batches)
    try:
        crops = measure_crops(list(paths), segmenter(), profile_preprocess(config))
    except Exception as exc:  # noqa: BLE001 - the estimate says this part is missing, and why
        crops = CropTiming(0, 0.0, 0, message_for(exc))
    try:
        map_timing = measure_map(timing.embedding_width, len(paths), seed=config.seed)
    except Exception as exc:  # noqa: BLE001 - as above
        map_timing = MapTiming(0, 0, 0.0, message_for(exc))
    return config, paths, timing, crops, map_timing


def duration(seconds: float) -> str:
    """'under 1 s', '40 s', '3 min': short, for the estimate's parts."""
    if seconds < 1:
        return "under 1 s"
    return f"{seconds:.0f} s" if seconds < 90 else f"{math.ceil(seconds / 60)} min"


class SettingsPage(QWizardPage):
    def __init__(self, context: PageContext) -> None:
        super().__init__()
        self.context = context
        self.setTitle("2 · Settings")
        self.setSubTitle("Choose the model and how long to train. The duration is measured on this machine.")
        self._timing: Any = None  # training.estimate.StepTiming for _timing_key
        self._crops: Any = None  # training.estimate.CropTiming, measured with _timing
        self._map: Any = None  # training.estimate.MapTiming, measured with _timing
        self._timing_key: tuple[Any, ...] | None = None
        self._measuring: Worker | None = None
        self._measure_error = ""
        self._installed_use: IntendedUse | None = None
        self.profile_combo = QComboBox()
        for name in context.options.profiles:
            try:
                description = load_profile(name).description
            except PneumoError:
                description = ""
            self.profile_combo.addItem(f"{name} — {description}" if description else name, name)
        self.epochs = QSpinBox()
        self.epochs.setRange(1, 1000)
        self.epochs.valueChanged.connect(self._epochs_suffix)
        self.epochs.setValue(context.options.default_epochs)
        self._epochs_suffix(self.epochs.value())
        self.cv_radio = QRadioButton("Cross-validation, patient-level folds:")
        self.single_radio = QRadioButton("Single validation split (no cross-validation; faster)")
        group = QButtonGroup(self)
        group.addButton(self.cv_radio)
        group.addButton(self.single_radio)
        self.folds = QSpinBox()
        self.folds.setRange(2, 20)
        self.folds.setValue(max(2, context.options.default_folds))
        (self.cv_radio if context.options.default_folds > 1 else self.single_radio).setChecked(True)
        # Which operating point the new head decides at by default (all three are kept in its card; Settings
        # can switch later). A screening programme usually wants the sensitivity point.
        self.operating_point = QComboBox()
        for rule in OPERATING_RULES:
            self.operating_point.addItem(f"{describe_rule(rule)} on the validation split", rule)
        self.intended_use = QComboBox()  # filled on entering the page: the installed head may have changed
        self.intended_use.setToolTip("Which patients the new head is for: films outside it are not diagnosed "
                                     "unless the reader asks (Diagnose anyway)")
        self.vision_edit = QLineEdit(context.options.vision_weights)
        self.vision_edit.setPlaceholderText("local CLIP ViT-L/14 checkpoint")
        self.llm_edit = QLineEdit(context.options.llm_path)
        self.llm_edit.setPlaceholderText("local LLaMA folder")
        self.estimate_label = QLabel()
        self.estimate_label.setWordWrap(True)
        self.verdict = QLabel()
        self.verdict.setWordWrap(True)
        self.measure_button = QPushButton("Measure again")
        self.measure_button.clicked.connect(lambda: self.measure(force=True))
        folds_row = QHBoxLayout()
        folds_row.addWidget(self.cv_radio)
        folds_row.addWidget(self.folds)
        folds_row.addStretch(1)
        form = QFormLayout()
        form.addRow("Model profile:", self.profile_combo)
        form.addRow("Training length:", self.epochs)
        form.addRow("Evaluation:", folds_row)
        form.addRow("", self.single_radio)
        form.addRow("Operating point:", self.operating_point)
        form.addRow("Intended use:", self.intended_use)
        self.vision_label, self.llm_label = QLabel("Vision weights:"), QLabel("LLM folder:")
        form.addRow(self.vision_label, self.vision_edit)
        form.addRow(self.llm_label, self.llm_edit)
        estimate_row = QHBoxLayout()
        estimate_row.addWidget(self.estimate_label, 1)
        estimate_row.addWidget(self.measure_button)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addLayout(estimate_row)
        layout.addWidget(self.verdict)
        layout.addStretch(1)
        self._debounce = QTimer(self)
        self._debounce.setSingleShot(True)
        self._debounce.setInterval(400)
        self._debounce.timeout.connect(self.measure)
        self.profile_combo.currentIndexChanged.connect(self._model_changed)
        self.vision_edit.editingFinished.connect(self._model_changed)
        self.llm_edit.editingFinished.connect(self._model_changed)
        for signal in (self.epochs.valueChanged, self.folds.valueChanged, self.cv_radio.toggled):
            signal.connect(self._length_changed)
        self._show_full_paths()

    # -- values ---------------------------------------------------------------------------------------
    def fold_count(self) -> int:
        return self.folds.value() if self.cv_radio.isChecked() else 1

    def config(self) -> FinetuneConfig:
        profile = self.profile_combo.currentData()
        config = replace(self.context.options.config_factory(profile, self.epochs.value()),
                         operating_point=self.operating_point.currentData())
        if profile == "full":
            config = replace(config, vision_weights=self.vision_edit.text().strip() or None,
                             llm_path=self.llm_edit.text().strip() or None)
        return config

    def _paths(self) -> tuple[Path, ...]:
        check = self.context.state.check
        return tuple(item.path for item in check.dataset.items) if check is not None else ()

    def _measure_key(self, config: FinetuneConfig, paths: tuple[Path, ...]) -> tuple[Any, ...]:
        """What a measurement depends on: the model, and the images (which of them are cached, how many)."""
        return (*self._model_key(config), paths)

    def _model_key(self, config: FinetuneConfig) -> tuple[Any, ...]:
        return (config.profile, config.vision_weights, config.llm_path, config.batch_size, config.device,
                config.variant, config.augment)

    # -- QWizardPage ----------------------------------------------------------------------------------
    def initializePage(self) -> None:
        self._fill_intended_use()
        self._length_changed()
        self.measure()

    def isComplete(self) -> bool:
        return self._usable_reason() is None

    def validatePage(self) -> bool:
        state = self.context.state
        state.config, state.folds = self.config(), self.fold_count()
        state.estimate_s = self.estimate_seconds()  # the train page states it
        state.estimate_missing = self.unmeasured_parts()
        state.intended_use = chosen_use(self.intended_use.currentData(), self._installed_use)
        return True

    # -- internals ------------------------------------------------------------------------------------
    def _fill_intended_use(self) -> None:
        """The installed head's intended use first (the default), then the explicit choices; a choice made
        before stays chosen."""
        self._installed_use = intended_use_of(self.context.installed_head())
        kept = self.intended_use.currentData()
        self.intended_use.clear()
        for label, key in choices(self._installed_use):
            self.intended_use.addItem(label, key)
        index = self.intended_use.findData(kept) if kept is not None else -1
        self.intended_use.setCurrentIndex(max(index, 0))

    def _epochs_suffix(self, count: int) -> None:
        self.epochs.setSuffix(" epoch" if count == 1 else " epochs")  # "1 epoch", "10 epochs"

    def _usable_reason(self) -> str | None:
        check = self.context.state.check
        if check is None:
            return "Choose usable training data first."
        try:
            check.dataset.check_usable(self.fold_count())
        except TrainingError as exc:
            return exc.user_message
        return None

    def measure(self, force: bool = False) -> None:
        config = self.config()
        paths = self._paths()
        key = self._measure_key(config, paths)
        if not force and (key == self._timing_key or self._measuring is not None):
            self._show_estimate()
            return
        self._timing, self._timing_key, self._measure_error = None, None, ""
        self.estimate_label.setText("Measuring a few training steps, a lung crop and a t-SNE on this machine…")
        self.measure_button.setEnabled(False)
        self._measuring = self.context.run_job(self, measure_run, config, self.context.options.measure_batches,
                                               paths, self.context.segmenter, model=True, finished=self._on_measured,
                                               failed=self._on_measure_failed)

    def _on_measured(self, job: Worker, result: Any) -> None:
        if job is not self._measuring:
            return
        config, paths, timing, crops, map_timing = result
        self._measuring = None
        self.measure_button.setEnabled(True)
        if self._measure_key(config, paths) != self._measure_key(self.config(), self._paths()):
            self.measure()  # the profile or the data changed while we measured
            return
        self._timing, self._crops, self._map = timing, crops, map_timing
        self._timing_key = self._measure_key(config, paths)
        self._show_estimate()

    def _on_measure_failed(self, job: Worker, exc: BaseException) -> None:
        if job is not self._measuring:
            return
        self._measuring = None
        self.measure_button.setEnabled(True)
        self._measure_error = message_for(exc)
        self._show_estimate()

    def estimate_parts(self) -> Any:
        """training.estimate.EstimateParts of the measured run, or None before a measurement."""
        check = self.context.state.check
        if self._timing is None or check is None:
            return None
        from training.estimate import extrapolate_parts

        return extrapolate_parts(self._timing, self.config(), len(check.dataset.items), self.fold_count(),
                                 self._crops, self._map)

    def unmeasured_parts(self) -> tuple[str, ...]:
        """The parts of the run left out of the estimate because measuring them failed."""
        if self._timing is None:
            return ()
        parts = [("lung crops", self._crops), ("the reference map", self._map)]
        return tuple(name for name, timing in parts if timing is None or timing.error)

    def estimate_seconds(self) -> float | None:
        parts = self.estimate_parts()
        return None if parts is None else parts.total_s

    def _show_estimate(self) -> None:
        if self._measure_error:
            self.estimate_label.setText(coloured(f"Could not measure: {self._measure_error}", BAD_STYLE))
            return
        parts = self.estimate_parts()
        if parts is None:
            if self._measuring is None:
                self.estimate_label.setText("")
            return
        minutes = max(1, math.ceil(parts.total_s / 60))
        runs = f"{self.fold_count()} folds + the final model" if self.fold_count() > 1 else "one model"
        timing, crops, tsne = self._timing, self._crops, self._map
        steps = (f"training steps: {duration(parts.steps_s)} ({timing.step_s:.2f} s per step of "
                 f"{plural(timing.batch_size, 'image')}, {runs})")
        if crops is None or crops.error:
            lungs = f"lung crops: not measured ({crops.error if crops else 'no data'})"
        elif crops.uncached:
            lungs = (f"lung crops of {plural(crops.uncached, 'image')} not prepared before: {duration(parts.crops_s)} "
                     f"({crops.s_per_image:.2f} s each)")
        else:
            lungs = "lung crops: all prepared before"
        if tsne is None or tsne.error:
            mapped = f"reference map: not measured ({tsne.error if tsne else 'no data'})"
        else:
            timed = f"t-SNE {tsne.sample_s:.1f} s on {tsne.sample} points"
            if tsne.small:
                timed += f", {tsne.small_s:.1f} s on {tsne.small}"
            if tsne.points > tsne.sample:
                timed += f"; as a + b·n log n to {tsne.points}" if tsne.small else f"; × n log n to {tsne.points}"
            mapped = f"reference map: {duration(parts.map_s)} ({timed})"
        self.estimate_label.setText(
            f"<b>About {minutes} minute{'s' if minutes != 1 else ''}</b>, measured on this machine "
            f"({timing.device}) — {steps}; {lungs}; {mapped}.")

    def _model_changed(self, *_args: object) -> None:
        self._show_full_paths()
        if self.isVisible():
            self._debounce.start()

    def _length_changed(self, *_args: object) -> None:
        self.folds.setEnabled(self.cv_radio.isChecked())
        reason = self._usable_reason()
        self.verdict.setText(coloured(reason, BAD_STYLE) if reason else "")
        self._show_estimate()
        self.completeChanged.emit()

    def _show_full_paths(self) -> None:
        full = self.profile_combo.currentData() == "full"
        for widget in (self.vision_label, self.vision_edit, self.llm_label, self.llm_edit):
            widget.setVisible(full)
