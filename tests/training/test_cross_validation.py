"""Real (tiny) training runs: CV report, no patient leaks, crops cached once, resume after a kill."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from engine.errors import Cancelled, TrainingError
from engine.model.checkpoint import load_checkpoint
from engine.model.head_card import read_training_hashes
from engine.paths import file_sha256
from engine.segment import LungSegmenter
from tests.training.conftest import write_synthetic_set
from training.cache import RegionCache
from training.config import CVConfig, FinetuneConfig
from training.cross_validation import inner_split, latest_split, patient_folds, run_training
from training.data import load_labelled
from training.finetune import TrainingEvent

CONFIG = FinetuneConfig(profile="tiny-test", epochs=2, batch_size=8, warmup_epochs=1, val_fraction=0.25, seed=3)


def test_patient_folds_never_share_patients() -> None:
    labels = np.array([0, 1] * 30)
    groups = np.array([f"p{i // 3}" for i in range(60)])  # three images per patient
    for train, test in patient_folds(labels, groups, 5, seed=0):
        assert not set(groups[train]) & set(groups[test])
        inner_train, val = inner_split(train, labels, groups, 0.2, seed=1)
        assert not set(groups[inner_train]) & set(groups[val])
        assert set(inner_train) | set(val) == set(train)


def test_latest_split_validates_on_each_classs_latest_patients() -> None:
    # patient number = acquisition order; class 0 patients 0-19, class 1 patients 100-139, two images each
    groups = np.array([f"p{n}" for n in [*range(20), *range(100, 140)] for _ in range(2)])
    labels = np.array([0] * 40 + [1] * 80)
    indices = np.random.default_rng(0).permutation(len(labels))  # file order must not matter
    train, val = latest_split(indices, labels, groups, 0.25, order=lambda p: int(p[1:]))
    number = np.array([int(g[1:]) for g in groups])
    assert set(train) | set(val) == set(indices) and not set(groups[train]) & set(groups[val])
    for label in (0, 1):
        val_numbers, train_numbers = number[val][labels[val] == label], number[train][labels[train] == label]
        assert val_numbers.min() > train_numbers.max()  # a later batch than every training film of its class
        assert abs(len(val_numbers) - 0.25 * (labels == label).sum()) <= 2
    assert (number[val] == 19).any() and (number[val] == 139).any() and not (number[val] == 14).any()


def test_latest_split_keeps_every_class_in_training() -> None:
    groups, labels = np.array(["a", "b", "c", "d"]), np.array([0, 0, 1, 1])
    train, val = latest_split(np.arange(4), labels, groups, 0.9, order=lambda p: p)
    assert set(labels[train]) == {0, 1} and set(groups[val]) == {"b", "d"}
    with pytest.raises(TrainingError):
        latest_split(np.arange(3), np.array([0, 0, 1]), np.array(["a", "b", "c"]), 0.2, order=lambda p: p)


def test_crops_are_cached_and_reused(synthetic_set: Path, segmenter: LungSegmenter, tmp_path: Path) -> None:
    calls = []
    original = segmenter.lung_crops

    def counting(images, **kwargs):
        calls.append(len(images))
        return original(images, **kwargs)

    segmenter.lung_crops = counting  # type: ignore[method-assign]
    try:
        cache = RegionCache(segmenter, root=tmp_path / "regions")
        paths = sorted(synthetic_set.rglob("*.png"))
        keys, failed = cache.prepare(paths)
        assert not failed and sum(calls) == len(paths)
        keys_again, _ = cache.prepare(paths)
        assert sum(calls) == len(paths) and keys_again == keys  # nothing segmented the second time
        entry = cache.get(keys[paths[0]])
        x0, y0, x1, y1 = entry.box
        assert 0 <= x0 < x1 <= entry.region.shape[1] and 0 <= y0 < y1 <= entry.region.shape[0]
        assert entry.crop(224, None).shape == (224, 224)
    finally:
        del segmenter.lung_crops


@dataclass(frozen=True)
class Run:
    data: Path
    out: Path
    report: dict[str, Any]
    events: list[TrainingEvent]


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory, segmenter: LungSegmenter) -> Run:
    """One uninterrupted run on the synthetic set, shared: its report is checked, and a killed-then-resumed run of
    the same settings must end with the same numbers."""
    root = tmp_path_factory.mktemp("cv")
    data = write_synthetic_set(root / "data")
    events: list[TrainingEvent] = []
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PNEUMOLLM_CACHE", str(root / "cache"))
        report = run_training(data, root / "run", CONFIG, CVConfig(folds=2, seed=3), segmenter=segmenter,
                              callback=events.append)
    return Run(data, root / "run", report, events)


def test_cross_validation_report_and_installable_head(run: Run, segmenter: LungSegmenter) -> None:
    report, events, synthetic_set = run.report, run.events, run.data
    cv = report["cross_validation"]
    assert len(cv["folds"]) == 2
    for fold in cv["folds"]:
        assert set(fold["metrics"]) == {"sensitivity", "specificity", "accuracy", "auc", "avg"}
        assert 0.0 <= fold["threshold"] <= 1.0 and fold["temperature"] > 0
        assert fold["n_train"] + fold["n_val"] + fold["n_test"] == 24
        assert len(fold["roc"]["fpr"]) == len(fold["roc"]["tpr"]) >= 2
    assert set(cv["summary"]["auc"]) == {"mean", "std"}
    assert sum(fold["n_test_positive"] for fold in cv["folds"]) == 12  # each image is tested once; 12 abnormal
    head = load_checkpoint(report["model"])
    card = head.card
    assert 0 < card.training["n_val_positive"] < card.training["n_val"]  # the wizard shows the split's classes
    assert card.labels == ("abnormal", "normal") and card.positive_index == 0
    assert card.training["patient_id_source"] == "one patient per file"
    assert card.metrics["cross_validation"]["auc"]["mean"] == cv["summary"]["auc"]["mean"]
    hashes = frozenset(file_sha256(item.path) for item in load_labelled(synthetic_set).items)
    assert read_training_hashes(head.folder) == hashes
    stages = {event.stage for event in events}
    assert {"segmenting", "training", "validated", "fold done", "done"} <= stages
    assert all(e.eta_s is None or e.eta_s >= 0 for e in events)
    with pytest.raises(TrainingError, match="already holds a run"):
        run_training(synthetic_set, run.out, CONFIG, CVConfig(folds=2, seed=3), segmenter=segmenter)


def test_killed_run_resumes_from_its_last_epoch(run: Run, segmenter: LungSegmenter, tmp_path: Path) -> None:
    config, reference, synthetic_set = CONFIG, run.report, run.data

    seen: list[TrainingEvent] = []

    def kill_in_fold_two(event: TrainingEvent) -> None:
        seen.append(event)

    def cancelled() -> bool:  # the user (or a kill) stops the run in fold 2, after its first epoch
        return any(e.stage == "validated" and e.fold == 1 and e.epoch == 1 for e in seen)

    with pytest.raises(Cancelled):
        run_training(synthetic_set, tmp_path / "killed", config, CVConfig(folds=2, seed=3), segmenter=segmenter,
                     callback=kill_in_fold_two, cancelled=cancelled)
    progress = json.loads((tmp_path / "killed" / "folds" / "fold-2" / "progress.json").read_text())
    assert progress["epoch"] == 1
    assert (tmp_path / "killed" / "folds" / "fold-1" / "result.json").exists()
    assert not list((tmp_path / "killed").rglob(".*.*"))  # no half-written temporary files left behind
    resumed = run_training(synthetic_set, tmp_path / "killed", config, CVConfig(folds=2, seed=3),
                           segmenter=segmenter, resume=True)
    for ours, theirs in zip(resumed["cross_validation"]["folds"], reference["cross_validation"]["folds"],
                            strict=True):
        assert ours["metrics"] == pytest.approx(theirs["metrics"], abs=1e-6)
        assert ours["best_epoch"] == theirs["best_epoch"]
    with pytest.raises(TrainingError, match="same settings"):
        run_training(synthetic_set, tmp_path / "killed", FinetuneConfig(**{**config.to_json(), "epochs": 3}),
                     CVConfig(folds=2, seed=3), segmenter=segmenter, resume=True)


def test_a_known_acquisition_order_chooses_the_latest_patients_for_validation(
        synthetic_set: Path, segmenter: LungSegmenter, tmp_path: Path) -> None:
    # file names number the patients (normal_00 ... normal_11): the latest of each class validate
    report = run_training(synthetic_set, tmp_path / "run", CONFIG, CVConfig(folds=1, seed=3), segmenter=segmenter,
                          val_order=lambda patient: Path(patient).stem)
    card = load_checkpoint(report["model"]).card
    assert card.training["n_val"] == 6 and card.training["n_val_positive"] == 3  # 3 of 12 per class at 0.25
    assert "latest-acquired" in card.training["validation_split"] and "latest-acquired" in card.threshold_source
    with pytest.raises(TrainingError, match="same settings"):  # a resume may not change how validation is chosen
        run_training(synthetic_set, tmp_path / "run", CONFIG, CVConfig(folds=1, seed=3), segmenter=segmenter,
                     resume=True)
