"""tqdm progress for training in the terminal (the GUI draws the same TrainingEvents itself)."""

from __future__ import annotations

from typing import Any


class TqdmCallback:
    def __init__(self, enabled: bool = True) -> None:
        self.enabled = enabled
        self.bar: Any = None
        self.key: tuple[Any, ...] | None = None

    def __enter__(self) -> TqdmCallback:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            self.bar.close()

    def __call__(self, event: Any) -> None:
        if not self.enabled:
            return
        from tqdm import tqdm

        key = (event.stage if event.stage != "validated" else "training", event.fold, event.epoch)
        if event.stage in ("segmenting", "training"):
            if key != self.key:
                if self.bar is not None:
                    self.bar.close()
                where = "final model" if event.fold is None else f"fold {event.fold + 1}/{event.folds}"
                label = "segmenting" if event.stage == "segmenting" else f"{where} epoch {event.epoch}/{event.epochs}"
                self.bar = tqdm(total=event.steps, desc=label, leave=event.stage != "training", unit="step")
                self.key = key
            self.bar.n = event.step
            if event.loss is not None:
                self.bar.set_postfix(loss=f"{event.loss:.4f}")
            self.bar.refresh()
        elif event.stage == "validated" and self.bar is not None:
            self.bar.set_postfix(loss=f"{event.loss:.4f}", val_auc=f"{event.metrics.get('val_auc', 0):.1f}")
            self.bar.close()
            self.bar = None
            self.key = None
