"""One training run (training/finetune.py): the schedule, the optimizer's groups, sharding, the ordinal loss, and
``Trainer.fit`` on a handful of crops - events, progress files, cancel and resume."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from torch.nn import functional as F

import training.finetune as finetune
from engine.errors import Cancelled, TrainingError
from training.config import FinetuneConfig
from training.finetune import (
    Trainer,
    TrainingEvent,
    lr_factor,
    make_model,
    ordinal_loss,
    parameter_groups,
    predict_outputs,
    shard,
)

CONFIG = FinetuneConfig(profile="tiny-test", epochs=2, batch_size=4, warmup_epochs=1, augment=False, seed=5,
                        device="cpu")


def test_warm_up_rises_linearly_then_the_cosine_falls_to_zero() -> None:
    assert [lr_factor(step, 4, 12) for step in range(4)] == [0.25, 0.5, 0.75, 1.0]
    assert lr_factor(4, 4, 12) == pytest.approx(1.0)
    assert lr_factor(8, 4, 12) == pytest.approx(0.5)  # half-way through the decay
    falling = [lr_factor(step, 4, 12) for step in range(4, 13)]
    assert all(a > b for a, b in zip(falling, falling[1:], strict=False)) and falling[-1] == pytest.approx(0.0)
    assert lr_factor(40, 4, 12) == pytest.approx(0.0)  # past the end: stays at zero


def test_decay_only_on_trainable_matrices() -> None:
    model, _, _ = make_model(CONFIG)
    decay, no_decay = parameter_groups(model, 0.02)
    assert decay["weight_decay"] == 0.02 and no_decay["weight_decay"] == 0.0
    assert all(p.ndim >= 2 for p in decay["params"]) and all(p.ndim < 2 for p in no_decay["params"])
    trainable = {id(p) for p in model.parameters() if p.requires_grad}
    grouped = [id(p) for p in [*decay["params"], *no_decay["params"]]]
    assert len(grouped) == len(set(grouped)) and set(grouped) == trainable  # the frozen LLM never reaches AdamW
    assert len(trainable) < len(list(model.parameters()))


def test_the_plain_baseline_has_no_ordinal_head() -> None:
    with pytest.raises(TrainingError, match="no ordinal head"):
        make_model(FinetuneConfig(profile="tiny-test", baseline=True), grades=4)


def test_each_rank_gets_its_slice_and_never_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    batch = np.arange(7)
    assert shard(batch) is batch  # one process: the whole batch
    monkeypatch.setattr(finetune, "rank_and_world", lambda: (1, 3))
    assert shard(batch).tolist() == [1, 4]
    assert shard(np.array([9])).tolist() == [9]  # fewer samples than ranks: repeated, not empty


def test_ordinal_loss_is_coral_binary_cross_entropy() -> None:
    grades = torch.tensor([0, 1, 3])
    logits = torch.tensor([[-1.0, 0.5, 2.0], [0.3, -0.2, 0.0], [1.0, 1.0, -3.0]])
    targets = torch.tensor([[0.0, 0.0, 0.0], [1.0, 0.0, 0.0], [1.0, 1.0, 1.0]])  # "grade > k" for k = 0, 1, 2
    assert ordinal_loss(logits, grades) == pytest.approx(F.binary_cross_entropy_with_logits(logits, targets).item())
    confident = (targets * 2 - 1) * 8.0
    assert ordinal_loss(confident, grades) < 1e-3 < ordinal_loss(-confident, grades)


def crops(count: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """224x224 grey crops of two visibly different classes, alternating."""
    rng = np.random.default_rng(seed)
    images = rng.normal(110, 8, (count, 224, 224))
    labels = np.arange(count) % 2
    images[labels == 1, 60:140, 120:190] += 70  # class 1: an opacity in the right lung
    return np.clip(images, 0, 255).astype(np.uint8), labels


@pytest.fixture(scope="module")
def data() -> tuple[np.ndarray, ...]:
    return (*crops(8, 0), *crops(6, 1))


def test_fit_reports_every_step_and_writes_resumable_progress(data: tuple[np.ndarray, ...], tmp_path: Path) -> None:
    train_x, train_y, val_x, val_y = data
    model, preprocess, _ = make_model(CONFIG)
    events: list[TrainingEvent] = []
    result = Trainer(CONFIG, model, preprocess, run_dir=tmp_path, callback=events.append).fit(
        train_x, train_y, val_x, val_y)
    steps = [(e.epoch, e.step) for e in events if e.stage == "training"]
    assert steps == [(1, 1), (1, 2), (2, 1), (2, 2)]  # 8 crops in batches of 4, two epochs
    assert [e.epoch for e in events if e.stage == "validated"] == [1, 2]
    assert all(e.eta_s is not None and e.eta_s >= 0 for e in events if e.stage == "training")
    assert [record["epoch"] for record in result.history] == [1, 2] and result.best_epoch in (1, 2)
    best = max(result.history, key=lambda record: (record["val_auc"], -record["val_loss"]))
    assert result.best_epoch == best["epoch"]
    assert 0.0 <= result.threshold <= 1.0 and result.temperature > 0
    assert result.val_positive.tolist() == (val_y == 1).tolist() and result.val_probability.shape == (6,)
    assert set(result.val_metrics) == {"sensitivity", "specificity", "accuracy", "auc", "avg"}
    progress = json.loads((tmp_path / "progress.json").read_text())
    assert progress["epoch"] == 2 and progress["config"] == CONFIG.to_json()
    assert sorted(p.name for p in tmp_path.glob("*.safetensors")) == ["best.safetensors", "last-epoch-2.safetensors"]
    # A resumed run that has nothing left to do trains no step and returns the same choice.
    again, _, _ = make_model(CONFIG)
    resumed_events: list[TrainingEvent] = []
    resumed = Trainer(CONFIG, again, preprocess, run_dir=tmp_path, callback=resumed_events.append).fit(
        train_x, train_y, val_x, val_y, resume=True)
    assert resumed_events == [] and resumed.history == result.history and resumed.best_epoch == result.best_epoch
    assert resumed.threshold == pytest.approx(result.threshold) and resumed.temperature == pytest.approx(
        result.temperature, rel=1e-4)


def test_a_cancelled_fit_stops_before_its_next_step(data: tuple[np.ndarray, ...], tmp_path: Path) -> None:
    train_x, train_y, val_x, val_y = data
    model, preprocess, _ = make_model(CONFIG)
    events: list[TrainingEvent] = []
    trainer = Trainer(CONFIG, model, preprocess, run_dir=tmp_path, callback=events.append,
                      cancelled=lambda: len(events) >= 1)
    with pytest.raises(Cancelled):
        trainer.fit(train_x, train_y, val_x, val_y)
    assert [(e.stage, e.step) for e in events] == [("training", 1)] and not (tmp_path / "progress.json").exists()


def test_predictions_leave_the_mode_as_they_found_it(data: tuple[np.ndarray, ...]) -> None:
    _, _, val_x, _ = data
    model, preprocess, _ = make_model(CONFIG)
    trainer = Trainer(CONFIG, model, preprocess)
    model.train()
    logits, embeddings, grades = predict_outputs(model, val_x[:3], preprocess, trainer.runtime, batch_size=2)
    assert model.training and logits.shape == (3, 2) and embeddings.shape == (3, model.width) and grades is None
    empty = predict_outputs(model, val_x[:0], preprocess, trainer.runtime)
    assert empty[0].shape == (0, 2) and empty[1].shape == (0, model.width) and empty[2] is None
