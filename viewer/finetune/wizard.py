"""The fine-tune wizard: data → settings (with a measured duration) → training → evaluation → install.

All torch work (the duration measurement, training, evaluating the installed head) runs on the wizard's own
single-thread pool; the data check runs on the general pool. Only the Install button of the last page changes the
active head (``ModelStore.install``, atomic, previous head kept); a cancelled or failed run never does.

Each page gets a ``PageContext`` (the shared ``WizardState``, the options, the store, ``run_job``, the segmenter and
the two signals to emit), never the wizard itself; what one page leaves for a later one goes through the state.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, QThreadPool, Signal
from PySide6.QtWidgets import QWidget, QWizard

from engine.model.head_card import CARD_NAME
from engine.model.registry import profile_names
from engine.model.store import ModelStore
from engine.notices import RESEARCH_USE
from engine.paths import DEFAULT_HEAD, data_dir
from engine.segment import LungSegmenter
from training.config import CPU_EPOCHS
from viewer.finetune.common import ConfigFactory, PageContext, WizardOptions, WizardState, default_config
from viewer.finetune.data_page import DataPage
from viewer.finetune.evaluate_page import EvaluatePage
from viewer.finetune.install_page import InstallPage
from viewer.finetune.settings_page import SettingsPage
from viewer.finetune.train_page import TrainPage
from viewer.workers import Worker, WorkerSet, bind, single_thread_pool


def training_pool() -> QThreadPool:
    """One thread for training-side torch work (one training at a time, beside the viewer's model pool)."""
    return single_thread_pool("training")


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
                 segmenter: LungSegmenter | None = None, profiles: Sequence[str] | None = None,
                 config_factory: ConfigFactory = default_config, output_root: Path | None = None,
                 default_epochs: int = CPU_EPOCHS, default_folds: int = 5, vision_weights: str | None = None,
                 llm_path: str | None = None, measure_batches: int = 2, pool: QThreadPool | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(f"Fine-tune a new head — {RESEARCH_USE}")
        self.store = store or ModelStore()
        self.options = WizardOptions(
            profiles=tuple(profiles) if profiles is not None else tuple(profile_names()),
            config_factory=config_factory, output_root=Path(output_root) if output_root else data_dir() / "runs",
            default_epochs=default_epochs, default_folds=default_folds, vision_weights=vision_weights or "",
            llm_path=llm_path or "", measure_batches=measure_batches)
        self.pool = pool or training_pool()
        self.state = WizardState(folds=default_folds)
        self._segmenter = segmenter
        self._segmenter_lock = threading.Lock()
        self.jobs = WorkerSet(self)
        context = PageContext(state=self.state, options=self.options, store=self.store, run_job=self.run_job,
                              segmenter=self.segmenter, installed_head=self.installed_head,
                              shipped_head=self.shipped_head,
                              head_changed=self.head_changed.emit, training_finished=self.training_finished.emit)
        self.data_page = DataPage(context)
        self.settings_page = SettingsPage(context)
        self.train_page = TrainPage(context)
        self.evaluate_page = EvaluatePage(context)
        self.install_page = InstallPage(context)
        for page_id, page in enumerate((self.data_page, self.settings_page, self.train_page, self.evaluate_page,
                                        self.install_page)):
            self.setPage(page_id, page)
        self.resize(940, 700)

    # -- for the pages (through their PageContext) ---------------------------------------------------
    def segmenter(self) -> LungSegmenter:
        """The lung segmenter (worker threads only: loading it touches torch)."""
        with self._segmenter_lock:
            if self._segmenter is None:
                self._segmenter = LungSegmenter()
            return self._segmenter

    def installed_head(self) -> Path | None:
        """The head the app uses now: the store's active head, else the shipped default (if any)."""
        active = self.store.active()
        return active if active is not None else self.shipped_head()

    def shipped_head(self) -> Path | None:
        """The default head shipped with the app, when it is there (the store falls back to it)."""
        return DEFAULT_HEAD if (DEFAULT_HEAD / CARD_NAME).exists() else None

    def run_job(self, page: QObject, function: Callable[..., Any], *args: Any, model: bool = False,
                reporting: bool = False, **callbacks: Callable[..., None]) -> Worker:
        """Run ``function(*args)`` on a worker; ``callbacks`` (progress, finished, failed, stopped) get
        ``(worker, value)`` for as long as ``page`` lives.

        ``model=True`` jobs (torch) run one at a time on the wizard's pool, the others on the global pool;
        ``reporting=True`` passes ``progress=`` and ``cancelled=`` to callback-style functions.
        """
        worker = Worker.reporting(function, *args) if reporting else Worker(function, *args)
        bind(worker, page, **callbacks)
        return self.jobs.start(worker, pool=self.pool if model else None)

    def cancel_all(self) -> None:
        self.jobs.cancel_all()

    def done(self, result: int) -> None:
        self.cancel_all()  # closing the wizard stops a running training; nothing gets installed
        super().done(result)
