"""What the fine-tune wizard's pages share: its state, settings defaults and text helpers."""

from __future__ import annotations

import html
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine.errors import ModelLoadError
from engine.model.head_card import load_head_card
from training.config import FinetuneConfig
from training.data import DataCheck

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


def coloured(text: str, style: str) -> str:
    return f"<span style='{style}'>{html.escape(text)}</span>"


def plural(count: int, word: str) -> str:
    return f"{count} {word}" + ("" if count == 1 else "s")
@dataclass
class WizardState:
    check: DataCheck | None = None
    config: FinetuneConfig | None = None
    folds: int = 5
    run_dir: Path | None = None
    report: dict[str, Any] | None = None
    report_key: tuple[Any, ...] | None = None
    installed: Path | None = None  # where page 5 installed this run's head

