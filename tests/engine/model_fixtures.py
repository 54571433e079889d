"""Tiny random backbones of the real classes (open_clip VisionTransformer, transformers LlamaModel)."""

from __future__ import annotations

from dataclasses import replace

import torch

from engine.model.config import ModelConfig
from engine.model.pneumollm import PneumoLLM, build_model

TINY_DIMS = {"vit_width": 48, "vit_layers": 8, "vit_heads": 4, "patch": 32, "llm_width": 64, "llm_layers": 2,
             "llm_heads": 4, "llm_kv_heads": 2, "llm_ffn": 96, "seed": 0}
TINY = ModelConfig(vision="clip_vit", llm="tiny_llama", source_width=48, width_without_llm=64, tiny_test_dims=TINY_DIMS)


def tiny_model(**changes: object) -> PneumoLLM:
    torch.manual_seed(1)
    model = build_model(replace(TINY, **changes), pretrained=False)
    assert isinstance(model, PneumoLLM)
    return model


def images(batch: int, seed: int = 0) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    return torch.randn(batch, 3, 224, 224, generator=generator)
