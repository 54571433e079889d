"""``pneumollm zones`` and ``pneumollm report``: the JSON contract, the SR/PDF they write, one-line failures.

A tiny random head keeps these fast: the numbers are machinery, not a clinical result.
"""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pydicom
import pypdfium2 as pdfium
import pytest

from engine.ilo.codes import ZONES
from engine.ilo.csv_rows import COLUMNS
from engine.model.checkpoint import load_checkpoint, write_card
from engine.model.head_card import IntendedUse
from tests.dicom_factory import content_items
from tests.engine.ilo.readings import ABNORMAL
from tests.head_factory import make_tiny_head

CLI = [sys.executable, "-m", "commands"]


def run_cli(*args: str, data: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=600,
                          env={**os.environ, "PNEUMOLLM_DATA": str(data)})


@pytest.fixture(scope="module")
def head(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_tiny_head(tmp_path_factory.mktemp("ilo") / "head", with_map=False)


@pytest.fixture(scope="module")
def paediatric_head(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A head whose intended use is children: the RG1 films (adults, 64 y) are outside it, as with the shipped head."""
    folder = make_tiny_head(tmp_path_factory.mktemp("ilo-child") / "head", with_map=False)
    paediatric = IntendedUse(population="paediatric", age_years=(1.0, 5.0), views=("PA", "AP"),
                             modalities=("CR", "DX"), description="children 1-5 years")
    write_card(folder, replace(load_checkpoint(folder).card, intended_use=paediatric))
    return folder


def test_zones_json_contract(head: Path, dicom_dir: Path, tmp_path: Path) -> None:
    result = run_cli("zones", str(dicom_dir / "RG1_UNCR.dcm"), "--model", str(head), "--device", "cpu", "--json",
                     data=tmp_path)
    assert result.returncode == 0, result.stderr
    payload = json.loads(result.stdout)
    assert payload["ok"] is True
    zones = payload["zones"]
    assert [z["name"] for z in zones] == list(ZONES)
    assert sum(z["area_px"] for z in zones) == payload["lung_area_px"] > 100_000  # original-image pixels
    for zone in zones:
        assert set(zone) == {"name", "area_px", "box", "occlusion_evidence", "gradcam_mass"}
        assert set(zone["box"]) == {"x", "y", "width", "height"} and zone["box"]["width"] > 0
        assert isinstance(zone["occlusion_evidence"], float)
    assert sum(z["gradcam_mass"] for z in zones) == pytest.approx(1.0, abs=1e-3)
    right = [z["box"]["x"] for z in zones[:3]]
    left = [z["box"]["x"] for z in zones[3:]]
    assert max(right) < min(left)  # the patient's right lung is on the image's left


def test_report_with_reading_writes_sr_and_pdf(head: Path, dicom_dir: Path, tmp_path: Path) -> None:
    reading = tmp_path / "reading.json"
    reading.write_text(json.dumps(ABNORMAL))
    sr, pdf = tmp_path / "out.dcm", tmp_path / "out.pdf"
    result = run_cli("report", str(dicom_dir / "RG1_UNCR.dcm"), "--model", str(head), "--device", "cpu",
                     "--reading", str(reading), "--sr", str(sr), "--pdf", str(pdf), "--json", data=tmp_path)
    assert result.returncode == 0, result.stderr
    payload = json.loads(result.stdout)
    clue_ids = {clue["id"] for clue in payload["clues"]}
    assert {"reader.small_opacities", "model.score", "model.zone_evidence"} <= clue_ids
    assert payload["generator"] == "planner" and payload["draft"]["label"].startswith("DRAFT")
    for sentence in payload["draft"]["sentences"]:
        assert sentence["clue_ids"] and set(sentence["clue_ids"]) <= clue_ids and sentence["check"]["supported"]
    assert payload["truthfulness"]["fraction"] == 1.0
    assert payload["written"] == {"sr": str(sr), "pdf": str(pdf)}
    assert pydicom.dcmread(sr).SOPClassUID == "1.2.840.10008.5.1.4.1.1.88.33"
    assert pdf.read_bytes().startswith(b"%PDF")


def test_report_without_reading_is_suggestions_only(head: Path, dicom_dir: Path, tmp_path: Path) -> None:
    result = run_cli("report", str(dicom_dir / "RG1_UNCR.dcm"), "--model", str(head), "--device", "cpu", "--json",
                     data=tmp_path)
    assert result.returncode == 0, result.stderr
    payload = json.loads(result.stdout)
    assert all(s["suggestion"] for s in payload["draft"]["sentences"])
    assert all(c["source"] != "reader" for c in payload["clues"]) and payload["written"] == {}


@pytest.mark.parametrize(("content", "extra", "expected"), [
    (None, ["--sr", "x.dcm"], "Only a reader's signed reading is exported"),
    ("{not json", [], "not readable JSON"),
    (json.dumps({**ABNORMAL, "reader": ""}), [], "reader's name"),
])
def test_report_failures_are_one_line(head: Path, dicom_dir: Path, tmp_path: Path, content: str | None,
                                      extra: list[str], expected: str) -> None:
    args = ["report", str(dicom_dir / "RG1_UNCR.dcm"), "--model", str(head), "--json", *extra]
    if content is not None:
        (tmp_path / "r.json").write_text(content)
        args += ["--reading", str(tmp_path / "r.json")]
    result = run_cli(*args, data=tmp_path)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert expected in json.loads(result.stdout)["error"]


def test_a_signed_reading_exports_when_the_model_does_not_diagnose(paediatric_head: Path, dicom_dir: Path,
                                                                   tmp_path: Path) -> None:
    reading = tmp_path / "reading.json"
    reading.write_text(json.dumps(ABNORMAL))
    film = str(dicom_dir / "RG1_UNCI.dcm")
    refused = run_cli("report", film, "--model", str(paediatric_head), "--device", "cpu", "--json", data=tmp_path)
    assert refused.returncode == 1 and "intended use" in json.loads(refused.stdout)["error"]  # no reading: as before
    out = {kind: tmp_path / f"out.{kind if kind != 'sr' else 'dcm'}" for kind in ("sr", "pdf", "csv")}
    result = run_cli("report", film, "--model", str(paediatric_head), "--device", "cpu", "--reading", str(reading),
                     "--sr", str(out["sr"]), "--pdf", str(out["pdf"]), "--csv", str(out["csv"]), "--json",
                     data=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    payload = json.loads(result.stdout)
    assert payload["written"] == {kind: str(path) for kind, path in out.items()}
    assert payload["model"]["diagnosed"] is False and "intended use" in payload["model"]["note"]
    assert payload["zones"] is None and payload["truthfulness"]["fraction"] == 1.0
    assert any("did not diagnose" in s["text"] for s in payload["draft"]["sentences"])
    notes = [item.TextValue for item in content_items(pydicom.dcmread(out["sr"]))
             if item.ValueType == "TEXT" and item.ConceptNameCodeSequence[0].CodeValue == "EVNOTE"]
    assert notes and notes[0].startswith("Not diagnosed:") and "intended use" in notes[0]
    assert out["pdf"].read_bytes().startswith(b"%PDF")
    rows = list(csv.DictReader(out["csv"].open()))
    assert list(rows[0]) == list(COLUMNS) and rows[0]["profusion"] == "1/2" and rows[0]["reader"] == "Dr Test"


def test_a_raster_source_gets_pdf_and_csv_but_no_sr(head: Path, shared_data: Path, tmp_path: Path) -> None:
    reading = tmp_path / "reading.json"
    reading.write_text(json.dumps(ABNORMAL))
    film = str(shared_data / "samples" / "h0001.png")
    args = ["report", film, "--model", str(head), "--device", "cpu", "--reading", str(reading), "--json"]
    ok = run_cli(*args, "--pdf", str(tmp_path / "r.pdf"), "--csv", str(tmp_path / "r.csv"), "--niosh-pdf",
                 str(tmp_path / "n.pdf"), "--reader-id", "B-7", data=tmp_path)
    assert ok.returncode == 0, ok.stderr
    assert set(json.loads(ok.stdout)["written"]) == {"pdf", "csv", "niosh_pdf"}
    niosh = pdfium.PdfDocument(str(tmp_path / "n.pdf"))[0].get_textpage().get_text_range()
    assert "ROENTGENOGRAPHIC INTERPRETATION" in niosh and "B-7" in niosh and "h0001" not in niosh
    no_sr = run_cli(*args, "--sr", str(tmp_path / "r.dcm"), data=tmp_path)
    assert no_sr.returncode == 1 and "DICOM source" in json.loads(no_sr.stdout)["error"]


