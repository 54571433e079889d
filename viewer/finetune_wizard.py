"""The fine-tune wizard: data → settings (with a measured duration) → training → evaluation → install.

All torch work (the duration measurement, training, evaluating the installed head) runs on the model
worker; the data check runs on the general pool. Only the Install button of the last page changes the
active head (``ModelStore.install``, atomic, previous head kept); a cancelled or failed run never does.
"""

from __future__ import annotations

import html
import json
import logging
import math
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from matplotlib.backends.backend_qtagg import FigureCanvasQTAgg
from matplotlib.figure import Figure
from PySide6.QtCore import QObject, Qt, QThreadPool, QTimer, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QButtonGroup,
    QComboBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QListWidget,
    QProgressBar,
    QPushButton,
    QRadioButton,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
    QWizard,
    QWizardPage,
)

from engine.diagnoser import Diagnoser
from engine.errors import Cancelled, ModelLoadError, PneumoError, TrainingError
from engine.io import load_image
from engine.model.checkpoint import META_NAME
from engine.model.registry import load_profile
from engine.model_store import ModelStore
from engine.paths import DEFAULT_HEAD, data_dir
from engine.progress import Progress, format_duration
from engine.segment import LungSegmenter
from training.config import CVConfig, FinetuneConfig
from training.data import LabelledSet, load_labelled
from training.finetune import TrainingEvent
from viewer.error_dialog import message_for
from viewer.workers import Worker, single_thread_pool, start

log = logging.getLogger(__name__)

DEFAULT_PROFILES = ("embedded", "full")
DEFAULT_EPOCHS = 10  # the paper trains 100 epochs on a GPU; on a CPU 10 is the CLI's default too
METRICS = (("sensitivity", "Sens"), ("specificity", "Spec"), ("accuracy", "Acc"), ("auc", "AUC"), ("avg", "AVG"))
OK_STYLE = "color:#1b7a2b"
BAD_STYLE = "color:#b00020"

ConfigFactory = Callable[[str, int], FinetuneConfig]


def default_config(profile: str, epochs: int) -> FinetuneConfig:
    return FinetuneConfig(profile=profile, epochs=epochs)


def head_card(folder: Path | None) -> dict[str, Any] | None:
    """The head's card (``head.json``) without loading its weights; None when absent or unreadable."""
    if folder is None:
        return None
    try:
        card = json.loads((Path(folder) / META_NAME).read_text())
    except (OSError, ValueError):
        return None
    return card if isinstance(card, dict) else None


def describe_head(folder: Path | None, name: str | None = None) -> str:
    card = head_card(folder)
    if folder is None or card is None:
        return "none"
    created = card.get("created", "")
    labels = " / ".join(card.get("labels", []))
    return (f"{name or Path(folder).name} — head {card.get('model_id', '?')}, profile {card.get('profile', '?')}, "
            f"classes {labels}" + (f", trained {created}" if created else ""))


def _coloured(text: str, style: str) -> str:
    return f"<span style='{style}'>{html.escape(text)}</span>"


@dataclass
class DataCheck:
    """What the data page found: the readable set, and the files that could not be decoded."""

    source: Path
    dataset: LabelledSet  # readable images only
    unreadable: list[tuple[Path, str]] = field(default_factory=list)


@dataclass
class WizardState:
    check: DataCheck | None = None
    config: FinetuneConfig | None = None
    folds: int = 5
    run_dir: Path | None = None
    report: dict[str, Any] | None = None
    report_key: tuple[Any, ...] | None = None
    installed: Path | None = None  # where page 5 installed this run's head


_RUNNING: set[Worker] = set()  # workers stay referenced while they run, even if their wizard is closed and gone
_RETIRED: deque[Worker] = deque(maxlen=8)  # ... and a little longer, until their thread has surely left run()


def _keep_alive(worker: Worker) -> None:
    _RUNNING.add(worker)

    def retire(*_args: object) -> None:
        if worker in _RUNNING:
            _RUNNING.discard(worker)
            _RETIRED.append(worker)

    for signal in (worker.signals.finished, worker.signals.failed, worker.signals.cancelled):
        signal.connect(retire)


def training_pool() -> QThreadPool:
    """One thread for training-side torch work (one training at a time, beside the viewer's model pool)."""
    return single_thread_pool("training")


class Job(QObject):
    """One worker seen from a page: relays the worker's signals to callbacks that receive this job, so a page
    can tell its current job from an older one it replaced. A child of the page: if the page goes away first,
    late signals go nowhere. It keeps the worker alive until the page is gone."""

    ended = Signal(object)  # this job, after finished / failed / cancelled

    def __init__(self, parent: QObject, worker: Worker, *, progress: Callable[..., None] | None = None,
                 finished: Callable[..., None] | None = None, failed: Callable[..., None] | None = None,
                 cancelled: Callable[..., None] | None = None) -> None:
        super().__init__(parent)
        self.worker = worker
        self._callbacks = {"progress": progress, "finished": finished, "failed": failed, "cancelled": cancelled}
        worker.signals.progress.connect(self._progress)
        worker.signals.finished.connect(self._finished)
        worker.signals.failed.connect(self._failed)
        worker.signals.cancelled.connect(self._cancelled)

    def cancel(self) -> None:
        self.worker.cancel()

    @property
    def is_cancelled(self) -> bool:
        return self.worker.is_cancelled

    def _call(self, name: str, *value: Any) -> None:
        callback = self._callbacks[name]
        if callback is not None:
            callback(self, *value)

    def _progress(self, value: Any) -> None:
        self._call("progress", value)

    def _finished(self, value: Any) -> None:
        self._call("finished", value)
        self.ended.emit(self)

    def _failed(self, exc: BaseException) -> None:
        self._call("failed", exc)
        self.ended.emit(self)

    def _cancelled(self) -> None:
        self._call("cancelled")
        self.ended.emit(self)


class FinetuneWizard(QWizard):
    """Train a new head on the user's labelled radiographs, compare it with the installed one, install it.

    Args:
        store: where heads are installed (default: the user's data folder).
        segmenter: the lung segmenter for training and evaluation; the shipped one is loaded in a worker
            when None.
        profiles: model profiles offered on the settings page.
        config_factory: ``(profile, epochs) -> FinetuneConfig``; the rest of the recipe comes from here.
        output_root: run folders are created under it (default: ``<data folder>/runs``).
        default_epochs, default_folds: what the settings page starts with.
        vision_weights, llm_path: local weight paths for the full profile (editable on the settings page).
        measure_batches: optimiser steps timed for the duration estimate.
        pool: where the torch jobs run (measurement, training, evaluation). Default: a single-thread pool of
            its own, so the reading view keeps diagnosing during a long training; pass
            ``viewer.workers.model_pool()`` to queue them with diagnoses instead (e.g. a small GPU).
    """

    head_changed = Signal(object)  # the newly active head folder, or None (back to the shipped default)
    training_finished = Signal(dict)  # the run's report

    DATA, SETTINGS, TRAIN, EVALUATE, INSTALL = range(5)

    def __init__(self, parent: QWidget | None = None, *, store: ModelStore | None = None,
                 segmenter: LungSegmenter | None = None, profiles: Sequence[str] = DEFAULT_PROFILES,
                 config_factory: ConfigFactory = default_config, output_root: Path | None = None,
                 default_epochs: int = DEFAULT_EPOCHS, default_folds: int = 5, vision_weights: str | None = None,
                 llm_path: str | None = None, measure_batches: int = 2, pool: QThreadPool | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Fine-tune a new head — research software, not for diagnostic use")
        self.store = store or ModelStore()
        self.profiles = tuple(profiles)
        self.config_factory = config_factory
        self.output_root = Path(output_root) if output_root else data_dir() / "runs"
        self.default_epochs, self.default_folds = default_epochs, default_folds
        self.vision_weights, self.llm_path = vision_weights or "", llm_path or ""
        self.measure_batches = measure_batches
        self.pool = pool or training_pool()
        self.state = WizardState(folds=default_folds)
        self._segmenter = segmenter
        self._segmenter_lock = threading.Lock()
        self._jobs: set[Job] = set()
        self.data_page = DataPage(self)
        self.settings_page = SettingsPage(self)
        self.train_page = TrainPage(self)
        self.evaluate_page = EvaluatePage(self)
        self.install_page = InstallPage(self)
        for page_id, page in enumerate((self.data_page, self.settings_page, self.train_page, self.evaluate_page,
                                        self.install_page)):
            self.setPage(page_id, page)
        self.resize(940, 700)

    # -- for the pages --------------------------------------------------------------------------------
    def segmenter(self) -> LungSegmenter:
        """The lung segmenter (worker threads only: loading it touches torch)."""
        with self._segmenter_lock:
            if self._segmenter is None:
                self._segmenter = LungSegmenter()
            return self._segmenter

    def installed_head(self) -> Path | None:
        """The head the app uses now: the store's active head, else the shipped default (if any)."""
        active = self.store.active()
        if active is not None:
            return active
        return DEFAULT_HEAD if (DEFAULT_HEAD / META_NAME).exists() else None

    def run_job(self, page: QObject, function: Callable[..., Any], *args: Any, model: bool = False,
                **callbacks: Callable[..., None]) -> Job:
        """Run ``function(*args)`` on a worker; ``callbacks`` (progress, finished, failed, cancelled) get the job.

        ``model=True`` jobs (torch) run one at a time on the wizard's pool; the others on the global pool.
        """
        job = Job(page, Worker(function, *args), **callbacks)
        _keep_alive(job.worker)
        self._jobs.add(job)
        job.ended.connect(self._forget_job)
        if model:
            self.pool.start(job.worker)
        else:
            start(job.worker)
        return job

    def _forget_job(self, job: Job) -> None:
        self._jobs.discard(job)

    def cancel_all(self) -> None:
        for job in self._jobs:
            job.worker.cancel()

    def done(self, result: int) -> None:
        self.cancel_all()  # closing the wizard stops a running training; nothing gets installed
        super().done(result)


# ---------------------------------------------------------------------------------------------------
# Page 1: data
# ---------------------------------------------------------------------------------------------------
def check_data(source: Path, worker: Worker) -> DataCheck:
    """Worker: read the labelled set and decode every image once; unreadable files are listed."""
    dataset = load_labelled(source)
    unreadable: list[tuple[Path, str]] = []
    started = time.perf_counter()
    total = len(dataset.items)
    for number, item in enumerate(dataset.items, start=1):
        if worker.is_cancelled:
            raise Cancelled()
        try:
            load_image(item.path)
        except PneumoError as exc:
            unreadable.append((item.path, exc.user_message))
        except Exception as exc:  # noqa: BLE001 - one broken file never stops the check
            unreadable.append((item.path, f"unexpected decoding error ({type(exc).__name__})"))
        if number == total or number % 8 == 0:
            worker.signals.progress.emit(Progress.of(number, total, started, "Checking images"))
    return DataCheck(source, dataset.without(dict(unreadable)), unreadable)


class DataPage(QWizardPage):
    def __init__(self, wizard: FinetuneWizard) -> None:
        super().__init__()
        self.owner = wizard
        self.setTitle("1 · Training data")
        self.setSubTitle("A folder with one sub-folder per class (for example normal/ and pneumoconiosis/), "
                         "or a CSV file with the columns path,label[,patient_id].")
        self._job: Job | None = None
        self._usable = False
        self.source_edit = QLineEdit()
        self.source_edit.setPlaceholderText("Folder or CSV with labelled radiographs")
        self.source_edit.returnPressed.connect(lambda: self.set_source(self.source_edit.text()))
        folder_button = QPushButton("Choose folder…")
        folder_button.clicked.connect(self._choose_folder)
        csv_button = QPushButton("Choose CSV…")
        csv_button.clicked.connect(self._choose_csv)
        self.progress = QProgressBar()
        self.progress.setVisible(False)
        self.counts = QTableWidget(0, 3)
        self.counts.setHorizontalHeaderLabels(["Class", "Readable images", "Patients"])
        self.counts.verticalHeader().setVisible(False)
        self.counts.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.counts.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.counts.setMaximumHeight(130)
        self.details = QLabel()
        self.details.setWordWrap(True)
        self.problems_title = QLabel("Files left out:")
        self.problems = QListWidget()
        self.problems.setMaximumHeight(150)
        self.verdict = QLabel()
        self.verdict.setWordWrap(True)
        row = QHBoxLayout()
        row.addWidget(self.source_edit, 1)
        row.addWidget(folder_button)
        row.addWidget(csv_button)
        layout = QVBoxLayout(self)
        layout.addLayout(row)
        layout.addWidget(self.progress)
        layout.addWidget(self.counts)
        layout.addWidget(self.details)
        layout.addWidget(self.problems_title)
        layout.addWidget(self.problems)
        layout.addWidget(self.verdict)
        layout.addStretch(1)
        self._show_check(None)

    def isComplete(self) -> bool:
        return self._usable and self._job is None

    @property
    def is_checking(self) -> bool:
        return self._job is not None

    def set_source(self, source: str | Path) -> None:
        """Check a folder or CSV in the background; Next stays disabled until it is usable."""
        text = str(source).strip()
        if not text:
            return
        self.source_edit.setText(text)
        if self._job is not None:
            self._job.cancel()
        self.owner.state.check = None
        self._usable = False
        self.progress.setVisible(True)
        self.progress.setRange(0, 0)
        self.verdict.setText("Checking the images…")
        self._job = self.owner.run_job(self, check_data, Path(text).expanduser(), progress=self._on_progress,
                                       finished=self._on_checked, failed=self._on_failed,
                                       cancelled=self._on_cancelled)
        self.completeChanged.emit()

    def _on_progress(self, job: Job, progress: Progress) -> None:
        if job is self._job:
            self.progress.setRange(0, max(1, progress.total))
            self.progress.setValue(progress.done)
            self.verdict.setText(progress.describe())

    def _on_checked(self, job: Job, check: DataCheck) -> None:
        if job is not self._job:
            return
        self._job = None
        self.progress.setVisible(False)
        self.owner.state.check = check
        self._show_check(check)

    def _on_failed(self, job: Job, exc: BaseException) -> None:
        if job is not self._job:
            return
        self._job = None
        self.progress.setVisible(False)
        self._show_check(None)
        self.verdict.setText(_coloured(message_for(exc), BAD_STYLE))

    def _on_cancelled(self, job: Job) -> None:
        if job is self._job:
            self._job = None
            self.progress.setVisible(False)
            self.completeChanged.emit()

    def _show_check(self, check: DataCheck | None) -> None:
        self.counts.setRowCount(0)
        self.problems.clear()
        self._usable = False
        if check is None:
            self.details.setText("")
            self.verdict.setText("")
            self.problems_title.setVisible(False)
            self.problems.setVisible(False)
            self.completeChanged.emit()
            return
        dataset = check.dataset
        images, patients = dataset.counts(), dataset.patients()
        for name in dataset.classes:
            row = self.counts.rowCount()
            self.counts.insertRow(row)
            for column, value in enumerate((name, str(images[name]), str(patients[name]))):
                self.counts.setItem(row, column, QTableWidgetItem(value))
        summary = dataset.summary()
        self.details.setText(f"{summary['images']} readable images from {summary['patients']} patients "
                             f"(patient ids: {summary['patient_id_source']}).")
        left_out = [(path, reason) for path, reason in dataset.skipped]
        for path, reason in left_out:
            self.problems.addItem(f"{_relative(path, check.source)} — {reason}")
        self.problems_title.setText(f"Files left out ({len(left_out)}), e.g. unreadable:")
        self.problems_title.setVisible(bool(left_out))
        self.problems.setVisible(bool(left_out))
        try:
            dataset.check_usable(1)
        except TrainingError as exc:
            self.verdict.setText(_coloured(f"Cannot train on this data: {exc.user_message}", BAD_STYLE))
        else:
            self._usable = True
            self.verdict.setText(_coloured("This data can be used for training.", OK_STYLE))
        self.completeChanged.emit()

    def _choose_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Folder with one sub-folder per class")
        if folder:
            self.set_source(folder)

    def _choose_csv(self) -> None:
        name, _ = QFileDialog.getOpenFileName(self, "CSV with path,label[,patient_id]", "", "CSV (*.csv)")
        if name:
            self.set_source(name)


def _relative(path: Path, source: Path) -> str:
    root = source if source.is_dir() else source.parent
    try:
        return Path(path).relative_to(root).as_posix()
    except ValueError:
        return Path(path).name


# ---------------------------------------------------------------------------------------------------
# Page 2: settings and the measured duration
# ---------------------------------------------------------------------------------------------------
def measure_steps(config: FinetuneConfig, batches: int) -> Any:
    """Worker: time a few real optimiser steps of this config (training.estimate)."""
    from training.estimate import measure

    return config, measure(config, batches=batches)


class SettingsPage(QWizardPage):
    def __init__(self, wizard: FinetuneWizard) -> None:
        super().__init__()
        self.owner = wizard
        self.setTitle("2 · Settings")
        self.setSubTitle("Choose the model and how long to train. The duration is measured on this machine.")
        self._timing: Any = None  # training.estimate.StepTiming for _timing_key
        self._timing_key: tuple[Any, ...] | None = None
        self._measuring: Job | None = None
        self._measure_error = ""
        self.profile_combo = QComboBox()
        for name in wizard.profiles:
            try:
                description = load_profile(name).description
            except PneumoError:
                description = ""
            self.profile_combo.addItem(f"{name} — {description}" if description else name, name)
        self.epochs = QSpinBox()
        self.epochs.setRange(1, 1000)
        self.epochs.setValue(wizard.default_epochs)
        self.epochs.setSuffix(" epochs")
        self.cv_radio = QRadioButton("Cross-validation, patient-level folds:")
        self.single_radio = QRadioButton("Single validation split (no cross-validation; faster)")
        group = QButtonGroup(self)
        group.addButton(self.cv_radio)
        group.addButton(self.single_radio)
        self.folds = QSpinBox()
        self.folds.setRange(2, 20)
        self.folds.setValue(max(2, wizard.default_folds))
        (self.cv_radio if wizard.default_folds > 1 else self.single_radio).setChecked(True)
        self.vision_edit = QLineEdit(wizard.vision_weights)
        self.vision_edit.setPlaceholderText("local CLIP ViT-L/14 checkpoint")
        self.llm_edit = QLineEdit(wizard.llm_path)
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
        config = self.owner.config_factory(profile, self.epochs.value())
        if profile == "full":
            config = replace(config, vision_weights=self.vision_edit.text().strip() or None,
                             llm_path=self.llm_edit.text().strip() or None)
        return config

    def _model_key(self, config: FinetuneConfig) -> tuple[Any, ...]:
        return (config.profile, config.vision_weights, config.llm_path, config.batch_size, config.device,
                config.variant, config.augment)

    # -- QWizardPage ----------------------------------------------------------------------------------
    def initializePage(self) -> None:
        self._length_changed()
        self.measure()

    def isComplete(self) -> bool:
        return self._usable_reason() is None

    def validatePage(self) -> bool:
        self.owner.state.config = self.config()
        self.owner.state.folds = self.fold_count()
        return True

    # -- internals ------------------------------------------------------------------------------------
    def _usable_reason(self) -> str | None:
        check = self.owner.state.check
        if check is None:
            return "Choose usable training data first."
        try:
            check.dataset.check_usable(self.fold_count())
        except TrainingError as exc:
            return exc.user_message
        return None

    def measure(self, force: bool = False) -> None:
        config = self.config()
        key = self._model_key(config)
        if not force and (key == self._timing_key or self._measuring is not None):
            self._show_estimate()
            return
        self._timing, self._timing_key, self._measure_error = None, None, ""
        self.estimate_label.setText("Measuring a few training steps on this machine…")
        self.measure_button.setEnabled(False)
        self._measuring = self.owner.run_job(self, measure_steps, config, self.owner.measure_batches, model=True,
                                             finished=self._on_measured, failed=self._on_measure_failed)

    def _on_measured(self, job: Job, result: Any) -> None:
        if job is not self._measuring:
            return
        config, timing = result
        self._measuring = None
        self.measure_button.setEnabled(True)
        if self._model_key(config) != self._model_key(self.config()):
            self.measure()  # the profile changed while we measured
            return
        self._timing, self._timing_key = timing, self._model_key(config)
        self._show_estimate()

    def _on_measure_failed(self, job: Job, exc: BaseException) -> None:
        if job is not self._measuring:
            return
        self._measuring = None
        self.measure_button.setEnabled(True)
        self._measure_error = message_for(exc)
        self._show_estimate()

    def estimate_seconds(self) -> float | None:
        check = self.owner.state.check
        if self._timing is None or check is None:
            return None
        from training.estimate import extrapolate

        return extrapolate(self._timing, self.config(), len(check.dataset.items), self.fold_count())

    def _show_estimate(self) -> None:
        if self._measure_error:
            self.estimate_label.setText(_coloured(f"Could not measure: {self._measure_error}", BAD_STYLE))
            return
        seconds = self.estimate_seconds()
        if seconds is None:
            if self._measuring is None:
                self.estimate_label.setText("")
            return
        minutes = max(1, math.ceil(seconds / 60))
        runs = f"{self.fold_count()} folds + the final model" if self.fold_count() > 1 else "one model"
        self.estimate_label.setText(
            f"<b>About {minutes} minute{'s' if minutes != 1 else ''}</b> (measured on this machine: "
            f"{self._timing.step_s:.2f} s per step of {self._timing.batch_size} images on {self._timing.device}; "
            f"{runs}). Preparing lung crops of new images comes on top, once.")

    def _model_changed(self, *_args: object) -> None:
        self._show_full_paths()
        if self.isVisible():
            self._debounce.start()

    def _length_changed(self, *_args: object) -> None:
        self.folds.setEnabled(self.cv_radio.isChecked())
        reason = self._usable_reason()
        self.verdict.setText(_coloured(reason, BAD_STYLE) if reason else "")
        self._show_estimate()
        self.completeChanged.emit()

    def _show_full_paths(self) -> None:
        full = self.profile_combo.currentData() == "full"
        for widget in (self.vision_label, self.vision_edit, self.llm_label, self.llm_edit):
            widget.setVisible(full)


# ---------------------------------------------------------------------------------------------------
# Page 3: training
# ---------------------------------------------------------------------------------------------------
class CurvesCanvas(FigureCanvasQTAgg):
    """Training loss per step and validation AUC per epoch, one line per fold and the final model."""

    def __init__(self) -> None:
        self.figure = Figure(figsize=(7.5, 2.8), tight_layout=True)
        super().__init__(self.figure)
        self.loss_axes, self.auc_axes = self.figure.subplots(1, 2)
        self.loss: dict[str, list[tuple[float, float]]] = {}
        self.auc: dict[str, list[tuple[int, float]]] = {}
        self.dirty = False
        self.redraw()

    def clear_curves(self) -> None:
        self.loss, self.auc = {}, {}
        self.dirty = True

    def add(self, event: TrainingEvent) -> None:
        name = "final model" if event.fold is None else f"fold {event.fold + 1}"
        if event.stage == "training" and event.loss is not None and event.steps:
            self.loss.setdefault(name, []).append((event.epoch - 1 + event.step / event.steps, event.loss))
            self.dirty = True
        elif event.stage == "validated" and "val_auc" in event.metrics:
            self.auc.setdefault(name, []).append((event.epoch, event.metrics["val_auc"]))
            self.dirty = True

    def redraw(self) -> None:
        self.dirty = False
        for axes, title, ylabel in ((self.loss_axes, "Training loss", "cross-entropy"),
                                    (self.auc_axes, "Validation AUC", "AUC (%)")):
            axes.clear()
            axes.set_title(title, fontsize=9)
            axes.set_xlabel("epoch", fontsize=8)
            axes.set_ylabel(ylabel, fontsize=8)
            axes.tick_params(labelsize=7)
            axes.grid(True, alpha=0.3)
        for name, points in self.loss.items():
            self.loss_axes.plot(*zip(*points, strict=True), linewidth=1, label=name)
        for name, points in self.auc.items():
            self.auc_axes.plot(*zip(*points, strict=True), marker="o", markersize=3, linewidth=1, label=name)
        if self.auc:
            self.auc_axes.set_ylim(0, 101)
            self.auc_axes.legend(fontsize=7, loc="lower right")
        self.draw_idle()


def train(source: Path, run_dir: Path, config: FinetuneConfig, folds: int, segmenter: Callable[[], LungSegmenter],
          worker: Worker) -> dict[str, Any]:
    """Worker: the CLI's training run, reporting every event and honouring Cancel."""
    from training.cross_validation import run_training

    return run_training(source, run_dir, config, CVConfig(folds=folds, seed=config.seed),
                        callback=worker.signals.progress.emit, cancelled=lambda: worker.is_cancelled,
                        segmenter=segmenter(), data_note="fine-tuned with the viewer's wizard")


class TrainPage(QWizardPage):
    def __init__(self, wizard: FinetuneWizard) -> None:
        super().__init__()
        self.owner = wizard
        self.setTitle("3 · Train")
        self.setSubTitle("Training runs in the background; you can cancel at any time. Nothing is installed "
                         "until you choose to on the last page.")
        self._job: Job | None = None
        self._started = 0.0
        self._training_started: float | None = None
        self.plan = QLabel()
        self.plan.setWordWrap(True)
        self.start_button = QPushButton("Start training")
        self.start_button.clicked.connect(self.start_training)
        self.cancel_button = QPushButton("Cancel training")
        self.cancel_button.setEnabled(False)
        self.cancel_button.clicked.connect(self.cancel_training)
        self.progress = QProgressBar()
        self.progress.setRange(0, 1000)
        self.progress.setValue(0)
        self.status = QLabel("Not started.")
        self.status.setWordWrap(True)
        self.eta = QLabel()
        self.canvas = CurvesCanvas()
        self.canvas.setMinimumHeight(230)
        self._refresh = QTimer(self)
        self._refresh.setInterval(400)
        self._refresh.timeout.connect(self._redraw)
        buttons = QHBoxLayout()
        buttons.addWidget(self.start_button)
        buttons.addWidget(self.cancel_button)
        buttons.addWidget(self.progress, 1)
        layout = QVBoxLayout(self)
        layout.addWidget(self.plan)
        layout.addLayout(buttons)
        layout.addWidget(self.status)
        layout.addWidget(self.eta)
        layout.addWidget(self.canvas, 1)

    @property
    def is_running(self) -> bool:
        return self._job is not None

    def _key(self) -> tuple[Any, ...]:
        state = self.owner.state
        source = state.check.source if state.check else None
        return (str(source), json.dumps(state.config.to_json() if state.config else None), state.folds)

    def initializePage(self) -> None:
        state = self.owner.state
        if state.report is not None and state.report_key != self._key():
            state.report, state.run_dir, state.installed = None, None, None  # settings changed: train again
            self.status.setText("Not started.")
            self.canvas.clear_curves()
            self.canvas.redraw()
        config = state.config
        assert config is not None and state.check is not None
        runs = f"{state.folds}-fold cross-validation, then the final model" if state.folds > 1 else \
            "one model with a single validation split"
        estimate = self.owner.settings_page.estimate_seconds()
        guess = f" Expected duration: about {format_duration(estimate)}." if estimate else ""
        self.plan.setText(f"Profile <b>{config.profile}</b> ({config.variant}), {config.epochs} epochs, {runs}, "
                          f"on {len(state.check.dataset.items)} images.{guess}")
        self._show_buttons()

    def cleanupPage(self) -> None:
        self.cancel_training()  # going back stops a running training

    def isComplete(self) -> bool:
        return self.owner.state.report is not None and self._job is None

    def start_training(self) -> Job | None:
        state = self.owner.state
        if self._job is not None or state.check is None or state.config is None:
            return None
        state.report, state.installed = None, None
        state.run_dir = _new_run_dir(self.owner.output_root)
        self.canvas.clear_curves()
        self.canvas.redraw()
        self._started, self._training_started = time.perf_counter(), None
        self.progress.setValue(0)
        self.status.setText(f"Starting… (run folder {state.run_dir})")
        self.eta.setText("")
        self._job = self.owner.run_job(self, train, state.check.source, state.run_dir, state.config, state.folds,
                                       self.owner.segmenter, model=True, progress=self._on_event,
                                       finished=self._on_finished, failed=self._on_failed,
                                       cancelled=self._on_cancelled)
        self._refresh.start()
        self._show_buttons()
        self.completeChanged.emit()
        return self._job

    def cancel_training(self) -> None:
        if self._job is not None:
            self._job.cancel()
            self.cancel_button.setEnabled(False)
            self.status.setText("Cancelling after the current step…")

    def _on_event(self, job: Job, event: TrainingEvent) -> None:
        if job is not self._job:
            return
        if event.stage == "segmenting":
            self.status.setText(f"Preparing lung crops: {event.message}")
            if event.steps:
                self.progress.setValue(0)
            return
        folds = self.owner.state.folds
        runs = folds + 1 if folds > 1 else 1
        run = (event.fold if event.fold is not None else runs - 1) if event.stage != "done" else runs
        within = 0.0
        if event.stage in ("training", "validated") and event.epochs and event.steps:
            within = (event.epoch - 1 + event.step / event.steps) / event.epochs
        elif event.stage == "fold done":
            within = 1.0
        fraction = min(1.0, (run + within) / runs)
        self.progress.setValue(round(1000 * fraction))
        if self._training_started is None:
            self._training_started = time.perf_counter()
        which = "final model" if event.fold is None else f"fold {event.fold + 1} of {folds}"
        if event.stage == "training":
            self.status.setText(f"Training {which}: epoch {event.epoch}/{event.epochs}, step {event.step}/"
                                f"{event.steps}, loss {event.loss:.3f}")
        elif event.stage == "validated":
            self.status.setText(f"Validated {which} after epoch {event.epoch}/{event.epochs}: "
                                f"AUC {event.metrics.get('val_auc', float('nan')):.1f}%")
        elif event.stage == "fold done":
            self.status.setText(f"Fold {event.fold + 1 if event.fold is not None else '?'} done: test AUC "
                                f"{event.metrics.get('auc', float('nan')):.1f}%")
        elif event.message:
            self.status.setText(event.message)
        elapsed = time.perf_counter() - self._training_started
        if 0.02 < fraction < 1 and elapsed > 1:
            self.eta.setText(f"About {format_duration(elapsed / fraction * (1 - fraction))} left "
                             f"({format_duration(time.perf_counter() - self._started)} so far).")
        self.canvas.add(event)

    def _redraw(self) -> None:
        if self.canvas.dirty:
            self.canvas.redraw()

    def _on_finished(self, job: Job, report: dict[str, Any]) -> None:
        if job is not self._job:
            return
        state = self.owner.state
        state.report, state.report_key = report, self._key()
        self._stop()
        self.progress.setValue(1000)
        self.status.setText(_coloured(f"Training finished in {format_duration(time.perf_counter() - self._started)}"
                                      f". The new head is in {report['model']} (not installed yet).", OK_STYLE))
        self.eta.setText("")
        self.owner.training_finished.emit(report)

    def _on_failed(self, job: Job, exc: BaseException) -> None:
        if job is self._job:
            self._stop()
            self.status.setText(_coloured(f"Training failed: {message_for(exc)} The active model is unchanged.",
                                          BAD_STYLE))

    def _on_cancelled(self, job: Job) -> None:
        if job is self._job:
            self._stop()
            self.status.setText("Training cancelled — nothing was installed; the active model is unchanged.")

    def _stop(self) -> None:
        self._job = None
        self._refresh.stop()
        self.canvas.redraw()
        self.eta.setText("")
        self._show_buttons()
        self.completeChanged.emit()

    def _show_buttons(self) -> None:
        running = self._job is not None
        self.start_button.setEnabled(not running)
        self.start_button.setText("Train again" if self.owner.state.report is not None else "Start training")
        self.cancel_button.setEnabled(running)


def _new_run_dir(root: Path) -> Path:
    base = root / time.strftime("%Y%m%d-%H%M%S")
    candidate, number = base, 1
    while candidate.exists():
        number += 1
        candidate = base.with_name(f"{base.name}-{number}")
    return candidate


# ---------------------------------------------------------------------------------------------------
# Page 4: evaluation
# ---------------------------------------------------------------------------------------------------
class RocCanvas(FigureCanvasQTAgg):
    def __init__(self) -> None:
        self.figure = Figure(figsize=(3.6, 3.3), tight_layout=True)
        super().__init__(self.figure)
        self.axes = self.figure.add_subplot(111)

    def show_curves(self, curves: list[tuple[str, dict[str, list[float]], tuple[float, float] | None]],
                    note: str = "") -> None:
        ax = self.axes
        ax.clear()
        for name, roc, point in curves:
            (line,) = ax.plot(roc["fpr"], roc["tpr"], linewidth=1.5, label=name)
            if point is not None:
                ax.plot([point[0]], [point[1]], marker="o", color=line.get_color(), markersize=6)
        ax.plot([0, 1], [0, 1], color="grey", linestyle=":", linewidth=1)
        ax.set_xlim(-0.01, 1.0)
        ax.set_ylim(0.0, 1.02)  # a perfect curve along the top stays visible
        ax.set_xlabel("1 − specificity", fontsize=8)
        ax.set_ylabel("sensitivity", fontsize=8)
        ax.tick_params(labelsize=7)
        ax.set_title("ROC (dots: operating points)" if curves else "ROC", fontsize=9)
        if curves:
            ax.legend(fontsize=7, loc="lower right")
        if note:
            ax.text(0.5, 0.55, note, ha="center", va="center", fontsize=8, wrap=True, transform=ax.transAxes)
        self.draw_idle()


def evaluate_installed(head: Path | None, dataset: LabelledSet, segmenter: Callable[[], LungSegmenter]
                       ) -> dict[str, Any]:
    """Worker: the installed head on the same data (refused when there is none or its classes differ)."""
    from training.evaluate import evaluate_head

    card = head_card(head)
    if head is None or card is None:
        raise ModelLoadError("No head is installed yet, so there is nothing to compare with.")
    if tuple(card.get("labels", ())) != tuple(dataset.classes):  # refuse before loading a large model
        raise TrainingError(f"The installed head cannot be compared on this data: its classes "
                            f"{list(card.get('labels', []))} differ from the data's {list(dataset.classes)}.")
    return evaluate_head(dataset, diagnoser=Diagnoser(head, segmenter=segmenter()))


def _operating_point(metrics: dict[str, float] | None) -> tuple[float, float] | None:
    if not metrics or any(math.isnan(metrics.get(k, float("nan"))) for k in ("sensitivity", "specificity")):
        return None
    return 1 - metrics["specificity"] / 100, metrics["sensitivity"] / 100


class EvaluatePage(QWizardPage):
    def __init__(self, wizard: FinetuneWizard) -> None:
        super().__init__()
        self.owner = wizard
        self.setTitle("4 · Evaluate")
        self.setSubTitle("How the new head did on data it never saw during training, next to the installed head.")
        self._job: Job | None = None
        self._evaluated_for: str | None = None
        self.installed_result: dict[str, Any] | None = None
        self.table = QTableWidget(0, len(METRICS) + 1)
        self.table.setHorizontalHeaderLabels([name for _, name in METRICS] + ["Threshold"])
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.ContiguousSelection)
        self.table.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.table.setWordWrap(False)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.table.horizontalHeader().setMinimumSectionSize(70)
        self.table.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        for column, (key, _) in enumerate(METRICS):
            self.table.horizontalHeaderItem(column).setToolTip(f"{key} in percent")
        self.threshold_label = QLabel()
        self.threshold_label.setWordWrap(True)
        self.comparison = QLabel()
        self.comparison.setWordWrap(True)
        self.roc = RocCanvas()
        self.roc.setMinimumSize(340, 300)
        notes = QVBoxLayout()
        notes.addWidget(self.threshold_label)
        notes.addWidget(self.comparison)
        notes.addStretch(1)
        below = QHBoxLayout()
        below.addWidget(self.roc, 1)
        below.addLayout(notes, 1)
        layout = QVBoxLayout(self)
        layout.addWidget(self.table)
        layout.addLayout(below, 1)

    def initializePage(self) -> None:
        report = self.owner.state.report
        assert report is not None
        self._fill(report)
        if self._evaluated_for != report["model"]:
            self._evaluated_for = report["model"]
            self.installed_result = None
            self.comparison.setText("Evaluating the installed head on the same data…")
            check = self.owner.state.check
            assert check is not None
            self._job = self.owner.run_job(self, evaluate_installed, self.owner.installed_head(), check.dataset,
                                           self.owner.segmenter, model=True, finished=self._on_installed,
                                           failed=self._on_installed_failed)

    @property
    def is_evaluating(self) -> bool:
        return self._job is not None

    def _fill(self, report: dict[str, Any]) -> None:
        card = head_card(Path(report["model"])) or {}
        cv = report.get("cross_validation")
        rows: list[tuple[str, list[str]]] = []
        if cv:
            for fold in cv["folds"]:
                rows.append((f"Fold {fold['fold']} (n={fold['n_test']})",
                             [f"{fold['metrics'][key]:.1f}" for key, _ in METRICS] + [f"{fold['threshold']:.3f}"]))
            summary = cv["summary"]
            rows.append(("Mean ± std", [f"{summary[key]['mean']:.1f} ± {summary[key]['std']:.1f}"
                                        for key, _ in METRICS] + [""]))
        else:
            validation = card.get("metrics", {}).get("validation") or {}
            rows.append(("Validation split", [f"{validation.get(key, float('nan')):.1f}" for key, _ in METRICS]
                         + [f"{card.get('threshold', float('nan')):.3f}"]))
        self._rows = rows
        self._show_rows()
        threshold = card.get("threshold")
        temperature = card.get("temperature")
        self.threshold_label.setText(
            f"New head {card.get('model_id', '?')}: operating threshold <b>{threshold:.3f}</b> "
            f"({card.get('threshold_source', 'from the validation split')}), calibration temperature "
            f"{temperature:.2f}. Metrics in percent; AVG is the mean of the four, as in the paper."
            if isinstance(threshold, float) and isinstance(temperature, float) else "")
        self._draw_roc()

    def _show_rows(self) -> None:
        rows = list(self._rows)
        if self.installed_result is not None:
            metrics = self.installed_result["metrics"]
            rows.append((f"Installed head {self.installed_result['model_id']} (all {self.installed_result['n']})",
                         [f"{metrics[key]:.1f}" for key, _ in METRICS] + [f"{self.installed_result['threshold']:.3f}"]))
        self.table.setRowCount(len(rows))
        self.table.setVerticalHeaderLabels([name for name, _ in rows])
        for row, (_, values) in enumerate(rows):
            for column, value in enumerate(values):
                item = QTableWidgetItem(value)
                item.setTextAlignment(Qt.AlignmentFlag.AlignCenter)
                self.table.setItem(row, column, item)
        self.table.resizeRowsToContents()
        height = self.table.horizontalHeader().height() + 2 * self.table.frameWidth()
        height += sum(self.table.rowHeight(row) for row in range(self.table.rowCount()))
        self.table.setFixedHeight(height + (self.table.horizontalScrollBar().height()
                                            if self.table.horizontalScrollBar().isVisible() else 0))

    def _draw_roc(self) -> None:
        report = self.owner.state.report
        curves = []
        note = ""
        cv = report.get("cross_validation") if report else None
        if cv:
            mean = {key: value["mean"] for key, value in cv["summary"].items()}
            curves.append((f"new head, pooled {len(cv['folds'])}-fold CV", cv["pooled_roc"], _operating_point(mean)))
        else:
            note = "No held-out folds with a single\nvalidation split: see the table."
        if self.installed_result is not None:
            curves.append((f"installed head {self.installed_result['model_id']}", self.installed_result["roc"],
                           _operating_point(self.installed_result["metrics"])))
        self.roc.show_curves(curves, note)

    def _on_installed(self, job: Job, result: dict[str, Any]) -> None:
        if job is not self._job:
            return
        self._job = None
        self.installed_result = result
        self.comparison.setText(f"Installed head {result['model_id']} on all {result['n']} images of this data "
                                f"(it was not trained on them): see the last row.")
        self._show_rows()
        self._draw_roc()

    def _on_installed_failed(self, job: Job, exc: BaseException) -> None:
        if job is not self._job:
            return
        self._job = None
        self.comparison.setText(_coloured(f"No comparison: {message_for(exc)}", BAD_STYLE))


# ---------------------------------------------------------------------------------------------------
# Page 5: install / roll back
# ---------------------------------------------------------------------------------------------------
def install_head(store: ModelStore, head: Path) -> Path:
    return store.install(head)


def roll_back(store: ModelStore) -> Path | None:
    store.rollback()
    return store.active()


class InstallPage(QWizardPage):
    def __init__(self, wizard: FinetuneWizard) -> None:
        super().__init__()
        self.owner = wizard
        self.setTitle("5 · Install")
        self.setSubTitle("Make the new head the one the viewer uses. The current head is kept, so one click rolls "
                         "back.")
        self._job: Job | None = None
        self.active_label = QLabel()
        self.active_label.setWordWrap(True)
        self.active_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.previous_label = QLabel()
        self.previous_label.setWordWrap(True)
        self.new_label = QLabel()
        self.new_label.setWordWrap(True)
        self.install_button = QPushButton("Install the new head")
        self.install_button.clicked.connect(self.install)
        self.rollback_button = QPushButton("Roll back to the previous head")
        self.rollback_button.clicked.connect(self.rollback)
        self.message = QLabel()
        self.message.setWordWrap(True)
        buttons = QHBoxLayout()
        buttons.addWidget(self.install_button)
        buttons.addWidget(self.rollback_button)
        buttons.addStretch(1)
        form = QFormLayout()
        form.addRow("New head:", self.new_label)
        form.addRow("Active head:", self.active_label)
        form.addRow("Previous head:", self.previous_label)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addLayout(buttons)
        layout.addWidget(self.message)
        layout.addStretch(1)

    def initializePage(self) -> None:
        self.message.setText("")
        self.refresh()

    def refresh(self) -> None:
        store = self.owner.store
        state = self.owner.state
        active = store.active()
        if active is None:
            default = self.owner.installed_head()
            self.active_label.setText(f"the shipped default head ({describe_head(default)})" if default
                                      else "none installed")
        else:
            self.active_label.setText(describe_head(active))
        self.previous_label.setText(describe_head(store.previous()) if store.previous() else "none")
        new = Path(state.report["model"]) if state.report else None
        self.new_label.setText(describe_head(new, f"run {new.parent.name}") if new else
                               "no trained head (train one on page 3)")
        busy = self._job is not None
        self.install_button.setEnabled(new is not None and state.installed is None and not busy)
        can_roll_back = active is not None or store.previous() is not None
        self.rollback_button.setEnabled(can_roll_back and not busy)

    def install(self) -> Job | None:
        report = self.owner.state.report
        if report is None or self._job is not None:
            return None
        self.message.setText("Installing…")
        self._job = self.owner.run_job(self, install_head, self.owner.store, Path(report["model"]),
                                       finished=self._on_installed, failed=self._on_failed)
        self.refresh()
        return self._job

    def rollback(self) -> Job | None:
        if self._job is not None:
            return None
        self._job = self.owner.run_job(self, roll_back, self.owner.store, finished=self._on_rolled_back,
                                       failed=self._on_failed)
        self.refresh()
        return self._job

    def _on_installed(self, _job: Job, target: Path) -> None:
        self._job = None
        self.owner.state.installed = target
        self.message.setText(_coloured("Installed — the viewer uses the new head from the next diagnosis on.",
                                       OK_STYLE))
        self.refresh()
        self.owner.head_changed.emit(target)

    def _on_rolled_back(self, _job: Job, active: Path | None) -> None:
        self._job = None
        now = describe_head(active) if active else "the shipped default"
        self.message.setText(_coloured(f"Rolled back — active head: {now}.", OK_STYLE))
        self.refresh()
        self.owner.head_changed.emit(active)

    def _on_failed(self, _job: Job, exc: BaseException) -> None:
        self._job = None
        self.message.setText(_coloured(message_for(exc), BAD_STYLE))
        self.refresh()


__all__ = ["DataCheck", "FinetuneWizard", "default_config", "describe_head", "head_card"]
