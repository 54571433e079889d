"""Inference-only speed-ups of the frozen convolutional networks (lung segmenter, EfficientNet encoder).

* Conv + BatchNorm fusion: in eval mode a BatchNorm is a fixed per-channel affine map, so it folds into the
  weights and bias of the convolution that feeds it (``torch.nn.utils.fusion.fuse_conv_bn_weights``) and one
  full pass over every feature map disappears.
* Channels-last (NHWC): oneDNN's fastest CPU convolutions (depthwise ones above all) work on NHWC; with NCHW
  tensors every convolution reorders its input and output.

Both are exact up to float rounding (``tests/engine/model/test_speedups.py`` checks them against the reference
network; ``benchmarks/bench_triage.py`` prints the speed and max |delta p| / AUC on real radiographs).

bfloat16 on the CPU is opt-in (``cpu_bfloat16``: the CUDA path's own mixed precision — frozen LLM stored in bf16,
the rest under autocast — on the CPU): an earlier attempt found it outside the accuracy tolerance, and CPUs without
native bf16 (AVX2 only) emulate it (``bench_triage.py --check-bf16`` measures accuracy and speed).

ONNX Runtime (``onnx_runtime``, CPU fp32 only): the segmenter and the EfficientNet encoder (with the head's trained
adapters) are exported once per weights and run on ONNX Runtime (``engine.model.onnx_cpu``), equal to PyTorch within
float rounding and 2-3x faster on this project's CPU; without onnxruntime, or if the export fails, PyTorch runs them.

Reduced decoding (``reduced_decode``, on by default): files the Diagnoser opens by path are decoded at 1/2, 1/4 or
1/8 of their size where that keeps the shorter side >= ~500 px and the lung box large enough for the crop
(``engine.io.reduced``, ``engine.preprocess.model_min_side``); a film the viewer decoded in full for the screen is
decoded again that way for the model (``Diagnoser.model_image``), so a file gets the same score on screen, in triage
and from the PACS node. Not exact against full decodes (a JPEG 2000 LL band or a DCT-scaled JPEG is not the full
image, a box found on fewer pixels moves by a pixel or two): ``bench_triage.py`` holds it to median |delta p| <= 0.01,
decisions flipped on <= 1 % of the radiographs and every labelled set's AUC within 0.005, which the shipped head passes
since full-size films are presented at the training films' size (``engine.presentation``; README, "Performance").
``SpeedOptions(reduced_decode=False)`` decodes every file in full.

Fusing changes the backbone's state dict (BatchNorm buffers gone, conv biases added): apply it after the
checkpoint's backbone fingerprints were checked, and never to a model that is about to be trained or saved.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
from torch.nn.utils.fusion import fuse_conv_bn_weights

# EfficientNet(-Lite) modules call conv and BN by name rather than through an nn.Sequential:
# stem (_conv_stem -> _bn0), MBConv (_expand_conv -> _bn0, _depthwise_conv -> _bn1, _project_conv -> _bn2),
# head (_conv_head -> _bn1). Each pair is looked up inside one module, so a block's _bn0 is never confused
# with the stem's.
_NAMED_PAIRS = (("_conv_stem", "_bn0"), ("_expand_conv", "_bn0"), ("_depthwise_conv", "_bn1"),
                ("_project_conv", "_bn2"), ("_conv_head", "_bn1"))


@dataclass(frozen=True)
class SpeedOptions:
    """How the frozen networks run at inference; the defaults are the measured, accuracy-checked ones."""

    fuse_conv_bn: bool = True  # fold eval-mode BatchNorm into the preceding convolution
    channels_last: bool = True  # NHWC memory format for the convolutional networks
    cpu_bfloat16: bool = False  # CPU only: frozen LLM in bf16, the rest under bf16 autocast (opt-in, see above)
    onnx_runtime: bool = True  # CPU fp32 only: segmenter and EfficientNet encoder on ONNX Runtime
    reduced_decode: bool = True  # files decoded for the model at the resolution it needs (see above)

    @classmethod
    def reference(cls) -> SpeedOptions:
        """Everything off: the networks exactly as built (the accuracy check's reference)."""
        return cls(fuse_conv_bn=False, channels_last=False, cpu_bfloat16=False, onnx_runtime=False,
                   reduced_decode=False)

    def describe(self) -> str:
        names = ("fuse_conv_bn", "channels_last", "cpu_bfloat16", "onnx_runtime", "reduced_decode")
        on = [name for name in names if getattr(self, name)]
        return "+".join(on) or "reference"


def speed_up_convnet(network: nn.Module, options: SpeedOptions) -> nn.Module:
    """Apply the convolutional speed-ups to a frozen, eval-mode network in place; returns it."""
    if options.fuse_conv_bn:
        fuse_conv_bn(network)
    if options.channels_last:
        to_channels_last(network)
    return network


def fuse_conv_bn(root: nn.Module) -> int:
    """Fold every eval-mode BatchNorm2d into the Conv2d that feeds it, in place. Returns how many were fused.

    Pairs are adjacent entries of an ``nn.Sequential`` or EfficientNet's named pairs (``_NAMED_PAIRS``); a
    BatchNorm in training mode is left alone (its statistics still move). Running it twice fuses nothing more.
    """
    fused = 0
    for module in list(root.modules()):
        if isinstance(module, nn.Sequential):
            names = list(module._modules)
            for conv_name, bn_name in zip(names, names[1:], strict=False):
                fused += _fuse_pair(module, conv_name, bn_name)
        for conv_name, bn_name in _NAMED_PAIRS:
            fused += _fuse_pair(module, conv_name, bn_name)
    return fused


def _fuse_pair(parent: nn.Module, conv_name: str, bn_name: str) -> int:
    conv, bn = parent._modules.get(conv_name), parent._modules.get(bn_name)
    if not (isinstance(conv, nn.Conv2d) and isinstance(bn, nn.BatchNorm2d)):
        return 0
    if bn.training or bn.running_mean is None or bn.running_var is None or conv.out_channels != bn.num_features:
        return 0
    weight, bias = fuse_conv_bn_weights(conv.weight, conv.bias, bn.running_mean, bn.running_var, bn.eps,
                                        bn.weight, bn.bias)
    conv.weight, conv.bias = weight, bias
    parent._modules[bn_name] = nn.Identity()
    return 1


def to_channels_last(network: nn.Module) -> nn.Module:
    """NHWC weights, and an NHWC input for the first convolution so every later layer stays NHWC."""
    network.to(memory_format=torch.channels_last)
    first = next((m for m in network.modules() if isinstance(m, nn.Conv2d)), None)
    if first is not None and not getattr(first, "_channels_last_input", False):
        first.register_forward_pre_hook(_channels_last_input)
        first._channels_last_input = True  # once per network, however often this runs
    return network


def _channels_last_input(_module: nn.Module, args: tuple) -> tuple:
    x = args[0]
    if x.dim() == 4:
        x = x.contiguous(memory_format=torch.channels_last)
    return (x, *args[1:])


def speed_up_model(model: nn.Module, options: SpeedOptions) -> nn.Module:
    """Apply the convolutional speed-ups to a PneumoLLM's EfficientNet encoder (with its adapters) or the baseline
    CNN's backbone. A ViT encoder has no BatchNorm and no convolution worth NHWC: it is left as it is."""
    target = getattr(model, "sources", None)
    if target is None:
        target = getattr(model, "backbone", None)
    if target is not None and any(isinstance(m, nn.BatchNorm2d) for m in target.modules()):
        speed_up_convnet(target, options)
    return model


def run_encoder_on_onnx(model: nn.Module, input_size: int) -> bool:
    """Run a PneumoLLM's frozen EfficientNet encoder (adapters included) on ONNX Runtime for CPU inference.

    Call it after the head's weights are in (the export is keyed by them). Returns whether it took; a ViT encoder
    or the baseline CNN stays on PyTorch."""
    from engine.model.vision import EfficientNetSources

    sources = getattr(model, "sources", None)
    if not isinstance(sources, EfficientNetSources):
        return False
    from engine.model.onnx_cpu import pooled_features_runner

    sources.onnx_pooled = None  # export the PyTorch network, never a previous session
    sources.onnx_pooled = pooled_features_runner(sources, input_size)
    return sources.onnx_pooled is not None
