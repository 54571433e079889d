"""Page 3 of the fine-tune wizard: train in the background with live curves; Cancel stops between steps."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QHBoxLayout, QLabel, QProgressBar, QPushButton, QVBoxLayout, QWizardPage

from engine.model.head_card import IntendedUse
from engine.progress import format_duration
from engine.segment import LungSegmenter
from training.config import CVConfig, FinetuneConfig
from training.finetune import TrainingEvent
from viewer.error_dialog import message_for
from viewer.finetune.canvases import CurvesCanvas
from viewer.finetune.common import BAD_STYLE, OK_STYLE, PageContext, coloured, plural
from viewer.workers import Worker


def train_job(source: Path, run_dir: Path, config: FinetuneConfig, folds: int,
              segmenter: Callable[[], LungSegmenter], intended_use: IntendedUse | None = None, *,
              progress: Callable[[TrainingEvent], None], cancelled: Callable[[], bool]) -> dict[str, Any]:
    """Model worker: the CLI's training run, reporting every event and honouring Cancel. ``intended_use``: the
    settings page's choice for the new head's card (None: read from the training data's tags)."""
    from training.cross_validation import run_training

    return run_training(source, run_dir, config, CVConfig(folds=folds, seed=config.seed), callback=progress,
                        cancelled=cancelled, segmenter=segmenter(), data_note="fine-tuned with the viewer's wizard",
                        intended_use=intended_use)


class TrainPage(QWizardPage):
    def __init__(self, context: PageContext) -> None:
        super().__init__()
        self.context = context
        self.setTitle("3 · Train")
        self.setSubTitle("Training runs in the background; you can cancel at any time. Nothing is installed "
                         "until you choose to on the last page.")
        self._job: Worker | None = None
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
        state = self.context.state
        source = state.check.source if state.check else None
        return (str(source), json.dumps(state.config.to_json() if state.config else None), state.folds,
                state.intended_use)

    def initializePage(self) -> None:
        state = self.context.state
        if state.report is not None and state.report_key != self._key():
            state.report, state.run_dir, state.installed = None, None, None  # settings changed: train again
            self.status.setText("Not started.")
            self.canvas.clear_curves()
            self.canvas.redraw()
        config = state.config
        assert config is not None and state.check is not None
        runs = f"{state.folds}-fold cross-validation, then the final model" if state.folds > 1 else \
            "one model with a single validation split"
        estimate = self.context.state.estimate_s
        missing = self.context.state.estimate_missing
        on_top = f"; {' and '.join(missing)} not measured, on top" if missing else ""
        guess = (f" Expected duration: about {format_duration(estimate)} (training steps, lung crops of images not "
                 f"prepared before and the reference map, measured on page 2{on_top})." if estimate else "")
        self.plan.setText(f"Profile <b>{config.profile}</b> ({config.variant}), {plural(config.epochs, 'epoch')}, "
                          f"{runs}, on {plural(len(state.check.dataset.items), 'image')}.{guess}")
        self._show_buttons()

    def cleanupPage(self) -> None:
        self.cancel_training()  # going back stops a running training

    def isComplete(self) -> bool:
        return self.context.state.report is not None and self._job is None

    def start_training(self) -> Worker | None:
        state = self.context.state
        if self._job is not None or state.check is None or state.config is None:
            return None
        state.report, state.installed = None, None
        state.run_dir = _new_run_dir(self.context.options.output_root)
        self.canvas.clear_curves()
        self.canvas.redraw()
        self._started, self._training_started = time.perf_counter(), None
        self.progress.setValue(0)
        self.status.setText(f"Starting… (run folder {state.run_dir})")
        self.eta.setText("")
        self._job = self.context.run_job(self, train_job, state.check.source, state.run_dir, state.config,
                                         state.folds, self.context.segmenter, state.intended_use, model=True,
                                         reporting=True,
                                         progress=self._on_event, finished=self._on_finished, failed=self._on_failed,
                                         stopped=self._on_cancelled)
        self._refresh.start()
        self._show_buttons()
        self.completeChanged.emit()
        return self._job

    def cancel_training(self) -> None:
        if self._job is not None:
            self._job.cancel()
            self.cancel_button.setEnabled(False)
            self.status.setText("Cancelling after the current step…")

    def _on_event(self, job: Worker, event: TrainingEvent) -> None:
        if job is not self._job:
            return
        if event.stage == "segmenting":
            self.status.setText(f"Preparing lung crops: {event.message}")
            if event.steps:
                self.progress.setValue(0)
            return
        if event.stage == "finishing":  # after the last epoch: the bar stays where it is, the line says what runs
            self.status.setText(event.message)
            self.eta.setText("Last steps of the run (not in the estimate)… "
                             f"{format_duration(time.perf_counter() - self._started)} so far.")
            return
        folds = self.context.state.folds
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

    def _on_finished(self, job: Worker, report: dict[str, Any]) -> None:
        if job is not self._job:
            return
        state = self.context.state
        state.report, state.report_key = report, self._key()
        self._stop()
        self.progress.setValue(1000)
        estimate = state.estimate_s
        against = f" (estimated: about {format_duration(estimate)} of training steps)" if estimate else ""
        self.status.setText(coloured(f"Training finished in {format_duration(time.perf_counter() - self._started)}"
                                      f"{against}. The new head is in {report['model']} (not installed yet).",
                                      OK_STYLE))
        self.eta.setText("")
        self.context.training_finished(report)

    def _on_failed(self, job: Worker, exc: BaseException) -> None:
        if job is self._job:
            self._stop()
            self.status.setText(coloured(f"Training failed: {message_for(exc)} The active model is unchanged.",
                                          BAD_STYLE))

    def _on_cancelled(self, job: Worker) -> None:
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
        self.start_button.setText("Train again" if self.context.state.report is not None else "Start training")
        self.cancel_button.setEnabled(running)


def _new_run_dir(root: Path) -> Path:
    base = root / time.strftime("%Y%m%d-%H%M%S")
    candidate, number = base, 1
    while candidate.exists():
        number += 1
        candidate = base.with_name(f"{base.name}-{number}")
    return candidate
