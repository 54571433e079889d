"""Triage on a real Dask LocalCluster (2 worker processes, CPU): kills, resumes, the Parquet and CSV outputs."""

from __future__ import annotations

import csv
import os
import signal
from pathlib import Path
from typing import Any

import dask
import numpy as np
import pyarrow.parquet as pq
import pytest
from distributed import Client
from PIL import Image

from engine.diagnoser_spec import DiagnoserSpec
from engine.triage import COLUMNS, UNREADABLE
from engine.triage.cluster import (
    dataset_dir,
    diagnose_batch,
    local_cluster,
    parquet_to_csv,
    read_dataset,
    triage_on_cluster,
)
from tests.dicom_factory import chest_like
from tests.head_factory import make_tiny_head

pytestmark = pytest.mark.slow  # worker processes each load a Diagnoser


def poisoned_batch(items: list[tuple[str, str, str]], batch_size: int, plugin: str) -> list[dict[str, Any]]:
    """Like ``diagnose_batch``, but a file named ``poison`` kills the worker process, as a crashing decoder would."""
    if any("poison" in relative for _, relative, _ in items):
        os._exit(1)
    return diagnose_batch(items, batch_size, plugin)


@pytest.fixture(scope="module")
def cluster() -> Any:
    # one failure is enough to call a batch poisonous; the scheduler runs in this process, so this applies
    with dask.config.set({"distributed.scheduler.allowed-failures": 1}), local_cluster(2) as running:
        yield running


def write_images(folder: Path, count: int) -> None:
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for index in range(count):
        image = chest_like(180, 170, dtype=np.float32, high=220) + rng.normal(0, 8, (180, 170))
        Image.fromarray(np.clip(image, 0, 255).astype(np.uint8)).save(folder / f"case_{index:02d}.png")
    (folder / "broken.dcm").write_bytes(b"DICM" * 10)


def test_a_killed_worker_loses_nothing_and_a_rerun_skips_everything(cluster: Any, tmp_path: Path) -> None:
    head = make_tiny_head(tmp_path / "head", with_map=False)
    write_images(tmp_path / "in", 14)
    out = tmp_path / "results.parquet"
    spec = DiagnoserSpec(str(head), device="cpu", threads=1)
    killed: list[int] = []
    with Client(cluster) as client:
        def kill_once(progress: Any) -> None:
            if not killed:  # after the first batch lands, SIGKILL a worker (maybe mid-batch)
                pid = next(iter(client.run(os.getpid).values()))
                os.kill(pid, signal.SIGKILL)
                killed.append(pid)

        summary = triage_on_cluster(tmp_path / "in", out, spec, client=client, batch_size=2, progress=kill_once)
        assert killed
        rows, untrusted = read_dataset(out)
        assert untrusted == 0
        assert sorted(row.file for row in rows) == sorted(p.name for p in (tmp_path / "in").iterdir())
        assert summary.total == 15 and summary.unreadable == 1
        assert {row.decision for row in rows if row.file != "broken.dcm"} <= {"flagged", "not flagged"}
        assert pq.read_table(out).column_names == list(COLUMNS)

        again = triage_on_cluster(tmp_path / "in", out, spec, client=client, batch_size=2)
        assert again.skipped_existing == 15 and again.total == 15  # the unreadable one too: same bytes, same answer
        assert len(read_dataset(out)[0]) == 15  # nothing appended twice

    csv_out = tmp_path / "results.csv"
    assert parquet_to_csv(out, csv_out) == 15
    with open(csv_out, newline="") as handle:
        records = list(csv.DictReader(handle))
    assert tuple(records[0]) == COLUMNS
    probabilities = [float(r["probability"]) for r in records if r["probability"]]
    assert probabilities == sorted(probabilities, reverse=True)


def test_a_file_that_kills_workers_costs_one_row_not_the_run(cluster: Any, tmp_path: Path) -> None:
    head = make_tiny_head(tmp_path / "head", with_map=False)
    write_images(tmp_path / "in", 5)
    Image.fromarray(chest_like(180, 170, dtype=np.uint8, high=220)).save(tmp_path / "in" / "poison.png")
    out = tmp_path / "results.csv"
    with Client(cluster) as client:
        summary = triage_on_cluster(tmp_path / "in", out, DiagnoserSpec(str(head), device="cpu", threads=1),
                                    client=client, batch_size=3, task=poisoned_batch)
    with open(out, newline="") as handle:
        records = {r["file"]: r for r in csv.DictReader(handle)}
    assert len(records) == 7 and summary.total == 7
    assert records["poison.png"]["decision"] == UNREADABLE
    assert "crashed" in records["poison.png"]["error"]
    healthy = [name for name in records if name.startswith("case_")]
    assert all(records[name]["decision"] in ("flagged", "not flagged") for name in healthy)
    assert dataset_dir(out).is_dir()  # the journal beside the CSV
