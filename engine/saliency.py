"""Where in the image the model looked: Grad-CAM on the vision encoder for the positive class.

The emitter's attention is over encoder depths (source tokens), not over image regions, so the image overlay
needs its own method. Grad-CAM (Selvaraju et al. 2017) weights the encoder's last spatial feature map by the
gradient of the positive logit; the 224x224 map is then put back into the original image through the lung
crop's rectangle.
"""

from __future__ import annotations

import numpy as np
import torch
from PIL import Image
from torch import nn

from engine.diagnoser import Diagnoser, DiagnosisResult
from engine.model import BaselineCNN
from engine.preprocess import crop_to_tensor
from engine.vision import ClipSources, EfficientNetSources


def _target(model: nn.Module) -> tuple[nn.Module, str]:
    """The module whose output is the last spatial feature map, and how to read it."""
    if isinstance(model, BaselineCNN):
        return model.backbone._swish, "last-call"
    sources = model.sources
    if isinstance(sources, EfficientNetSources):
        return sources.backbone._swish, "last-call"  # shared by stem and head: the head's call comes last
    if isinstance(sources, ClipSources):
        return sources.backbone.transformer.resblocks[sources.take[-1]], "tokens"
    raise TypeError(f"no Grad-CAM target for {type(sources).__name__}")


def grad_cam(diagnoser: Diagnoser, result: DiagnosisResult) -> np.ndarray:
    """A (H, W) float32 map in [0, 1] over the original image (zero outside the lung crop)."""
    model = diagnoser.model
    device = diagnoser.runtime.device
    module, kind = _target(model)
    captured: list[torch.Tensor] = []

    def hook(_module: nn.Module, _inputs: tuple, output: torch.Tensor) -> None:
        output.retain_grad()
        captured.append(output)

    handle = module.register_forward_hook(hook)
    try:
        x = crop_to_tensor(result.lung_crop.crop, diagnoser.preprocess).unsqueeze(0).to(device)
        x.requires_grad_(True)  # so every activation carries a gradient, adapters or not
        with torch.enable_grad(), diagnoser.runtime.autocast():
            logits = model(x).logits
        logits[0, result.positive_index].float().backward()
    finally:
        handle.remove()
        model.zero_grad(set_to_none=True)
    activation = captured[-1]
    gradient = activation.grad
    if kind == "tokens":  # (1, 1 + h*w, C) -> (1, C, h, w), dropping the [CLS] token
        side = int(round((activation.shape[1] - 1) ** 0.5))
        activation = activation[:, 1:].transpose(1, 2).reshape(1, -1, side, side)
        gradient = gradient[:, 1:].transpose(1, 2).reshape(1, -1, side, side)
    weights = gradient.float().mean(dim=(2, 3), keepdim=True)
    cam = torch.relu((weights * activation.float()).sum(dim=1))[0].detach().cpu().numpy()
    if cam.max() > 0:
        cam = cam / cam.max()
    return place_in_image(cam.astype(np.float32), result)


def place_in_image(cam: np.ndarray, result: DiagnosisResult) -> np.ndarray:
    height, width = result.lung_crop.mask.shape
    x0, y0, x1, y1 = result.lung_crop.box
    resized = np.asarray(Image.fromarray(cam, mode="F").resize((max(1, x1 - x0), max(1, y1 - y0)), Image.BILINEAR))
    full = np.zeros((height, width), np.float32)
    full[y0:y1, x0:x1] = np.clip(resized, 0.0, 1.0)
    return full
