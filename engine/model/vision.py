"""Frozen vision encoders that emit PneumoLLM's source tokens X (B, d, n), with adapters inside.

* ``EfficientNetSources`` (embedded profile): globally pooled features after six increasing depths of
  EfficientNet-Lite0 (the head conv included), each projected to the common width n by a trained Linear.
  Adapters sit at the input of every MBConv block.
* ``ClipSources`` (full profile): the [CLS] token of an open_clip ``VisionTransformer`` after every 4th
  block (raw residual stream; d = 6, n = 1024 for ViT-L/14). Adapters sit before every residual block.

Frozen means: no gradients into backbone weights and BatchNorm statistics never update (the backbone is
kept in eval mode even while the rest trains).
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import torch
from torch import nn

from engine.errors import ModelLoadError
from engine.model.backbones import efficientnet_lite0, freeze
from engine.model.config import ModelConfig
from engine.model.local_weights import check_clip_weights

log = logging.getLogger(__name__)



class Adapter(nn.Module):
    """Bottleneck adapter x + up(act(down(x))); the zero-initialised up-projection makes it start as identity.

    ``conv=True`` works on (B, C, H, W) feature maps with 1x1 convolutions, else on (..., C) tokens.
    """

    def __init__(self, channels: int, dim: int = 8, conv: bool = False) -> None:
        super().__init__()
        layer = (lambda i, o: nn.Conv2d(i, o, 1)) if conv else nn.Linear
        self.down = layer(channels, dim)
        self.act = nn.SiLU()
        self.up = layer(dim, channels)
        nn.init.zeros_(self.up.weight)
        nn.init.zeros_(self.up.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.up(self.act(self.down(x)))


class FrozenBackboneMixin(nn.Module):
    """Keeps ``self.backbone`` in eval mode whatever ``train()`` says (frozen BatchNorm / dropout)."""

    backbone: nn.Module

    def train(self, mode: bool = True) -> FrozenBackboneMixin:
        super().train(mode)
        self.backbone.eval()
        return self


class EfficientNetSources(FrozenBackboneMixin):
    def __init__(self, config: ModelConfig, pretrained: bool = True) -> None:
        super().__init__()
        self.backbone = freeze(efficientnet_lite0(pretrained=pretrained))
        blocks = self.backbone._blocks
        self.taps = tuple(len(blocks) if layer == -1 else layer for layer in config.source_layers)
        channels = [blocks[i]._block_args.output_filters if i < len(blocks) else self.backbone._bn1.num_features
                    for i in self.taps]
        self.adapters = nn.ModuleList(
            Adapter(block._block_args.input_filters, config.adapter_dim, conv=True) for block in blocks
        ) if config.use_adapters else None
        # Trained: pooled features of different widths -> one common width n.
        self.projections = nn.ModuleList(nn.Linear(c, config.source_width) for c in channels)
        self.num_tokens = len(self.taps)
        self.width = config.source_width
        # Set by ``engine.model.speedups.run_on_onnx`` for CPU inference: the frozen encoder on ONNX Runtime.
        self.onnx_pooled: Callable[[torch.Tensor], dict[int, torch.Tensor]] | None = None

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """images (B, 3, S, S), normalised -> source tokens (B, d, n)."""
        pooled = self.pooled_features(images)
        tokens = [projection(pooled[tap]) for projection, tap in zip(self.projections, self.taps, strict=True)]
        return torch.stack(tokens, dim=1)  # (B, d, n)

    def token_names(self) -> list[str]:
        """One name per source token (its encoder depth), for attention plots."""
        blocks = len(self.backbone._blocks)
        return [f"block {tap + 1}" if tap < blocks else "head conv" for tap in self.taps]

    def pooled_features(self, images: torch.Tensor, use_onnx: bool = True) -> dict[int, torch.Tensor]:
        """Globally pooled features at each tapped depth, before projection: {tap: (B, C_tap)}."""
        if use_onnx and self.onnx_pooled is not None and not torch.is_grad_enabled() \
                and images.device.type == "cpu" and images.dtype == torch.float32:
            return self.onnx_pooled(images)  # inference only: gradients and other devices take the PyTorch path
        net = self.backbone
        x = net._swish(net._bn0(net._conv_stem(images)))
        pooled: dict[int, torch.Tensor] = {}
        for index, block in enumerate(net._blocks):
            if self.adapters is not None:
                x = self.adapters[index](x)
            x = block(x)
            if index in self.taps:
                pooled[index] = x.mean(dim=(2, 3))
        if len(net._blocks) in self.taps:
            x = net._swish(net._bn1(net._conv_head(x)))
            pooled[len(net._blocks)] = x.mean(dim=(2, 3))
        return pooled


class ClipSources(FrozenBackboneMixin):
    def __init__(self, config: ModelConfig, visual: nn.Module) -> None:
        super().__init__()
        self.backbone = freeze(visual)
        blocks = visual.transformer.resblocks
        depth, width = len(blocks), visual.transformer.width
        self.take = [i for i in range(depth) if (i + 1) % config.source_every == 0]  # 3, 7, ..., 23
        self.adapters = nn.ModuleList(
            Adapter(width, config.adapter_dim) for _ in blocks
        ) if config.use_adapters else None
        if self.adapters is not None:
            for block, adapter in zip(blocks, self.adapters, strict=True):
                block.register_forward_pre_hook(_adapter_pre_hook(adapter), with_kwargs=True)
        self.num_tokens = len(self.take)
        self.width = width

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        out = self.backbone.forward_intermediates(
            images, indices=self.take, stop_early=True, intermediates_only=True, output_fmt="NLC",
            output_extra_tokens=True,
        )
        return torch.cat(out["image_intermediates_prefix"], dim=1)  # (B, d, n): [CLS] of each tapped block

    def token_names(self) -> list[str]:
        """One name per source token (its transformer layer), for attention plots."""
        return [f"layer {index + 1}" for index in self.take]


def _adapter_pre_hook(adapter: Adapter):
    def hook(_module: nn.Module, args: tuple, kwargs: dict) -> tuple[tuple, dict]:
        return (adapter(args[0]), *args[1:]), kwargs

    return hook


def build_clip_visual(config: ModelConfig) -> nn.Module:
    """An open_clip VisionTransformer: the paper's ViT-L/14 from a local checkpoint, or a tiny random one."""
    import open_clip

    if config.tiny_test_dims:
        dims = config.tiny_test_dims
        from open_clip.transformer import VisionTransformer

        torch.manual_seed(dims.get("seed", 0))
        return VisionTransformer(image_size=dims.get("image", 224), patch_size=dims.get("patch", 32),
                                 width=dims.get("vit_width", 64), layers=dims.get("vit_layers", 8),
                                 heads=dims.get("vit_heads", 4), mlp_ratio=2.0, output_dim=32)
    path = check_clip_weights(config.vision_weights)
    model = open_clip.create_model(config.clip_model_name, pretrained=None)
    try:
        open_clip.load_checkpoint(model, str(path), weights_only=True)
    except Exception as exc:
        raise ModelLoadError(f"The CLIP checkpoint does not fit {config.clip_model_name} "
                             f"({type(exc).__name__}).", path=path) from exc
    return model.visual


def build_sources(config: ModelConfig, pretrained: bool = True) -> nn.Module:
    if config.vision == "efficientnet_lite0":
        return EfficientNetSources(config, pretrained=pretrained)
    if config.vision == "clip_vit":
        return ClipSources(config, build_clip_visual(config))
    raise ModelLoadError(f"Unknown vision encoder {config.vision!r}; valid: efficientnet_lite0, clip_vit.")
