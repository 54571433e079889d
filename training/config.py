"""Training settings as frozen dataclasses; defaults are the paper's recipe."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class FinetuneConfig:
    profile: str = "embedded"
    epochs: int = 100  # the paper's; CPU runs usually choose fewer and say so
    batch_size: int = 16
    lr: float = 3e-4
    beta1: float = 0.9
    beta2: float = 0.95
    weight_decay: float = 0.02  # not applied to biases and norm weights
    warmup_epochs: int = 2  # then cosine decay to 0
    val_fraction: float = 0.15  # validation split inside the training data (patient-level)
    patience: int = 0  # early stopping on validation AUC after this many epochs without gain (0 = off)
    augment: bool = True  # small affine + contrast jitter on the cached crops
    seed: int = 0
    threads: int = 0  # torch CPU threads (0 = torch's default)
    device: str = "auto"
    # Ablations (paper section 4.4) and the plain CNN baseline.
    use_llm: bool = True
    use_engine: bool = True
    use_emitter_mask: bool = True
    use_adapters: bool = True
    baseline: bool = False
    vision_weights: str | None = None
    llm_path: str | None = None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def variant(self) -> str:
        if self.baseline:
            return "baseline-cnn"
        off = [name for name, on in (("llm", self.use_llm), ("engine", self.use_engine),
                                     ("emitter", self.use_emitter_mask), ("adapters", self.use_adapters)) if not on]
        return "pneumollm" if not off else "without-" + "-".join(off)


@dataclass(frozen=True)
class CVConfig:
    folds: int = 5  # patient-level stratified folds; 1 = a single validation split, no cross-validation
    seed: int = 0
