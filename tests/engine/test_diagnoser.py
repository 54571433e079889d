"""The Diagnoser facade: one result object whose decision everything reads; batches that survive bad files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from engine.decision import ThresholdChoice, ThresholdSource, Verdict
from engine.diagnoser import Diagnoser
from engine.errors import ModelLoadError, PneumoError, UnsupportedImageError
from engine.flags import can_diagnose_anyway, codes
from engine.reference_map import ATYPICAL_PERCENTILE, FAR_PERCENTILE, domain_flags
from engine.segment import LungSegmenter
from tests.dicom_factory import chest_like, make_dicom
from tests.engine.reference_maps import map_ranking
from tests.head_factory import make_tiny_head


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
    assert result.decision.flagged == (result.probability >= 0.3)
    assert result.decision.threshold_source is ThresholdSource.MODEL
    assert result.token_mixing.shape == (2, 4) and result.emitter_attention.shape == (2, 4, 4, 2)
    assert result.lung_crop.mask.shape == (300, 280)
    payload = result.to_json()
    assert payload["decision"] in ("flagged", "not flagged") and payload["device"] == "CPU (fp32)"
    # Temperature scaling: the same logits at T=1 are more confident.
    sharp = Diagnoser(make_tiny_head(tmp_path / "sharp", temperature=1.0), segmenter=segmenter).predict(path)
    assert abs(sharp.probability - 0.5) >= abs(result.probability - 0.5) - 1e-6


def test_flagged_images_are_not_diagnosed_silently(tmp_path: Path, segmenter: LungSegmenter) -> None:
    diagnoser = Diagnoser(make_tiny_head(tmp_path / "head", with_map=False), segmenter=segmenter)
    lateral = make_dicom(tmp_path / "lat.dcm", chest_like(), ViewPosition="LL")
    with pytest.raises(UnsupportedImageError, match="lateral") as info:
        diagnoser.predict(lateral)
    assert codes(info.value.flags) == ["lateral_view"] and can_diagnose_anyway(info.value.flags)
    anyway = diagnoser.predict(lateral, allow_flagged=True)
    assert codes(anyway.image_flags) == ["lateral_view"] and anyway.decision.diagnosed
    assert codes(anyway.decision.review_overridden) == ["lateral_view"]
    # the flag travels with the result: a later threshold change keeps the reader's choice
    assert anyway.at_threshold(0.0).decision.flagged


def test_batch_iteration_survives_bad_files(tmp_path: Path, segmenter: LungSegmenter) -> None:
    diagnoser = Diagnoser(make_tiny_head(tmp_path / "head", with_map=False), segmenter=segmenter)
    good = make_dicom(tmp_path / "good.dcm", chest_like())
    bad = tmp_path / "bad.dcm"
    bad.write_text("nope")
    png = tmp_path / "x.png"
    Image.fromarray(chest_like(dtype=np.uint8, high=250)).save(png)
    outcomes = list(diagnoser.iter_diagnose([good, bad, png], batch_size=2))
    assert [o.path.name for o in outcomes] == ["good.dcm", "bad.dcm", "x.png"]
    assert isinstance(outcomes[1].error, PneumoError) and outcomes[1].result is None  # reported, not raised
    assert outcomes[0].result.probability == pytest.approx(diagnoser.predict(good).probability, abs=1e-5)
    assert [o.progress.done for o in outcomes] == [1, 2, 3]


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


def test_threshold_override_is_carried_by_the_result(tmp_path: Path, segmenter: LungSegmenter) -> None:
    head = make_tiny_head(tmp_path / "head", with_map=False, threshold=0.5)
    path = make_dicom(tmp_path / "a.dcm", chest_like(300, 280))
    diagnoser = Diagnoser(head, segmenter=segmenter, threshold=ThresholdChoice(0.0))
    result = diagnoser.predict(path)
    assert result.decision.verdict is Verdict.FLAGGED and result.threshold == 0.0
    assert result.decision.threshold_source is ThresholdSource.OVERRIDE and result.model_threshold == 0.5
    back = result.at_threshold(0.5)
    assert back.decision.threshold_source is ThresholdSource.MODEL
    assert back.decision.flagged == (result.probability >= 0.5)
    payload = back.to_json()
    assert payload["threshold_source"] == "model" and payload["decision"] == back.decision.verdict.value


def test_blank_image_is_not_diagnosed_even_when_allowed(tmp_path: Path, segmenter: LungSegmenter) -> None:
    diagnoser = Diagnoser(make_tiny_head(tmp_path / "head", with_map=False), segmenter=segmenter)
    blank = tmp_path / "blank.png"
    Image.fromarray(np.full((256, 256), 7, np.uint8)).save(blank)
    for allowed in (False, True):
        result = diagnoser.predict(blank, allow_flagged=allowed)
        assert result.decision.verdict is Verdict.NOT_DIAGNOSED and result.label == "not diagnosed"
        assert codes(result.decision.reasons) == ["blank_image"]
    assert result.to_json()["decision_reasons"] == ["blank or constant image — nothing to segment"]


def test_out_of_domain_cases_carry_a_warning(tmp_path: Path, segmenter: LungSegmenter) -> None:
    """Maps built around the case put it at a known percentile: nothing below ATYPICAL_PERCENTILE, a NOTE shown with
    the verdict up to FAR_PERCENTILE, and from there a REVIEW flag that withholds the verdict unless asked for."""
    head = make_tiny_head(tmp_path / "head", with_map=False)
    path = make_dicom(tmp_path / "a.dcm", chest_like(300, 280))
    case = Diagnoser(head, segmenter=segmenter).predict(path).embedding
    typical, atypical, far = 50, int(ATYPICAL_PERCENTILE + FAR_PERCENTILE) // 2, int(FAR_PERCENTILE)
    assert typical < ATYPICAL_PERCENTILE <= atypical < FAR_PERCENTILE <= far
    seen = {}
    for percentile in (typical, atypical, far):
        map_ranking(case, percentile).save(head)
        diagnoser = Diagnoser(head, segmenter=segmenter)
        assert diagnoser.reference_map is not None
        result = diagnoser.predict(path)
        assert result.novelty_percentile == percentile
        seen[percentile] = [code for code in codes(result.warnings) if "out_of_domain" in code], result.decision
    assert seen[typical][0] == [] and seen[typical][1].diagnosed
    assert seen[atypical][0] == ["out_of_domain"]
    assert seen[atypical][1].diagnosed  # a hint shown with the result, not a reason to withhold it
    assert seen[far][0] == ["far_out_of_domain"] and seen[far][1].verdict is Verdict.NOT_DIAGNOSED
    assert diagnoser.predict(path, allow_flagged=True).decision.diagnosed  # the reader may still ask


def test_operating_points_from_the_card(tmp_path: Path, segmenter: LungSegmenter) -> None:
    from dataclasses import replace as replace_card

    from engine.model.checkpoint import load_checkpoint, write_card

    head = make_tiny_head(tmp_path / "head", with_map=False, threshold=0.5)
    points = {"sensitivity:0.95": {"threshold": 0.0, "sensitivity": 100.0, "specificity": 0.0, "n": 10}}
    write_card(head, replace_card(load_checkpoint(head).card, operating_points=points))
    path = make_dicom(tmp_path / "a.dcm", chest_like(300, 280))
    chosen = ThresholdChoice(operating_point="sensitivity:0.95")
    result = Diagnoser(head, segmenter=segmenter, threshold=chosen).predict(path)
    assert result.threshold == 0.0 and result.decision.threshold_source is ThresholdSource.OPERATING_POINT
    with pytest.raises(ModelLoadError, match="no operating point 'specificity:0.90'"):
        Diagnoser(head, segmenter=segmenter, threshold=ThresholdChoice(operating_point="specificity:0.90"))


def test_a_radiograph_like_no_training_case_is_not_diagnosed(tmp_path: Path, segmenter: LungSegmenter) -> None:
    """Whole-radiograph features against the references': a case far outside them gets a REVIEW flag."""
    import torch

    from engine.io import load_image
    from engine.preprocess import prepare_batch
    from engine.reference_map import ReferenceMap

    head = make_tiny_head(tmp_path / "head", with_map=False)
    diagnoser = Diagnoser(head, segmenter=segmenter)
    rng = np.random.default_rng(0)

    def film(index: int) -> Path:
        pixels = chest_like(240 + 4 * (index % 7), 220, dtype=np.uint8, high=230).astype(float)
        pixels += rng.normal(0, 12, pixels.shape)
        path = tmp_path / f"film{index}.png"
        Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8)).save(path)
        return path

    cases = prepare_batch([load_image(film(i)) for i in range(40)], diagnoser.segmenter, diagnoser.preprocess)
    with torch.inference_mode():
        domain = diagnoser.model.domain_features(torch.stack([case.whole for case in cases])).numpy()
    embeddings = rng.normal(0, 1, (40, diagnoser.model.width)).astype(np.float32)
    ReferenceMap.fit(embeddings, np.r_[np.zeros(20), np.ones(20)].astype(int), ("normal", "abnormal"),
                     perplexity=5, domain=domain).save(head)
    diagnoser = Diagnoser(head, segmenter=segmenter)
    assert diagnoser.reference_map.domain is not None
    noise = tmp_path / "noise.png"
    Image.fromarray(rng.integers(0, 256, (256, 256), dtype=np.uint8)).save(noise)
    typical, odd = diagnoser.predict(film(99)), diagnoser.predict(noise)
    assert typical.novelty_percentile < ATYPICAL_PERCENTILE and typical.decision.diagnosed
    assert "far_out_of_domain" in codes(odd.warnings) and odd.decision.verdict is Verdict.NOT_DIAGNOSED
    assert diagnoser.predict(noise, allow_flagged=True).decision.diagnosed  # the reader may still ask


def test_novelty_wording_never_says_farther_than_100_percent() -> None:
    """Issue 17: 'farther than 100 % of those cases'. Every percentile from the NOTE up, both flag levels."""
    for novelty in np.arange(ATYPICAL_PERCENTILE, 100.001, 0.05):
        (flag,) = domain_flags(float(novelty))
        assert "100 %" not in flag.message
        assert ("than any of them are" in flag.message) == (novelty >= 99.5)  # where a rounded share would say 100
        assert flag.code == ("far_out_of_domain" if novelty >= FAR_PERCENTILE else "out_of_domain")
    (far,) = domain_flags(FAR_PERCENTILE + 0.4)
    assert far.code == "far_out_of_domain" and f"{FAR_PERCENTILE:.0f} %" in far.message
    assert domain_flags(ATYPICAL_PERCENTILE - 0.1) == () and domain_flags(None) == ()
