"""The exact inference speed-ups (fused conv+BN, channels-last, ONNX Runtime) give the reference networks' outputs
within float rounding."""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from engine.diagnoser import Diagnoser
from engine.model.speedups import SpeedOptions, fuse_conv_bn, speed_up_convnet, speed_up_model
from engine.segment import LungSegmenter, LungUNet
from tests.engine.model_fixtures import tiny_model
from tests.head_factory import make_tiny_head

TOLERANCE = 1e-4  # fp32 rounding after re-association of conv and BN; far below any decision-relevant change


def _randomise_batchnorm(network: nn.Module, seed: int = 0) -> None:
    """Fresh BatchNorms are the identity; random statistics make the fusion do real work."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for module in network.modules():
            if isinstance(module, nn.BatchNorm2d):
                count = module.num_features
                module.running_mean.copy_(torch.randn(count, generator=generator) * 0.1)
                module.running_var.copy_(torch.rand(count, generator=generator) + 0.5)
                module.weight.copy_(torch.rand(count, generator=generator) + 0.5)
                module.bias.copy_(torch.randn(count, generator=generator) * 0.1)


def _batchnorms(network: nn.Module) -> int:
    return sum(isinstance(m, nn.BatchNorm2d) for m in network.modules())


@pytest.fixture(scope="module")
def unet() -> LungUNet:
    torch.manual_seed(0)
    network = LungUNet(pretrained_encoder=False).eval()
    _randomise_batchnorm(network)
    return network


def test_fused_channels_last_segmenter_matches_reference(unet: LungUNet) -> None:
    x = torch.rand(2, 1, 96, 96, generator=torch.Generator().manual_seed(1))
    fast = speed_up_convnet(copy.deepcopy(unet), SpeedOptions())
    assert _batchnorms(unet) > 0 and _batchnorms(fast) == 0  # every BatchNorm folded away
    with torch.inference_mode():
        reference, result = unet(x), fast(x)
    assert result.shape == reference.shape
    assert (result - reference).abs().max().item() < TOLERANCE * max(1.0, reference.abs().max().item())


def test_channels_last_reaches_the_feature_maps(unet: LungUNet) -> None:
    fast = speed_up_convnet(copy.deepcopy(unet), SpeedOptions(fuse_conv_bn=False))
    seen: list[torch.Tensor] = []
    fast.decoder[0].register_forward_hook(lambda _m, _i, out: seen.append(out))
    with torch.inference_mode():
        fast(torch.rand(1, 1, 64, 64))
    assert seen[0].is_contiguous(memory_format=torch.channels_last)
    assert _batchnorms(fast) == _batchnorms(unet)  # fusion was not asked for


def test_fusion_runs_once_and_reference_options_change_nothing(unet: LungUNet) -> None:
    fast = copy.deepcopy(unet)
    assert fuse_conv_bn(fast) == _batchnorms(unet)
    assert fuse_conv_bn(fast) == 0
    untouched = speed_up_convnet(copy.deepcopy(unet), SpeedOptions.reference())
    assert untouched.state_dict().keys() == unet.state_dict().keys()


def test_batchnorm_in_training_mode_is_not_fused() -> None:
    network = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4)).train()
    assert fuse_conv_bn(network) == 0


def test_efficientnet_pneumollm_matches_reference() -> None:
    """The embedded profile's encoder (EfficientNet-Lite0 with its adapters) inside a tiny PneumoLLM."""
    model = tiny_model(vision="efficientnet_lite0", source_width=48).eval()
    _randomise_batchnorm(model)
    with torch.no_grad():
        for name, parameter in model.named_parameters():
            if "adapters" in name:  # zero-initialised adapters would be the identity
                parameter.normal_(0, 0.05, generator=torch.Generator().manual_seed(2))
    fast = speed_up_model(copy.deepcopy(model), SpeedOptions())
    assert _batchnorms(fast.sources) == 0
    x = torch.randn(2, 3, 96, 96, generator=torch.Generator().manual_seed(3))
    with torch.inference_mode():
        reference, result = model(x), fast(x)
        reference_domain, result_domain = model.domain_features(x), fast.domain_features(x)
    assert torch.allclose(torch.softmax(result.logits, -1), torch.softmax(reference.logits, -1), atol=TOLERANCE)
    assert torch.allclose(result.embedding, reference.embedding, atol=TOLERANCE, rtol=1e-4)
    assert torch.allclose(result_domain, reference_domain, atol=TOLERANCE)


def test_diagnoser_with_speedups_gives_the_reference_result(tmp_path: Path, shared_data: Path) -> None:
    """The whole path on a real radiograph: shipped segmenter, crop, model; the exact default speed-ups (all but the
    reduced decode, which is checked for accuracy by ``bench_triage.py``) vs none."""
    path = next(iter(sorted((shared_data / "jsrt" / "images").glob("*.png"))), None)
    if path is None:
        pytest.skip("no JSRT radiograph in the shared data")
    head = make_tiny_head(tmp_path / "head")
    reference = Diagnoser(head, speed=SpeedOptions.reference()).predict(path, allow_flagged=True)
    default = Diagnoser(head, speed=SpeedOptions(reduced_decode=False))
    assert _batchnorms(default.segmenter.network) == 0  # the default is the fast path
    fast = default.predict(path, allow_flagged=True)
    assert abs(fast.probability - reference.probability) < TOLERANCE
    assert fast.lung_crop.box == reference.lung_crop.box
    assert np.mean(fast.lung_mask != reference.lung_mask) < 1e-4  # at most a few boundary pixels of 0.5 ties


def test_cpu_bfloat16_is_opt_in_and_labelled(tmp_path: Path) -> None:
    head = make_tiny_head(tmp_path / "head", with_map=False)
    segmenter = LungSegmenter(weights=None)
    assert Diagnoser(head, device="cpu", segmenter=segmenter).runtime.label == "CPU (fp32)"
    bf16 = Diagnoser(head, device="cpu", segmenter=segmenter, speed=SpeedOptions(cpu_bfloat16=True))
    assert bf16.runtime.label == "CPU (bfloat16)"
    assert next(bf16.model.decoder.parameters()).dtype == torch.bfloat16
