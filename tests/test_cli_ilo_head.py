"""The CLI with an ILO head: ``predict --json`` keeps every field and adds ``ilo_suggestion``; ``triage`` writes its
usual CSV; ``zones`` refuses in one line (an ILO head's features have no occlusion probe). The shipped demonstration
head on a held-out phantom film (skipped when ``../shared/data/ilo-phantom`` is absent)."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from engine.ilo.codes import SHAPES
from engine.paths import RESOURCES

CLI = [sys.executable, "-m", "commands"]
ILO_HEAD = RESOURCES / "heads" / "ilo-phantom"
FILM = "ilo_sim_JPCNN003_6.png"  # patient JPCNN003 is in the head's hold-out


def run_cli(*args: str, data: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=600,
                          env={**os.environ, "PNEUMOLLM_DATA": str(data)})


@pytest.fixture(scope="module")
def film(shared_data: Path) -> Path:
    path = shared_data / "ilo-phantom" / "images" / FILM
    if not path.exists() or not (ILO_HEAD / "head.json").exists():
        pytest.skip("the ILO phantom film or the ILO demonstration head is missing")
    return path


def test_predict_adds_the_suggestion_and_keeps_every_field(film: Path, tmp_path: Path) -> None:
    done = run_cli("predict", str(film), "--model", str(ILO_HEAD), "--json", data=tmp_path)
    assert done.returncode == 0, done.stderr
    payload = json.loads(done.stdout)
    for field in ("ok", "probability", "label", "decision", "threshold", "threshold_source", "model_threshold",
                  "probabilities", "lung_crop", "quality_flags", "flags", "profile", "model_id", "grade"):
        assert field in payload
    suggestion = payload["ilo_suggestion"]
    assert suggestion["simulation"] is True and suggestion["shape_output"] is True
    if payload["decision"] == "flagged":  # a shape is suggested only for a film the head calls abnormal
        assert suggestion["shape"] in SHAPES and 0 < suggestion["shape_probability"] <= 1
    else:
        assert suggestion["shape"] is None and suggestion["shape_probability"] is None
    assert suggestion["profusion"] in {"0/-", "0/0", "0/1", "1/0", "1/1", "1/2", "2/1", "2/2", "2/3", "3/2", "3/3",
                                       "3/+"}
    assert set(suggestion["zone_profusion"]) == set(suggestion["zone_probability"]) and len(suggestion["zones"]) <= 6


def test_triage_writes_its_usual_csv(film: Path, tmp_path: Path) -> None:
    folder = tmp_path / "films"
    folder.mkdir()
    (folder / film.name).write_bytes(film.read_bytes())
    out = tmp_path / "r.csv"
    done = run_cli("triage", str(folder), "--out", str(out), "--model", str(ILO_HEAD), "--json", data=tmp_path)
    assert done.returncode == 0, done.stderr
    rows = list(csv.DictReader(out.open()))
    assert len(rows) == 1 and rows[0]["decision"] in ("flagged", "not flagged") and not rows[0]["error"]


def test_zones_refuses_an_ilo_head_in_one_line(film: Path, tmp_path: Path) -> None:
    done = run_cli("zones", str(film), "--model", str(ILO_HEAD), "--json", data=tmp_path)
    assert done.returncode != 0
    payload = json.loads(done.stdout)
    assert payload["ok"] is False and "ilo_suggestion" in payload["error"]
    assert len(done.stderr.strip().splitlines()) == 1
