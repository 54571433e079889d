"""Named model profiles, registered like timm's models; unknown names fail with the valid ones listed."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace

from engine.errors import ProfileError
from engine.model.config import CLIP_MEAN, CLIP_STD, ModelConfig, PreprocessConfig


@dataclass(frozen=True)
class Profile:
    name: str
    description: str
    model: ModelConfig
    preprocess: PreprocessConfig = field(default_factory=PreprocessConfig)
    device: str = "auto"  # "auto" | "cpu" | "cuda"
    batch_size: int = 8


_PROFILES: dict[str, Callable[[], Profile]] = {}


def register_profile(name: str) -> Callable[[Callable[[], Profile]], Callable[[], Profile]]:
    def wrap(factory: Callable[[], Profile]) -> Callable[[], Profile]:
        _PROFILES[name] = factory
        return factory

    return wrap


def profile_names() -> list[str]:
    return list(_PROFILES)


def load_profile(name: str, *, vision_weights: str | None = None, llm_path: str | None = None,
                 device: str | None = None) -> Profile:
    """A profile by name, with local weight paths and device filled in where given."""
    if name not in _PROFILES:
        raise ProfileError(f"Unknown model profile {name!r}; valid profiles: {', '.join(_PROFILES)}.")
    profile = _PROFILES[name]()
    model = profile.model
    if vision_weights:
        model = replace(model, vision_weights=str(vision_weights))
    if llm_path:
        model = replace(model, llm_path=str(llm_path))
    return replace(profile, model=model, device=device or profile.device)


@register_profile("embedded")
def _embedded() -> Profile:
    return Profile(
        name="embedded",
        description="EfficientNet-Lite0 (ImageNet) + SmolLM2-135M-Instruct — installed with the app, runs anywhere",
        model=ModelConfig(),
    )


@register_profile("full")
def _full() -> Profile:
    return Profile(
        name="full",
        description="The paper's CLIP ViT-L/14 + LLaMA-7B, from local files you provide",
        model=ModelConfig(vision="clip_vit", llm="llama_local", source_width=1024, source_layers=(),
                          width_without_llm=4096),
        preprocess=PreprocessConfig(mean=CLIP_MEAN, std=CLIP_STD),
        batch_size=4,
    )
