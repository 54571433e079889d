"""Ordered grades (e.g. ILO categories 0-3): an ordinal head beside the binary one, its metrics, its output.

A machinery test on JSRT radiographs with painted opacities (``write_graded_set``), not a clinical result.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from engine.diagnoser import Diagnoser
from engine.errors import TrainingError
from engine.model.checkpoint import load_checkpoint
from tests.training.conftest import write_graded_set
from training.config import CVConfig, FinetuneConfig
from training.cross_validation import run_training
from training.data import binary_classes, class_order, is_ordinal, load_labelled
from training.evaluate import evaluate_head
from training.metrics import grade_metrics

CONFIG = FinetuneConfig(profile="tiny-test", epochs=2, batch_size=8, warmup_epochs=1, val_fraction=0.25, seed=3,
                        augment=False)


def test_grade_names_are_recognised_and_ordered() -> None:
    assert class_order(["2", "10", "0", "1", "3", "4", "5", "6", "7", "8", "9"])[-2:] == ("9", "10")
    assert is_ordinal(("0", "1", "2", "3")) and not is_ordinal(("0", "1")) and not is_ordinal(("1", "2", "3"))
    assert binary_classes(("0", "1", "2", "3")) == ("0", "1+")


def test_grade_metrics_rank_a_perfect_and_a_reversed_grader() -> None:
    truth = np.array([0, 1, 2, 3] * 5)
    perfect = np.stack([(truth > k) * 8.0 - 4.0 for k in range(3)], axis=1)
    reversed_ = np.stack([((3 - truth) > k) * 8.0 - 4.0 for k in range(3)], axis=1)
    names = ("0", "1", "2", "3")
    assert grade_metrics(truth, perfect, names)["qwk"] == pytest.approx(100.0)
    assert grade_metrics(truth, reversed_, names)["qwk"] < 0
    assert grade_metrics(truth, perfect, names)["sensitivity_grade_2"] == pytest.approx(100.0)


def test_training_on_grades_gives_both_heads(shared_data: Path, tmp_path: Path, segmenter) -> None:
    data = write_graded_set(shared_data, tmp_path / "graded")
    assert load_labelled(data).ordinal
    report = run_training(data, tmp_path / "run", CONFIG, CVConfig(folds=2, seed=3), segmenter=segmenter)
    fold = report["cross_validation"]["folds"][0]
    assert set(fold["grade_metrics"]) == {"qwk", *(f"sensitivity_grade_{g}" for g in "0123")}
    assert "qwk" in report["cross_validation"]["grade_summary"]
    card = load_checkpoint(report["model"]).card
    assert card.grades == ("0", "1", "2", "3") and card.labels == ("0", "1+") and card.positive_index == 1
    assert card.model.ordinal_grades == 4 and "qwk" in card.metrics["grades_validation"]
    result = Diagnoser(report["model"], segmenter=segmenter).predict(next((data / "3").iterdir()))
    assert result.grades == card.grades and sum(result.grade_probabilities) == pytest.approx(1.0, abs=1e-5)
    payload = result.to_json()["grade"]
    assert payload["suggested"] in card.grades and set(payload["probabilities"]) == set(card.grades)
    evaluation = evaluate_head(data, report["model"], consistency_images=0)  # the graded set, graded head
    assert evaluation["n"] == 40 and -100.0 <= evaluation["grades"]["qwk"] <= 100.0
    assert set(evaluation["grades"]) == {"qwk", *(f"sensitivity_grade_{g}" for g in "0123")}


def test_baseline_cannot_grade(shared_data: Path, tmp_path: Path, segmenter) -> None:
    from dataclasses import replace

    data = write_graded_set(shared_data, tmp_path / "graded")
    with pytest.raises(TrainingError, match="no ordinal head"):
        run_training(data, tmp_path / "run", replace(CONFIG, baseline=True), CVConfig(folds=1), segmenter=segmenter)
