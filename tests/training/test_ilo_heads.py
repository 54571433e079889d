"""The ILO heads: model shapes (with a tiny LLM behind the emitter mask), the figures, training on cached
features, the head folder, and ``pneumollm evaluate`` on an ILO head (a few tiny synthetic films)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from sklearn.metrics import cohen_kappa_score

from engine.ilo.codes import PROFUSION, ZONES
from engine.ilo.zone_features import WHOLE_DIM, ZONE_DIM, FrozenEncoder
from engine.model.config import ModelConfig
from engine.model.head_card import SIMULATION_USE, IntendedUse, is_simulation
from engine.model.ilo_model import build_ilo_model, is_ilo_head, load_ilo_head
from engine.model.speedups import SpeedOptions
from engine.segment import LungSegmenter
from tests.dicom_factory import chest_like
from tests.engine.model_fixtures import TINY_DIMS
from training.data import from_csv
from training.ilo_features import FeatureCache
from training.ilo_head import save_ilo_head
from training.ilo_metrics import IloPredictions, IloTruthArrays, ilo_metrics
from training.ilo_train import FeatureSet, IloTrainConfig, fit, predict_raw, to_predictions


@pytest.mark.parametrize("view", ["zones", "whole"])
def test_heads_shapes_with_a_tiny_llm_behind_the_emitter_mask(view: str) -> None:
    config = ModelConfig(llm="tiny_llama", source_width=48, tiny_test_dims=TINY_DIMS)
    model = build_ilo_model(config, view)
    x = torch.randn(3, 6, ZONE_DIM) if view == "zones" else torch.randn(3, WHOLE_DIM)
    out = model(x, output_attentions=True)
    assert out.logits.shape == (3, 2) and out.grade_logits.shape == (3, 3)
    assert out.profusion_logits.shape == (3, len(PROFUSION) - 1)
    assert out.zone_logits.shape == (3, 6) and out.zone_profusion_logits.shape == (3, 6, len(PROFUSION) - 1)
    assert out.emitter_attention.shape[-2:] == (4, 6)  # m diagnosis tokens over d = 6 source tokens
    assert not any(p.requires_grad for p in model.decoder.parameters())
    out.logits.sum().backward()  # gradients reach the sources' projection through the frozen LLM
    projection = model.sources.projection if view == "zones" else model.sources.projections[0]
    assert projection.weight.grad is not None and projection.weight.grad.abs().sum() > 0


def _truth(n: int, rng: np.random.Generator) -> IloTruthArrays:
    grade = rng.integers(1, len(PROFUSION), n)
    category = np.array([int(PROFUSION[g][0]) for g in grade])
    present = (rng.random((n, 6)) < 0.5) & (category[:, None] >= 1)
    zone_grade = np.where(present, grade[:, None], 1)
    return IloTruthArrays(category >= 1, category, grade, present, zone_grade, np.arange(n) // 4)


def test_figures_are_scikit_learns_and_perfect_answers_score_perfectly() -> None:
    truth = _truth(80, np.random.default_rng(0))
    perfect = IloPredictions(truth.abnormal.astype(float), truth.category, truth.grade,
                             truth.zone_present.astype(float), truth.zone_grade)
    m = ilo_metrics(truth, perfect, 0.5, bootstrap=50)
    assert (m["auc"], m["sensitivity"], m["specificity"], m["zone_auc"]) == (100.0, 100.0, 100.0, 100.0)
    assert m["kappa_category"] == pytest.approx(1.0) and m["kappa_grade"] == pytest.approx(1.0)
    assert m["within_one_subcategory"] == 100.0
    off = IloPredictions(perfect.probability, np.clip(truth.category + 1, 0, 3), np.clip(truth.grade + 2, 1, 11),
                         perfect.zone_probability[:, ::-1], truth.zone_grade)
    m = ilo_metrics(truth, off, 0.5, bootstrap=50)
    assert m["kappa_grade"] == pytest.approx(cohen_kappa_score(truth.grade, off.grade, labels=list(range(12)),
                                                               weights="quadratic"))
    assert m["within_one_subcategory"] < 100.0
    assert m["zone_auc"] == pytest.approx(np.mean([m["zones"][z]["auc"] for z in ZONES]))
    assert set(m["zones"]) == set(ZONES) and all(m["zones"][z]["n"] == 80 for z in ZONES)
    low, high = m["ci"]["kappa_grade"]
    assert low <= m["kappa_grade"] <= high
    assert m["n_patients"] == 20 and m["bootstrap"]["unit"] == "patient"


def _synthetic_features(truth: IloTruthArrays, rng: np.random.Generator) -> FeatureSet:
    """Features that carry each zone's grade (the heads must learn it) and nothing else."""
    zones = rng.normal(0, 1, (len(truth.grade), 6, ZONE_DIM)).astype(np.float32)
    zones[:, :, :32] += truth.zone_grade[:, :, None] * 0.8
    whole = rng.normal(0, 1, (len(truth.grade), WHOLE_DIM)).astype(np.float32)
    return FeatureSet(None, {"zones": zones, "whole": whole}, truth, [f"h{i}" for i in range(len(truth.grade))])


def test_training_learns_zone_grades_and_the_head_folder_round_trips(tmp_path: Path) -> None:
    truth = _truth(160, np.random.default_rng(1))
    fs = _synthetic_features(truth, np.random.default_rng(2))
    train, val, test = np.arange(0, 96), np.arange(96, 128), np.arange(128, 160)  # whole patients (4 films each)
    config = IloTrainConfig(view="zones", epochs=25, seed=0)
    fitted = fit(config, fs, train, val)
    pred = to_predictions(predict_raw(fitted.model, fs.view("zones")[test]), fitted.temperature)
    m = ilo_metrics(truth.take(test), pred, fitted.threshold, bootstrap=0)
    assert m["zone_auc"] > 80 and m["kappa_grade"] > 0.5, m  # chance would be 50 and 0
    fs.dataset = from_csv(_tiny_csv(tmp_path))  # any summary will do for the card
    folder = save_ilo_head(tmp_path / "head", fitted, config, fs, np.concatenate([train, val]), test,
                           intended_use=IntendedUse(description=SIMULATION_USE), cv_report=None)
    assert is_ilo_head(folder) and not is_ilo_head(tmp_path)
    model, card = load_ilo_head(folder)
    assert is_simulation(card) and card.extra["ilo"]["view"] == "zones"
    assert len(card.extra["ilo"]["holdout"]["patients"]) == 8
    again = predict_raw(model, fs.view("zones")[test])["zones"]
    np.testing.assert_allclose(again, predict_raw(fitted.model, fs.view("zones")[test])["zones"], atol=0.05)


def _tiny_csv(root: Path) -> Path:
    """Eight tiny films of four patients: per patient a clean film (0/0) and one with bright dots (2/2)."""
    rng = np.random.default_rng(0)
    (root / "films").mkdir(parents=True, exist_ok=True)
    lines = ["path,grade,zones,shape,patient_id"]
    for patient in range(4):
        base = chest_like(160, 150, dtype=np.float32, high=200) + rng.normal(0, 4, (160, 150))
        for abnormal in (0, 1):
            image = base.copy()
            if abnormal:
                for y, x in rng.integers(0, 40, (40, 2)):
                    image[30 + y : 33 + y, 25 + x : 28 + x] += 50
            name = f"films/p{patient}_{abnormal}.png"
            Image.fromarray(np.clip(image, 0, 255).astype(np.uint8)).save(root / name)
            lines.append(f"{name},{'2/2' if abnormal else '0/0'},{'right_upper' if abnormal else 'none'},"
                         f"{'q' if abnormal else 'none'},p{patient}")
    (root / "labels.csv").write_text("\n".join(lines) + "\n")
    return root / "labels.csv"


def test_pneumollm_evaluate_prints_the_ilo_figures_on_films_the_head_never_saw(tmp_path: Path,
                                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PNEUMOLLM_CACHE", str(tmp_path / "cache"))
    labels = _tiny_csv(tmp_path / "data")
    dataset = from_csv(labels)
    cache = FeatureCache(LungSegmenter(speed=SpeedOptions.reference()))
    cache._encoder = FrozenEncoder(onnx=False)
    features, hashes, failed = cache.features([item.path for item in dataset.items])
    assert not failed and features[0].zones.shape == (6, ZONE_DIM) and features[0].whole.shape == (WHOLE_DIM,)
    items = dataset.items
    truth = IloTruthArrays(np.array([i.ilo.abnormal for i in items]), np.array([i.ilo.category for i in items]),
                           np.array([i.ilo.grade for i in items]), np.array([i.ilo.zone_present for i in items]),
                           np.array([i.ilo.zone_grades for i in items]), np.array([i.patient for i in items]))
    fs = FeatureSet(dataset, {"zones": np.stack([f.zones for f in features]),
                              "whole": np.stack([f.whole for f in features])}, truth, hashes)
    config = IloTrainConfig(view="zones", epochs=2)
    fitted = fit(config, fs, np.arange(0, 2), np.arange(2, 4))
    folder = save_ilo_head(tmp_path / "head", fitted, config, fs, np.arange(0, 4), np.arange(4, 8),
                           intended_use=IntendedUse(description=SIMULATION_USE), cv_report=None)
    result = subprocess.run([sys.executable, "-m", "commands", "evaluate", str(labels), "--model", str(folder),
                             "--json"], capture_output=True, text=True, timeout=600,
                            env={**os.environ, "PNEUMOLLM_CACHE": str(tmp_path / "cache")})
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    m = report["metrics"]
    for key in ("auc", "sensitivity", "specificity", "kappa_category", "kappa_grade", "zone_auc"):
        assert key in m
    assert set(m["zones"]) == set(ZONES) and all({"auc", "kappa", "n"} <= set(m["zones"][z]) for z in ZONES)
    assert report["n"] == 4 and report["excluded_seen_in_training"] == 4  # the training films are not scored
    assert report["simulation"] is True and m["n_positive"] == 2
