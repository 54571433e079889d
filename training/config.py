"""Training settings as frozen dataclasses; defaults are the paper's recipe."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from engine.model.config import ABLATIONS, variant_name

PAPER_EPOCHS = 100  # the paper's training length, meant for a GPU
CPU_EPOCHS = 10  # the default on a CPU (the CLI without a GPU, the viewer's wizard)


@dataclass(frozen=True)
class FinetuneConfig:
    profile: str = "embedded"
    epochs: int = PAPER_EPOCHS  # CPU runs usually choose fewer (CPU_EPOCHS) and say so
    batch_size: int = 16
    lr: float = 3e-4
    beta1: float = 0.9
    beta2: float = 0.95
    weight_decay: float = 0.02  # not applied to biases and norm weights
    warmup_epochs: int = 2  # then cosine decay to 0
    val_fraction: float = 0.15  # validation split inside the training data (patient-level)
    patience: int = 0  # early stopping on validation AUC after this many epochs without gain (0 = off)
    augment: bool = True  # training.augment: vary each training crop as real files vary
    augment_preset: str = "resolution"  # training.augment.PRESETS; docs/augmentation_study.md chose it
    # How the head's threshold is chosen on validation data (training.metrics.operating_threshold):
    # "youden", "sensitivity:0.95" (screening) or "specificity:0.90".
    operating_point: str = "youden"
    seed: int = 0
    threads: int = 0  # torch CPU threads (0 = torch's default)
    device: str = "auto"
    # Ablations (paper section 4.4) and the plain CNN baseline.
    use_llm: bool = True
    use_token_engine: bool = True
    use_emitter_mask: bool = True
    use_adapters: bool = True
    baseline: bool = False
    vision_weights: str | None = None
    llm_path: str | None = None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    def model_switches(self) -> dict[str, bool]:
        """The ablation switches, named as ``ModelConfig`` names them."""
        return {switch: getattr(self, switch) for switch in ABLATIONS}

    @property
    def variant(self) -> str:
        off = [name for switch, name in ABLATIONS.items() if not getattr(self, switch)]
        return variant_name(off, baseline=self.baseline)


@dataclass(frozen=True)
class CVConfig:
    folds: int = 5  # patient-level stratified folds; 1 = a single validation split, no cross-validation
    seed: int = 0
