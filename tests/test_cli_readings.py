"""``pneumollm readings``: the summary, the adjudication queue and the agreement table (text, CSV, JSON)."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from sklearn.metrics import cohen_kappa_score

from tests.engine.ilo.double_readings import PROFUSIONS, READERS, filled_store

CLI = [sys.executable, "-m", "commands", "readings"]


def run_cli(*args: str, data: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=300,
                          env={**os.environ, "PNEUMOLLM_DATA": str(data)})


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("readings")
    filled_store(folder / "ilo_readings.sqlite")  # where the viewer keeps them
    return folder


def test_agreement_reproduces_scikit_learn(data: Path, tmp_path: Path) -> None:
    done = run_cli("--agreement", "--rounds", "200", "--json", data=data)
    assert done.returncode == 0, done.stderr
    payload = json.loads(done.stdout)
    assert (payload["images"], payload["readers"], payload["awaiting_adjudication"]) == (12, 3, 4)
    row = next(r for r in payload["agreement"] if (r["scale"], r["rater_a"], r["rater_b"])
               == ("major category", "B-1001", "B-2002"))
    major_a = [0 if p[0] is None else int(p[0][0]) for p in PROFUSIONS.values()]
    major_b = [int(p[1][0]) for p in PROFUSIONS.values()]
    expected = cohen_kappa_score(major_a, major_b, weights="quadratic", labels=[0, 1, 2, 3])
    assert row["n"] == 12 and row["kappa"] == pytest.approx(expected, abs=1e-4)
    assert row["ci_low"] <= row["kappa"] <= row["ci_high"]
    text = run_cli("--agreement", "--rounds", "200", data=data)
    assert text.returncode == 0 and "kappa (quadratic)" in text.stdout and f"{expected:.3f}" in text.stdout
    as_csv = run_cli("--agreement", "--rounds", "200", "--csv", data=data)
    rows = list(csv.DictReader(io.StringIO(as_csv.stdout)))
    assert {r["rater_b"] for r in rows} >= {"B-2002", "model"}
    written = run_cli("--agreement", "--rounds", "50", "--csv", str(tmp_path / "a.csv"), "--ratings-csv",
                      str(tmp_path / "r.csv"), data=data)
    assert written.returncode == 0, written.stderr
    for name in ("a.csv", "r.csv"):
        content = (tmp_path / name).read_text()
        assert all(reader[0] not in content for reader in READERS.values())


def test_queue_and_one_line_failures(data: Path, tmp_path: Path) -> None:
    done = run_cli("--queue", "--json", data=data)
    assert done.returncode == 0, done.stderr
    assert [item["instance_key"] for item in json.loads(done.stdout)["queue"]] == ["sop:03", "sop:04", "sop:05",
                                                                                 "sop:09"]
    (tmp_path / "rule.json").write_text(json.dumps({"pleural": False}))
    fewer = json.loads(run_cli("--queue", "--json", "--rule", str(tmp_path / "rule.json"), data=data).stdout)
    assert "sop:04" not in [item["instance_key"] for item in fewer["queue"]]
    missing = run_cli("--store", str(tmp_path / "absent.sqlite"), data=data)
    assert missing.returncode == 1 and missing.stderr.count("\n") == 1 and "does not exist" in missing.stderr
    wrong = run_cli("--csv", data=data)
    assert wrong.returncode == 1 and "go with --agreement" in wrong.stderr
