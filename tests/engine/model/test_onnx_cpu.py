"""The frozen convnets on ONNX Runtime (``engine.model.onnx_cpu``) against PyTorch: outputs, the export cache keyed by
the weights, and the fall-back to PyTorch when ONNX Runtime is missing."""

from __future__ import annotations

import copy
import logging
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from engine.model import onnx_cpu
from engine.model.speedups import SpeedOptions, run_encoder_on_onnx
from engine.segment import LungSegmenter
from tests.engine.model_fixtures import tiny_model

pytest.importorskip("onnxruntime")

TOLERANCE = 1e-4  # fp32 rounding of a different kernel library; far below any decision-relevant change


@pytest.fixture
def own_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("PNEUMOLLM_CACHE", str(tmp_path))
    monkeypatch.setattr(onnx_cpu, "_SESSIONS", {})  # no session loaded by another test
    return tmp_path / "onnx"


def _images(count: int, seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.integers(0, 256, (300 + 7 * i, 280), dtype=np.uint8) for i in range(count)]


def test_segmenter_on_onnx_runtime_matches_pytorch(own_cache: Path) -> None:
    fast = LungSegmenter()
    assert fast.onnx is not None
    torch_only = LungSegmenter(speed=SpeedOptions(onnx_runtime=False))
    assert torch_only.onnx is None
    images = _images(3)
    assert np.abs(fast.probabilities(images) - torch_only.probabilities(images)).max() < TOLERANCE
    assert [path.name.split("-")[0] for path in own_cache.iterdir()] == ["segmenter"]


def _efficientnet_model(seed: int):
    model = tiny_model(vision="efficientnet_lite0", source_width=48).eval()
    with torch.no_grad():
        for name, parameter in model.named_parameters():
            if "adapters" in name:  # zero-initialised adapters would be the identity
                parameter.normal_(0, 0.05, generator=torch.Generator().manual_seed(seed))
    return model


def test_encoder_with_adapters_on_onnx_runtime_matches_pytorch(own_cache: Path) -> None:
    model = _efficientnet_model(2)
    fast = copy.deepcopy(model)
    assert run_encoder_on_onnx(fast, 96)
    x = torch.randn(2, 3, 96, 96, generator=torch.Generator().manual_seed(3))
    with torch.inference_mode():
        reference, result = model(x), fast(x)
        reference_domain, result_domain = model.domain_features(x), fast.domain_features(x)
    assert torch.allclose(torch.softmax(result.logits, -1), torch.softmax(reference.logits, -1), atol=TOLERANCE)
    assert torch.allclose(result.embedding, reference.embedding, atol=TOLERANCE, rtol=1e-4)
    assert torch.allclose(result_domain, reference_domain, atol=TOLERANCE)
    with torch.enable_grad():  # training never goes through ONNX Runtime: gradients reach the adapters
        fast.train()
        fast(x).logits.sum().backward()
    assert any(p.grad is not None for n, p in fast.named_parameters() if "adapters" in n)


def test_export_is_cached_by_the_weights(own_cache: Path) -> None:
    first = _efficientnet_model(2)
    assert run_encoder_on_onnx(first, 64)
    exports = sorted(own_cache.iterdir())
    assert len(exports) == 1
    onnx_cpu._SESSIONS.clear()
    assert run_encoder_on_onnx(copy.deepcopy(first), 64)  # the same head again: the same file, not re-exported
    assert sorted(own_cache.iterdir()) == exports
    other = _efficientnet_model(5)  # another head (other adapters): its own export
    assert run_encoder_on_onnx(other, 64)
    assert len(list(own_cache.iterdir())) == 2


def test_without_onnxruntime_pytorch_runs_the_networks(own_cache: Path, monkeypatch: pytest.MonkeyPatch,
                                                       caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # import fails as if it were not installed
    with caplog.at_level(logging.INFO, logger="engine.model.onnx_cpu"):
        segmenter = LungSegmenter()
        model = _efficientnet_model(2)
        assert not run_encoder_on_onnx(model, 64)
    assert segmenter.onnx is None and model.sources.onnx_pooled is None
    assert "onnxruntime is not installed" in caplog.text
    assert segmenter.probabilities(_images(1)).shape == (1, 256, 256)


def test_a_failed_export_falls_back_with_a_warning(own_cache: Path, monkeypatch: pytest.MonkeyPatch,
                                                   caplog: pytest.LogCaptureFixture) -> None:
    def broken(*_args: object, **_kwargs: object) -> bytes:
        raise RuntimeError("exporter says no")

    monkeypatch.setattr(onnx_cpu, "export_bytes", broken)
    with caplog.at_level(logging.WARNING, logger="engine.model.onnx_cpu"):
        assert LungSegmenter().onnx is None
    assert "exporter says no" in caplog.text and "PyTorch" in caplog.text
