"""Where in the image the model looked: Grad-CAM on the vision encoder for the positive class.

The emitter's attention is over encoder depths (source tokens), not over image regions, so the image overlay
needs its own method. Grad-CAM (Selvaraju et al. 2017) weights the encoder's last spatial feature map by the
gradient of the positive logit, sums over channels and keeps the positive part; the map on the 224x224 crop
is then put back into the original image through the lung crop's rectangle.

Which feature map:

* EfficientNet-Lite0 (embedded profile, and the baseline CNN): the head conv's output after ``_bn1`` and the
  activation, 7x7 for a 224 input.
* CLIP ViT (full profile): the patch tokens entering the last tapped block, reshaped to the patch grid. The
  model reads only the [CLS] token of each tapped block, so the patch tokens that *leave* that block never
  reach the logit (their gradient is zero); the ones entering it are the last spatial map that does.

Engine code: no Qt. Runs a forward with gradients (the model stays in eval mode) and leaves no gradients
behind on the parameters.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from PIL import Image
from torch import nn

from engine.diagnoser import Diagnoser
from engine.lung_crop import LungCrop
from engine.model.pneumollm import BaselineCNN
from engine.model.vision import ClipSources, EfficientNetSources
from engine.preprocess import PreparedCase, crop_to_tensor
from engine.result import DiagnosisResult

Capture = Callable[[list[torch.Tensor]], torch.utils.hooks.RemovableHandle]


def _capture_output(module: nn.Module) -> Capture:
    """Record every output of ``module`` (the last call is the one we want)."""

    def register(store: list[torch.Tensor]) -> torch.utils.hooks.RemovableHandle:
        def hook(_module: nn.Module, _inputs: tuple, output: torch.Tensor) -> None:
            if output.requires_grad:
                output.retain_grad()
            store.append(output)

        return module.register_forward_hook(hook)

    return register


def _capture_input(module: nn.Module) -> Capture:
    """Record the first positional input of ``module`` (after earlier pre-hooks, e.g. adapters, ran)."""

    def register(store: list[torch.Tensor]) -> torch.utils.hooks.RemovableHandle:
        def hook(_module: nn.Module, args: tuple, kwargs: dict) -> None:
            tensor = args[0] if args else kwargs.get("q_x", kwargs.get("x"))
            if tensor.requires_grad:
                tensor.retain_grad()
            store.append(tensor)

        return module.register_forward_pre_hook(hook, with_kwargs=True)

    return register


def _target(model: nn.Module) -> tuple[Capture, str]:
    """How to capture the encoder's last spatial feature map, and its layout ("map" or "tokens")."""
    if isinstance(model, BaselineCNN):
        return _capture_output(model.backbone._swish), "map"
    sources = getattr(model, "sources", None)
    if isinstance(sources, EfficientNetSources):
        # ``_swish`` is shared by the stem and the head; the head's call (conv_head -> bn1 -> act) comes last.
        return _capture_output(sources.backbone._swish), "map"
    if isinstance(sources, ClipSources):
        return _capture_input(sources.backbone.transformer.resblocks[sources.take[-1]]), "tokens"
    raise TypeError(f"no Grad-CAM target for {type(sources).__name__}")


def _tokens_to_map(tokens: torch.Tensor) -> torch.Tensor:
    """ViT tokens (1, 1 + h*w, C) — or (1 + h*w, 1, C) for sequence-first blocks — -> (1, C, h, w)."""
    if tokens.shape[0] != 1 and tokens.shape[1] == 1:
        tokens = tokens.transpose(0, 1)
    patches = tokens.shape[1] - 1
    side = int(round(patches**0.5))
    if side * side != patches:
        raise ValueError(f"cannot lay {patches} patch tokens on a square grid")
    return tokens[:, 1:].transpose(1, 2).reshape(1, -1, side, side)


def grad_cam(diagnoser: Diagnoser, case: DiagnosisResult | PreparedCase) -> np.ndarray:
    """Grad-CAM for the positive class, as a (H, W) float32 map in [0, 1] over the original image.

    ``case`` is a ``DiagnosisResult`` (its 224x224 lung crop is re-normalised) or a ``PreparedCase`` (its
    tensor is used as is). The map is zero outside the lung crop's rectangle, and all zero when no region
    pushes the positive logit up.
    """
    model = diagnoser.model
    runtime = diagnoser.runtime
    if isinstance(case, PreparedCase):
        tensor, lung_crop = case.tensor, case.lung_crop
    else:
        tensor, lung_crop = crop_to_tensor(case.lung_crop.crop, diagnoser.preprocess), case.lung_crop
    register, layout = _target(model)
    captured: list[torch.Tensor] = []
    was_training = model.training
    model.eval()
    handle = register(captured)
    try:
        x = tensor.unsqueeze(0).to(runtime.device)
        x.requires_grad_(True)  # every activation then carries a gradient, even in frozen backbones
        with torch.enable_grad(), runtime.autocast():
            logits = model(x).logits  # (1, classes)
        if not captured:
            raise RuntimeError("the Grad-CAM hook saw no feature map")
        logits[0, diagnoser.card.positive_index].float().backward()
        activation, gradient = captured[-1], captured[-1].grad
        if gradient is None:
            raise RuntimeError("no gradient reached the Grad-CAM feature map")
        if layout == "tokens":
            activation, gradient = _tokens_to_map(activation), _tokens_to_map(gradient)
        weights = gradient.float().mean(dim=(2, 3), keepdim=True)  # (1, C, 1, 1)
        cam = torch.relu((weights * activation.float()).sum(dim=1))[0].detach().cpu().numpy()  # (h, w)
    finally:
        handle.remove()
        model.zero_grad(set_to_none=True)
        model.train(was_training)
    full = place_in_image(cam.astype(np.float32), lung_crop)
    top = float(full.max())
    return full / np.float32(top) if top > 0 else full


def place_in_image(cam: np.ndarray, lung_crop: LungCrop | DiagnosisResult) -> np.ndarray:
    """Resize a crop-space map into the crop's rectangle of a zero (H, W) image."""
    if isinstance(lung_crop, DiagnosisResult):
        lung_crop = lung_crop.lung_crop
    height, width = lung_crop.mask.shape
    x0, y0, x1, y1 = (int(v) for v in lung_crop.box)
    x0, y0, x1, y1 = max(0, x0), max(0, y0), min(width, x1), min(height, y1)
    full = np.zeros((height, width), np.float32)
    if x1 <= x0 or y1 <= y0:
        return full
    picture = Image.fromarray(np.ascontiguousarray(cam, np.float32))  # mode "F"
    resized = np.asarray(picture.resize((x1 - x0, y1 - y0), Image.Resampling.BILINEAR))
    full[y0:y1, x0:x1] = np.clip(resized, 0.0, 1.0)
    return full
