"""Grad-CAM (engine/saliency.py): a non-empty map in [0, 1], inside the crop box, no gradients left behind."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from engine.diagnoser import Diagnoser
from engine.model.checkpoint import save_checkpoint
from engine.model.config import ModelConfig, PreprocessConfig
from engine.model.head_card import HeadCard
from engine.model.pneumollm import build_model, frozen_fingerprints
from engine.preprocess import prepare
from engine.saliency import grad_cam, place_in_image
from engine.segment import LungSegmenter
from tests.dicom_factory import chest_like, make_dicom
from tests.engine.model_fixtures import TINY_DIMS
from tests.head_factory import LABELS, make_tiny_head


def check_cam(cam: np.ndarray, diagnoser: Diagnoser, box: tuple[int, int, int, int], shape: tuple[int, int]) -> None:
    assert cam.shape == shape and cam.dtype == np.float32
    assert cam.min() >= 0.0 and cam.max() == pytest.approx(1.0), "the map is empty or not normalised"
    x0, y0, x1, y1 = box
    outside = cam.copy()
    outside[y0:y1, x0:x1] = 0
    assert outside.max() == 0, "saliency leaked outside the crop rectangle"
    assert all(p.grad is None for p in diagnoser.model.parameters())
    assert not diagnoser.model.training


@pytest.fixture(scope="module")
def clip_diagnoser(tmp_path_factory: pytest.TempPathFactory, segmenter: LungSegmenter) -> Diagnoser:
    head = make_tiny_head(tmp_path_factory.mktemp("cam") / "head", with_map=False)
    return Diagnoser(head, segmenter=segmenter)


def test_grad_cam_on_vit_patch_tokens(clip_diagnoser: Diagnoser, tmp_path: Path) -> None:
    path = make_dicom(tmp_path / "a.dcm", chest_like(300, 280))
    result = clip_diagnoser.predict(path)
    cam = grad_cam(clip_diagnoser, result)
    check_cam(cam, clip_diagnoser, result.lung_crop.box, (300, 280))
    # A prepared case (the tensor the model saw) gives the same map as the result's crop.
    from engine.io import load_image

    case = prepare(load_image(path), clip_diagnoser.segmenter, clip_diagnoser.preprocess)
    np.testing.assert_allclose(grad_cam(clip_diagnoser, case), cam, atol=1e-4)


def test_grad_cam_on_efficientnet_head_conv(tmp_path: Path, segmenter: LungSegmenter) -> None:
    config = replace(ModelConfig(), llm="tiny_llama", source_width=64, tiny_test_dims=TINY_DIMS)
    torch.manual_seed(0)
    model = build_model(config)
    preprocess = PreprocessConfig()
    card = HeadCard(profile="tiny-efficientnet", model=config, preprocess=preprocess, labels=LABELS, positive_index=1,
                    threshold=0.5, temperature=1.0, fingerprints=frozen_fingerprints(model))
    head = save_checkpoint(tmp_path / "head", model.trained_state_dict(), card)
    diagnoser = Diagnoser(head, segmenter=segmenter)
    result = diagnoser.predict(make_dicom(tmp_path / "a.dcm", chest_like(260, 300)))
    check_cam(grad_cam(diagnoser, result), diagnoser, result.lung_crop.box, (260, 300))


def test_place_in_image_clips_to_the_image(clip_diagnoser: Diagnoser, tmp_path: Path) -> None:
    result = clip_diagnoser.predict(make_dicom(tmp_path / "a.dcm", chest_like(200, 220)))
    crop = replace(result.lung_crop, box=(-10, 150, 400, 260))  # partly outside: clipped, not an error
    full = place_in_image(np.ones((7, 7), np.float32), crop)
    assert full.shape == (200, 220) and full[150:, :].min() == pytest.approx(1.0) and full[:150].max() == 0
