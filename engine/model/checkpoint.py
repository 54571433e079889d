"""Head checkpoints: only the trained weights (safetensors) plus a JSON card; loading never unpickles.

A checkpoint folder holds ``head.safetensors`` and ``head.json``. The JSON names the profile, the model
and preprocessing configs, the class labels, the operating threshold and calibration temperature, the
frozen backbones' fingerprints and a summary of the training data and metrics. A head is refused, with a
message, when it was trained on other backbones than the ones loaded.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from engine.errors import ModelLoadError
from engine.model.config import ModelConfig, PreprocessConfig
from engine.paths import write_atomic

WEIGHTS_NAME = "head.safetensors"
META_NAME = "head.json"
FORMAT_VERSION = 1


@dataclass
class HeadCheckpoint:
    folder: Path
    meta: dict[str, Any]
    state: dict[str, torch.Tensor]

    @property
    def model_config(self) -> ModelConfig:
        return ModelConfig.from_json(self.meta["model"])

    @property
    def preprocess(self) -> PreprocessConfig:
        data = self.meta.get("preprocess", {})
        default = PreprocessConfig()
        return PreprocessConfig(input_size=int(data.get("input_size", default.input_size)),
                                mean=tuple(data.get("mean", default.mean)), std=tuple(data.get("std", default.std)))

    @property
    def labels(self) -> tuple[str, ...]:
        return tuple(self.meta["labels"])

    @property
    def positive_index(self) -> int:
        return int(self.meta.get("positive_index", 1))

    @property
    def threshold(self) -> float:
        return float(self.meta.get("threshold", 0.5))

    @property
    def temperature(self) -> float:
        return float(self.meta.get("temperature", 1.0))

    @property
    def baseline(self) -> bool:
        return bool(self.meta.get("baseline", False))

    @property
    def model_id(self) -> str:
        return str(self.meta.get("model_id", ""))


def save_checkpoint(folder: Path, state: dict[str, torch.Tensor], meta: dict[str, Any]) -> Path:
    """Save trained weights + card atomically (weights first: the JSON's presence marks completeness)."""
    from safetensors.torch import save

    folder = Path(folder)
    tensors = {k: v.detach().float().contiguous().cpu() if v.is_floating_point() else v.detach().contiguous().cpu()
               for k, v in state.items()}
    blob = save(tensors, metadata={"format": "pt"})
    import hashlib

    meta = {"format_version": FORMAT_VERSION, **meta, "model_id": hashlib.sha256(blob).hexdigest()[:16]}
    write_atomic(folder / WEIGHTS_NAME, blob)
    write_atomic(folder / META_NAME, json.dumps(meta, indent=2, default=_json_default).encode())
    return folder


def load_checkpoint(folder: str | Path) -> HeadCheckpoint:
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    folder = Path(folder)
    meta_file, weights_file = folder / META_NAME, folder / WEIGHTS_NAME
    if not meta_file.exists() or not weights_file.exists():
        raise ModelLoadError(
            f"No trained head in {folder} (expected {WEIGHTS_NAME} and {META_NAME}) — train one with "
            "`pneumollm train` or install the default head.", path=folder)
    try:
        meta = json.loads(meta_file.read_text())
    except (OSError, ValueError):
        raise ModelLoadError(f"{META_NAME} is damaged — reinstall or retrain this head.", path=folder) from None
    if not isinstance(meta, dict) or "model" not in meta or "labels" not in meta:
        raise ModelLoadError(f"{META_NAME} is not a PneumoLLM head card.", path=folder)
    try:
        state = load_file(str(weights_file))
    except (SafetensorError, OSError, ValueError):
        raise ModelLoadError(f"{WEIGHTS_NAME} is damaged — reinstall or retrain this head.", path=folder) from None
    return HeadCheckpoint(folder, meta, state)


def apply_checkpoint(model: nn.Module, checkpoint: HeadCheckpoint, fingerprints: dict[str, str]) -> None:
    """Load trained weights into ``model`` after checking it has the backbones the head was trained on."""
    expected = checkpoint.meta.get("fingerprints", {})
    for part, value in expected.items():
        if fingerprints.get(part) != value:
            raise ModelLoadError(
                f"This head was trained on a different {part} backbone than the one loaded "
                f"(profile {checkpoint.meta.get('profile', '?')}) — choose the matching profile and weights.",
                path=checkpoint.folder)
    own = model.trained_state_dict()  # type: ignore[operator]
    missing = set(own) - set(checkpoint.state)
    unexpected = set(checkpoint.state) - set(own)
    wrong_shape = [k for k in set(own) & set(checkpoint.state) if own[k].shape != checkpoint.state[k].shape]
    if missing or unexpected or wrong_shape:
        raise ModelLoadError(
            f"This head does not fit the model ({len(missing)} missing, {len(unexpected)} unexpected, "
            f"{len(wrong_shape)} mis-shaped tensors) — it belongs to another profile or version.",
            path=checkpoint.folder)
    with torch.no_grad():
        result = model.load_state_dict(checkpoint.state, strict=False)
    assert not result.unexpected_keys, result.unexpected_keys


def _json_default(value: Any) -> Any:
    if isinstance(value, Path):
        return str(value)
    if hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, tuple):
        return list(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")
