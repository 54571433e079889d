"""Head checkpoints: round trip, refusal of foreign heads, damaged files, and the Diagnoser facade."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from engine.diagnoser import Diagnoser
from engine.errors import ModelLoadError, PneumoError, UnsupportedImageError
from engine.model.checkpoint import META_NAME, WEIGHTS_NAME, apply_checkpoint, load_checkpoint
from engine.model.pneumollm import frozen_fingerprints
from engine.segment import LungSegmenter
from tests.dicom_factory import chest_like, make_dicom
from tests.engine.model_fixtures import tiny_model
from tests.head_factory import make_tiny_head


@pytest.fixture(scope="module")
def segmenter() -> LungSegmenter:
    return LungSegmenter(weights=None)  # pretrained encoder, untrained decoder: enough for plumbing tests


def test_round_trip_restores_trained_weights(tmp_path: Path) -> None:
    make_tiny_head(tmp_path / "head")
    checkpoint = load_checkpoint(tmp_path / "head")
    fresh = tiny_model()
    apply_checkpoint(fresh, checkpoint, frozen_fingerprints(fresh))
    for name, value in fresh.trained_state_dict().items():
        torch.testing.assert_close(value, checkpoint.state[name])
    assert checkpoint.labels == ("normal", "abnormal")
    assert len(checkpoint.model_id) == 16


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


def test_no_head_installed_message(tmp_path: Path) -> None:
    with pytest.raises(ModelLoadError, match="No trained head"):
        Diagnoser(tmp_path / "nothing-here")


def test_diagnoser_end_to_end(tmp_path: Path, segmenter: LungSegmenter) -> None:
    head = make_tiny_head(tmp_path / "head", threshold=0.3, temperature=2.0)
    diagnoser = Diagnoser(head, segmenter=segmenter)
    path = make_dicom(tmp_path / "a.dcm", chest_like(300, 280), ViewPosition="PA")
    result = diagnoser.predict(path)
    assert result.threshold == 0.3
    assert abs(sum(result.probabilities) - 1) < 1e-5
    assert result.decision == (result.probability >= 0.3)
    assert result.engine_map.shape == (2, 4) and result.emitter_attention.shape == (2, 4, 4, 2)
    assert result.lung_crop.mask.shape == (300, 280)
    payload = result.to_json()
    assert payload["decision"] in ("flagged", "not flagged") and payload["device"] == "CPU (fp32)"
    # Temperature scaling: the same logits at T=1 are more confident.
    sharp = Diagnoser(make_tiny_head(tmp_path / "sharp", temperature=1.0), segmenter=segmenter).predict(path)
    assert abs(sharp.probability - 0.5) >= abs(result.probability - 0.5) - 1e-6


def test_flagged_images_are_not_diagnosed_silently(tmp_path: Path, segmenter: LungSegmenter) -> None:
    diagnoser = Diagnoser(make_tiny_head(tmp_path / "head", with_map=False), segmenter=segmenter)
    lateral = make_dicom(tmp_path / "lat.dcm", chest_like(), ViewPosition="LL")
    with pytest.raises(UnsupportedImageError, match="lateral"):
        diagnoser.predict(lateral)
    assert diagnoser.predict(lateral, allow_flagged=True).image_flags


def test_batch_iteration_survives_bad_files(tmp_path: Path, segmenter: LungSegmenter) -> None:
    diagnoser = Diagnoser(make_tiny_head(tmp_path / "head", with_map=False), segmenter=segmenter)
    good = make_dicom(tmp_path / "good.dcm", chest_like())
    bad = tmp_path / "bad.dcm"
    bad.write_text("nope")
    png = tmp_path / "x.png"
    Image.fromarray(chest_like(dtype=np.uint8, high=250)).save(png)
    outcomes = list(diagnoser.iter_diagnose([good, bad, png], batch_size=2))
    assert [p.name for _, p, _ in outcomes] == ["good.dcm", "bad.dcm", "x.png"]
    assert isinstance(outcomes[1][2], PneumoError)  # reported, not raised
    assert outcomes[0][2].probability == pytest.approx(diagnoser.predict(good).probability, abs=1e-5)
    assert outcomes[-1][0].done == 3


def test_grad_cam_lands_inside_the_crop(tmp_path: Path, segmenter: LungSegmenter) -> None:
    from engine.saliency import grad_cam

    diagnoser = Diagnoser(make_tiny_head(tmp_path / "head", with_map=False), segmenter=segmenter)
    result = diagnoser.predict(make_dicom(tmp_path / "a.dcm", chest_like(300, 280)))
    cam = grad_cam(diagnoser, result)
    assert cam.shape == (300, 280) and cam.dtype == np.float32
    assert cam.min() >= 0.0 and cam.max() <= 1.0
    x0, y0, x1, y1 = result.lung_crop.box
    outside = cam.copy()
    outside[y0:y1, x0:x1] = 0
    assert outside.max() == 0
    assert all(p.grad is None for p in diagnoser.model.parameters())
