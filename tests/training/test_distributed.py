"""Data-parallel fine-tuning under ``accelerate launch`` with two CPU processes (gloo), tiny dimensions."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import numpy as np
import pytest

from commands.train_cmd import without_launcher_flags
from engine.model.checkpoint import load_checkpoint
from training.distributed import launch
from training.finetune import shard


def test_the_launcher_flags_are_not_passed_on() -> None:
    argv = ["train", "data", "--out", "o", "--launcher", "accelerate", "--num-processes=2", "--grad-accum", "2",
            "--json"]
    assert without_launcher_flags(argv) == ["train", "data", "--out", "o", "--json"]


def test_a_single_process_keeps_the_whole_batch() -> None:
    assert shard(np.array([3, 1, 2])).tolist() == [3, 1, 2]


@pytest.mark.slow
def test_two_processes_train_one_head_and_report_once(synthetic_set: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    argv = ["train", str(synthetic_set), "--out", str(out), "--profile", "tiny-test", "--epochs", "2",
            "--folds", "1", "--batch-size", "8", "--device", "cpu", "--json"]
    command, env = launch(argv, 2, cpu=True, mixed_precision="no", accumulation=2, module="tests.training.ddp_entry")
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "ddp-entry rank 0 of 2 exit 0" in result.stderr and "ddp-entry rank 1 of 2 exit 0" in result.stderr
    report = json.loads(result.stdout)  # one JSON document: only the main process printed
    assert report["ok"] and Path(report["model"]) == out / "model"
    checkpoint = load_checkpoint(out / "model")
    assert checkpoint.card.training["epochs"] == 2 and 0.0 < checkpoint.card.threshold < 1.0
    assert (out / "final" / "progress.json").exists()
