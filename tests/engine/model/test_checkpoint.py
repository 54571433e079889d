"""Head checkpoints: round trip, refusal of foreign heads, damaged files, and the Diagnoser facade."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from engine.errors import ModelLoadError
from engine.model.checkpoint import META_NAME, WEIGHTS_NAME, apply_checkpoint, load_checkpoint
from engine.model.pneumollm import frozen_fingerprints
from tests.engine.model_fixtures import tiny_model
from tests.head_factory import make_tiny_head


def test_round_trip_restores_trained_weights(tmp_path: Path) -> None:
    make_tiny_head(tmp_path / "head")
    checkpoint = load_checkpoint(tmp_path / "head")
    fresh = tiny_model()
    apply_checkpoint(fresh, checkpoint, frozen_fingerprints(fresh))
    for name, value in fresh.trained_state_dict().items():
        torch.testing.assert_close(value, checkpoint.state[name])
    assert checkpoint.card.labels == ("normal", "abnormal")
    assert len(checkpoint.card.model_id) == 16


def test_head_for_another_backbone_is_refused(tmp_path: Path) -> None:
    make_tiny_head(tmp_path / "head")
    meta = json.loads((tmp_path / "head" / META_NAME).read_text())
    meta["fingerprints"]["llm"] = "0123456789abcdef"
    (tmp_path / "head" / META_NAME).write_text(json.dumps(meta))
    model = tiny_model()
    with pytest.raises(ModelLoadError, match="different llm backbone"):
        apply_checkpoint(model, load_checkpoint(tmp_path / "head"), frozen_fingerprints(model))


def test_head_for_another_shape_is_refused(tmp_path: Path) -> None:
    make_tiny_head(tmp_path / "head")
    model = tiny_model(num_diagnosis_tokens=2)
    with pytest.raises(ModelLoadError, match="does not fit"):
        apply_checkpoint(model, load_checkpoint(tmp_path / "head"), frozen_fingerprints(model))


@pytest.mark.parametrize("damage", ["missing_weights", "garbage_weights", "garbage_json", "empty_folder"])
def test_damaged_checkpoints_give_clear_messages(tmp_path: Path, damage: str) -> None:
    folder = make_tiny_head(tmp_path / "head", with_map=False)
    if damage == "missing_weights":
        (folder / WEIGHTS_NAME).unlink()
    elif damage == "garbage_weights":
        (folder / WEIGHTS_NAME).write_bytes(b"\x80\x04not safetensors")
    elif damage == "garbage_json":
        (folder / META_NAME).write_text("{not json")
    else:
        for file in folder.iterdir():
            file.unlink()
    with pytest.raises(ModelLoadError) as info:
        load_checkpoint(folder)
    assert "\n" not in info.value.user_message


def test_format_1_heads_still_load(tmp_path: Path) -> None:
    """Heads saved before the token engine's rename (``engine.*`` weights, ``use_engine``) load unchanged."""
    from safetensors.torch import load_file, save_file

    folder = make_tiny_head(tmp_path / "head", with_map=False)
    state = load_file(str(folder / WEIGHTS_NAME))
    save_file({k.replace("token_engine.", "engine.", 1): v for k, v in state.items()}, str(folder / WEIGHTS_NAME))
    card = json.loads((folder / META_NAME).read_text())
    card["format_version"] = 1
    card["model"]["use_engine"] = card["model"].pop("use_token_engine")
    (folder / META_NAME).write_text(json.dumps(card))
    model = tiny_model()
    checkpoint = load_checkpoint(folder)
    apply_checkpoint(model, checkpoint, frozen_fingerprints(model))
    assert any(name.startswith("token_engine.") for name in checkpoint.state)
    assert checkpoint.card.model.use_token_engine
