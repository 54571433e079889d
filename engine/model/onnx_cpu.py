"""The frozen convnets (lung segmenter, EfficientNet encoder with its adapters) on ONNX Runtime, CPU inference only.

Measured on this project's AVX2 CPU, fp32, outputs equal to PyTorch within ~1e-5: ONNX Runtime runs the 256x256
U-Net and EfficientNet-Lite0 2-3x faster than PyTorch's fused channels-last path (README, "Performance").
PyTorch stays the training path and the CUDA path; int8 quantisation is not offered (inaccurate on that CPU).

A network is exported once (TorchScript exporter, no download) into the user's cache folder, keyed by a hash of
its weights, the input shape and the library versions, so a new head or new segmentation weights get a new export
and an unchanged one is reused. When ONNX Runtime is missing or the export fails, the caller keeps PyTorch and the
log says why.
"""

from __future__ import annotations

import hashlib
import logging
import warnings
from collections.abc import Callable

import numpy as np
import torch
from torch import nn

from engine.paths import cache_dir, write_atomic

log = logging.getLogger(__name__)

EXPORT_VERSION = 1  # bump when the export recipe changes, so old cache files are not reused
OPSET = 17


class OnnxNetwork:
    """A frozen network as an ONNX Runtime session: float32 array in, float32 arrays out.

    The batch dimension is dynamic; the spatial size is fixed per export, and another size gets its own export
    (the segmenter always sees 256x256 and the encoder the head's input size, so in practice one each).
    """

    def __init__(self, name: str, module: nn.Module, outputs: int) -> None:
        import onnxruntime  # noqa: F401 - fail here, at construction, when it is missing

        self.name = name
        self.module = module
        self.outputs = outputs
        self.weights_key = weights_hash(module)
        self._sessions: dict[tuple[int, ...], object] = {}

    def __call__(self, x: np.ndarray) -> list[np.ndarray]:
        x = np.ascontiguousarray(x, dtype=np.float32)
        session = self._sessions.get(x.shape[1:])
        if session is None:
            session = self._sessions[x.shape[1:]] = self._session(x.shape[1:])
        return session.run(None, {"input": x})  # type: ignore[attr-defined]

    def prepare(self, sample_shape: tuple[int, ...]) -> None:
        """Export (or find in the cache) and load the session for inputs of shape (B, *sample_shape) now."""
        if sample_shape not in self._sessions:
            self._sessions[sample_shape] = self._session(sample_shape)

    def _session(self, sample_shape: tuple[int, ...]) -> object:
        import onnxruntime as ort

        key = hashlib.sha256(f"{self.weights_key}|{sample_shape}|{torch.__version__}|{ort.__version__}|"
                             f"{EXPORT_VERSION}".encode()).hexdigest()[:20]
        threads = max(1, torch.get_num_threads())  # the process's thread budget
        session = _SESSIONS.get((key, threads))
        if session is not None:  # the same weights already loaded in this process (a second Diagnoser)
            return session
        path = cache_dir() / "onnx" / f"{self.name}-{key}.onnx"
        if not path.exists():
            write_atomic(path, export_bytes(self.module, (2, *sample_shape), self.outputs))
            log.info("exported %s to ONNX (%s)", self.name, path.name)
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")  # a shared CPU: do not spin
        session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        _SESSIONS[(key, threads)] = session
        return session


# Loaded sessions by (export key, threads); ONNX Runtime sessions may be run from several threads at once.
_SESSIONS: dict[tuple[str, int], object] = {}


def export_bytes(module: nn.Module, example_shape: tuple[int, ...], outputs: int) -> bytes:
    """The module as an ONNX model (dynamic batch), exported with the TorchScript exporter."""
    import io

    buffer = io.BytesIO()
    names = [f"output{i}" for i in range(outputs)]
    example = torch.rand(example_shape, generator=torch.Generator().manual_seed(0))
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")  # the exporter's tracer warnings concern shapes we keep fixed
        torch.onnx.export(module, (example,), buffer, dynamo=False, opset_version=OPSET, input_names=["input"],
                          output_names=names, dynamic_axes={name: {0: "batch"} for name in ["input", *names]})
    return buffer.getvalue()


def weights_hash(module: nn.Module) -> str:
    """A hash of every parameter and buffer (names, shapes, values): what decides whether an export is current."""
    digest = hashlib.sha256()
    for name, tensor in module.state_dict().items():
        value = tensor.detach().to("cpu", torch.float32).contiguous()
        digest.update(f"{name}:{tuple(value.shape)};".encode())
        digest.update(value.numpy().tobytes())
    return digest.hexdigest()


def onnx_or_none(name: str, module: nn.Module, outputs: int, sample_shape: tuple[int, ...]) -> OnnxNetwork | None:
    """An ``OnnxNetwork`` ready for ``sample_shape`` inputs, or None (logged) when ONNX Runtime is missing or the
    export fails: the caller then runs the network in PyTorch."""
    try:
        network = OnnxNetwork(name, module, outputs)
        network.prepare(sample_shape)
    except ImportError:
        log.info("onnxruntime is not installed: %s runs in PyTorch", name)
        return None
    except Exception as exc:  # noqa: BLE001 - any export or session failure falls back to the PyTorch path
        log.warning("ONNX Runtime unavailable for %s (%s: %s): running it in PyTorch", name, type(exc).__name__, exc)
        return None
    return network


class PooledFeatures(nn.Module):
    """``EfficientNetSources.pooled_features`` as a module with one output per tapped depth (for the export)."""

    def __init__(self, sources: nn.Module) -> None:
        super().__init__()
        self.sources = sources

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, ...]:
        pooled = self.sources.pooled_features(images, use_onnx=False)
        return tuple(pooled[tap] for tap in self.sources.taps)


def pooled_features_runner(sources: nn.Module, input_size: int) -> Callable[[torch.Tensor], dict[int, torch.Tensor]
                                                                             ] | None:
    """The encoder's pooled features on ONNX Runtime, as ``EfficientNetSources.pooled_features`` returns them."""
    network = onnx_or_none("encoder", PooledFeatures(sources).eval(), len(sources.taps), (3, input_size, input_size))
    if network is None:
        return None
    taps = tuple(sources.taps)

    def run(images: torch.Tensor) -> dict[int, torch.Tensor]:
        outputs = network(images.detach().cpu().numpy())
        return {tap: torch.from_numpy(output) for tap, output in zip(taps, outputs, strict=True)}

    run.network = network  # type: ignore[attr-defined] - for tests and benchmarks
    return run

