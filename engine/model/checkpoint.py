"""Head checkpoints: only the trained weights (safetensors) plus the head card; loading never unpickles.

A checkpoint folder holds ``head.safetensors`` and ``head.json`` (``engine.model.head_card``). A head is
refused, with a message, when it was trained on other backbones than the ones loaded.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, replace
from pathlib import Path

import torch
from torch import nn

from engine.errors import ModelLoadError
from engine.model.head_card import CARD_NAME, FORMAT_VERSION, HeadCard, load_head_card
from engine.paths import write_atomic

WEIGHTS_NAME = "head.safetensors"
META_NAME = CARD_NAME


@dataclass(frozen=True)
class HeadCheckpoint:
    folder: Path
    card: HeadCard
    state: dict[str, torch.Tensor]


def save_checkpoint(folder: Path, state: dict[str, torch.Tensor], card: HeadCard) -> Path:
    """Save trained weights + card atomically (weights first: the card's presence marks completeness).

    The card's ``model_id`` is set from the weights' bytes; ``format_version`` to this version's.
    """
    from safetensors.torch import save

    folder = Path(folder)
    tensors = {k: v.detach().float().contiguous().cpu() if v.is_floating_point() else v.detach().contiguous().cpu()
               for k, v in state.items()}
    blob = save(tensors, metadata={"format": "pt"})
    card = replace(card, model_id=hashlib.sha256(blob).hexdigest()[:16], format_version=FORMAT_VERSION)
    write_atomic(folder / WEIGHTS_NAME, blob)
    write_card(folder, card)
    return folder


def write_card(folder: Path, card: HeadCard) -> None:
    write_atomic(Path(folder) / CARD_NAME, json.dumps(card.to_json(), indent=2).encode())


def load_checkpoint(folder: str | Path) -> HeadCheckpoint:
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    folder = Path(folder)
    card = load_head_card(folder)
    weights_file = folder / WEIGHTS_NAME
    if not weights_file.exists():
        raise ModelLoadError(f"The head in {folder} has no {WEIGHTS_NAME} — reinstall or retrain it.", path=folder)
    try:
        state = load_file(str(weights_file))
    except (SafetensorError, OSError, ValueError):
        raise ModelLoadError(f"{WEIGHTS_NAME} is damaged — reinstall or retrain this head.", path=folder) from None
    if card.format_version < 2:  # format 1 named the token engine's weights ``engine.*``
        state = {("token_" + k if k.startswith("engine.") else k): v for k, v in state.items()}
    return HeadCheckpoint(folder, card, state)


def apply_checkpoint(model: nn.Module, checkpoint: HeadCheckpoint, fingerprints: dict[str, str]) -> None:
    """Load trained weights into ``model`` after checking it has the backbones the head was trained on."""
    for part, value in checkpoint.card.fingerprints.items():
        if fingerprints.get(part) != value:
            raise ModelLoadError(
                f"This head was trained on a different {part} backbone than the one loaded "
                f"(profile {checkpoint.card.profile}) — choose the matching profile and weights.",
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
