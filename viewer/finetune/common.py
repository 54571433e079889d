"""What the fine-tune wizard's pages share: the context the wizard hands them, its state, text helpers."""

from __future__ import annotations

import html
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from engine.errors import ModelLoadError
from engine.model.head_card import IntendedUse, load_head_card
from training.config import FinetuneConfig
from training.data import DataCheck

if TYPE_CHECKING:
    from PySide6.QtCore import QObject

    from engine.model.store import ModelStore
    from engine.segment import LungSegmenter
    from viewer.workers import Worker

METRICS = (("sensitivity", "Sens"), ("specificity", "Spec"), ("accuracy", "Acc"), ("auc", "AUC"), ("avg", "AVG"))
OK_STYLE = "color:#1b7a2b"
BAD_STYLE = "color:#b00020"

ConfigFactory = Callable[[str, int], FinetuneConfig]


def default_config(profile: str, epochs: int) -> FinetuneConfig:
    return FinetuneConfig(profile=profile, epochs=epochs)


def describe_head(folder: Path | None, name: str | None = None) -> str:
    """One line for a head folder: name, id, profile, classes, date — or why it cannot be read."""
    if folder is None:
        return "none"
    try:
        card = load_head_card(folder)
    except ModelLoadError as exc:
        return f"{name or Path(folder).name} — {exc.user_message}"
    created = f", trained {card.created}" if card.created else ""
    return f"{name or Path(folder).name} — {card.describe()}{created}"


def intended_use_of(folder: Path | None) -> IntendedUse | None:
    """The intended use in a head's card; None without a head or when its card cannot be read."""
    if folder is None:
        return None
    try:
        return load_head_card(folder).intended_use
    except ModelLoadError:
        return None


def coloured(text: str, style: str) -> str:
    return f"<span style='{style}'>{html.escape(text)}</span>"


def plural(count: int, word: str) -> str:
    return f"{count} {word}" + ("" if count == 1 else "s")
@dataclass
class WizardState:
    """What the pages decided so far; each page reads what the earlier ones left here, never another page."""

    check: DataCheck | None = None
    config: FinetuneConfig | None = None
    folds: int = 5
    estimate_s: float | None = None  # the measured duration of the chosen run (page 2), if measured
    estimate_missing: tuple[str, ...] = ()  # the parts of the run page 2 could not measure ("lung crops", …)
    run_dir: Path | None = None
    report: dict[str, Any] | None = None
    report_key: tuple[Any, ...] | None = None
    installed: Path | None = None  # where page 5 installed this run's head
    intended_use: IntendedUse | None = None  # for the new head's card; None: from the training data's tags


class RunJob(Protocol):
    def __call__(self, page: QObject, function: Callable[..., Any], *args: Any, model: bool = False,
                 reporting: bool = False, **callbacks: Callable[..., None]) -> Worker:
        """Run ``function(*args)`` on a worker; ``callbacks`` get ``(worker, value)`` while ``page`` lives."""


@dataclass(frozen=True)
class WizardOptions:
    """What the wizard was opened with: the settings page's choices and defaults, where runs go."""

    profiles: tuple[str, ...]
    config_factory: ConfigFactory
    output_root: Path
    default_epochs: int
    default_folds: int
    vision_weights: str
    llm_path: str
    measure_batches: int  # optimiser steps timed for the duration estimate


@dataclass(frozen=True)
class PageContext:
    """Everything a page may use, built by the wizard (pages never reach the wizard or each other)."""

    state: WizardState
    options: WizardOptions
    store: ModelStore
    run_job: RunJob
    segmenter: Callable[[], LungSegmenter]  # worker threads only: loading it touches torch
    installed_head: Callable[[], Path | None]  # the head the app uses now
    shipped_head: Callable[[], Path | None]  # the shipped default head, if there is one
    head_changed: Callable[[Path | None], None]  # tell the app another head is active
    training_finished: Callable[[dict[str, Any]], None]  # tell the app a run's report
