"""The ILO heads' primary-shape output: learnt on abnormal films with a recorded shape only, scored as scikit-learn
scores it, saved as a version-2 head; a head without it (version 1) still loads and runs, without a shape."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from sklearn.metrics import accuracy_score, recall_score

from engine.ilo.codes import PROFUSION
from engine.ilo.zone_features import WHOLE_DIM, ZONE_DIM
from engine.model.config import ModelConfig
from engine.model.head_card import SIMULATION_USE, IntendedUse
from engine.model.ilo_model import SHAPE_LETTERS, build_ilo_model, has_shape_output, load_ilo_head
from tests.training.test_ilo_heads import _tiny_csv
from training.data import from_csv
from training.ilo_head import save_ilo_head
from training.ilo_metrics import IloPredictions, IloTruthArrays, ilo_metrics, shape_metrics
from training.ilo_train import FeatureSet, IloTrainConfig, _shape_loss, fit, predict_raw, shape_indices, to_predictions


def _truth(n: int, rng: np.random.Generator) -> IloTruthArrays:
    """Films of 4 per patient; every 5th abnormal film without a recorded shape; normal films of any shape label."""
    grade = rng.integers(1, len(PROFUSION), n)
    category = np.array([int(PROFUSION[g][0]) for g in grade])
    present = (rng.random((n, 6)) < 0.5) & (category[:, None] >= 1)
    present[category >= 1, 0] = True
    zone_grade = np.where(present, grade[:, None], 1)
    shape = rng.integers(0, 4, n)  # p q r s
    shape[np.arange(n) % 5 == 0] = -1
    return IloTruthArrays(category >= 1, category, grade, present, zone_grade, np.arange(n) // 4, shape=shape)


def _features(truth: IloTruthArrays, rng: np.random.Generator) -> FeatureSet:
    """Zone features that carry the grade in some dimensions and, for abnormal films, the shape in others."""
    n = len(truth.grade)
    zones = rng.normal(0, 1, (n, 6, ZONE_DIM)).astype(np.float32)
    zones[:, :, :32] += truth.zone_grade[:, :, None] * 0.8
    for k in range(len(SHAPE_LETTERS)):
        films = truth.abnormal & (truth.shape == k)
        zones[films, :, 40 + 8 * k : 48 + 8 * k] += 2.0
    whole = rng.normal(0, 1, (n, WHOLE_DIM)).astype(np.float32)
    return FeatureSet(None, {"zones": zones, "whole": whole}, truth, [f"h{i}" for i in range(n)])


def test_shape_indices_and_the_loss_masks_normal_films_and_unknown_shapes() -> None:
    assert shape_indices(["q", "none", "u", "p"]).tolist() == [1, -1, 5, 0]
    logits = torch.randn(4, 6, requires_grad=True)
    output = type("Out", (), {"shape_logits": logits})()
    batch = {"shape": torch.tensor([1, -1, 2, 3]), "abnormal": torch.tensor([True, True, False, True])}
    loss = _shape_loss(output, batch)
    expected = torch.nn.functional.cross_entropy(logits[[0, 3]], torch.tensor([1, 3]))
    assert float(loss.detach()) == pytest.approx(float(expected.detach()))
    loss.backward()
    assert logits.grad[1].abs().sum() == 0 and logits.grad[2].abs().sum() == 0  # masked films teach nothing
    none = _shape_loss(output, {"shape": torch.tensor([-1, -1, 2, 0]), "abnormal": torch.tensor([1, 1, 0, 0])})
    assert float(none) == 0.0


def test_the_shape_head_has_six_letters_on_both_views() -> None:
    for view in ("zones", "whole"):
        model = build_ilo_model(ModelConfig(source_width=32, use_llm=False), view, shapes=True)
        x = torch.randn(2, 6, ZONE_DIM) if view == "zones" else torch.randn(2, WHOLE_DIM)
        assert model(x).shape_logits.shape == (2, len(SHAPE_LETTERS))
        assert build_ilo_model(ModelConfig(source_width=32, use_llm=False), view)(x).shape_logits is None


def test_shape_figures_are_scikit_learns_on_abnormal_films_with_a_known_shape() -> None:
    truth = IloTruthArrays(np.array([1, 1, 1, 1, 1, 0, 1, 1], bool), np.array([1, 2, 1, 3, 2, 0, 1, 1]),
                           np.array([4, 7, 4, 10, 7, 1, 3, 4]), np.zeros((8, 6), bool), np.ones((8, 6), int),
                           np.arange(8), shape=np.array([0, 1, 1, 2, 1, 1, -1, 0]))
    guess = np.array([0, 1, 2, 2, 0, 3, 4, 1])  # film 5 is normal, film 6 has no recorded shape: not scored
    probability = np.eye(6)[guess] * 0.6 + 0.4 / 6
    pred = IloPredictions(np.full(8, 0.9), truth.category, truth.grade, np.zeros((8, 6)), truth.zone_grade,
                          shape_probability=probability)
    m = shape_metrics(truth, pred)
    scored = [0, 1, 2, 3, 4, 7]
    y, g = truth.shape[scored], guess[scored]
    assert m["shape_accuracy"] == pytest.approx(100 * accuracy_score(y, g)) and m["shape_n"] == 6
    recalls = recall_score(y, g, labels=[0, 1, 2], average=None)
    assert {k: v["recall"] for k, v in m["shape"].items()} == pytest.approx(
        {"p": 100 * recalls[0], "q": 100 * recalls[1], "r": 100 * recalls[2]})
    assert {k: v["n"] for k, v in m["shape"].items()} == {"p": 2, "q": 3, "r": 1}
    full = ilo_metrics(truth, pred, 0.5, bootstrap=30)
    assert full["shape_accuracy"] == m["shape_accuracy"] and "shape_accuracy" in full["ci"]
    without = ilo_metrics(truth, replace(pred, shape_probability=None), 0.5, bootstrap=0)
    assert "shape_accuracy" not in without and "shape" not in without  # a head without a shape output


def test_a_shape_head_trains_predicts_and_round_trips_as_a_version_2_head(tmp_path: Path) -> None:
    truth = _truth(160, np.random.default_rng(3))
    fs = _features(truth, np.random.default_rng(4))
    train, val, test = np.arange(0, 96), np.arange(96, 128), np.arange(128, 160)
    config = IloTrainConfig(view="zones", epochs=20, seed=0)
    fitted = fit(config, fs, train, val)
    pred = to_predictions(predict_raw(fitted.model, fs.view("zones")[test]), fitted.temperature)
    m = ilo_metrics(truth.take(test), pred, fitted.threshold, bootstrap=0)
    assert m["shape_accuracy"] > 60, m["shape"]  # four shapes: chance is about 25
    fs.dataset = from_csv(_tiny_csv(tmp_path))
    folder = save_ilo_head(tmp_path / "head", fitted, config, fs, np.concatenate([train, val]), test,
                           intended_use=IntendedUse(description=SIMULATION_USE), cv_report=None)
    model, card = load_ilo_head(folder)
    assert card.extra["ilo"]["version"] == 2 and card.extra["ilo"]["shapes"] == list(SHAPE_LETTERS)
    again = predict_raw(model, fs.view("zones")[test])["shape"]
    assert (again.argmax(-1) == pred.shape).mean() > 0.9  # fp16 matrices on disk: near enough


def test_a_head_without_a_shape_output_still_loads_and_runs_without_a_shape(tmp_path: Path) -> None:
    truth = _truth(64, np.random.default_rng(5))
    fs = _features(truth, np.random.default_rng(6))
    config = IloTrainConfig(view="zones", epochs=2, seed=0, shape_head=False)
    fitted = fit(config, fs, np.arange(0, 48), np.arange(48, 64))
    assert fitted.model.shape_head is None
    fs.dataset = from_csv(_tiny_csv(tmp_path))
    folder = save_ilo_head(tmp_path / "head", fitted, config, fs, np.arange(48), np.arange(48, 64),
                           intended_use=IntendedUse(description=SIMULATION_USE), cv_report=None)
    card_path = folder / "head.json"
    card = json.loads(card_path.read_text())
    del card["ilo"]["version"]  # as the version-1 heads were written (no version, no shapes)
    assert "shapes" not in card["ilo"]
    card_path.write_text(json.dumps(card))
    model, loaded = load_ilo_head(folder)
    assert not has_shape_output(loaded.extra["ilo"]) and model.shape_head is None
    raw = predict_raw(model, fs.view("zones")[:8])
    assert "shape" not in raw and to_predictions(raw, loaded.temperature).shape_probability is None
