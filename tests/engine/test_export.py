"""Exports: SR and SC re-read with pydicom, de-identified by default, the source never modified; audit log."""

from __future__ import annotations

import hashlib
import html
import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pydicom
import pytest
from PIL import Image

from engine.audit import AuditLog
from engine.decision import decide
from engine.diagnoser import Diagnoser
from engine.errors import UnsupportedImageError
from engine.export import export_html_report, export_png, export_secondary_capture, export_structured_report
from engine.flags import Flag, messages
from engine.io import load_image
from engine.notices import DISCLAIMER
from engine.reference_map import domain_flags, out_of_domain_flag
from engine.segment import LungSegmenter
from tests.dicom_factory import PHI_VALUES, chest_like, content_items, make_dicom
from tests.head_factory import make_tiny_head


@pytest.fixture(autouse=True)
def private_data(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """The de-identification key lives in the user's data folder: a private one for these tests."""
    monkeypatch.setenv("PNEUMOLLM_DATA", str(tmp_path_factory.getbasetemp() / "export-user-data"))


@pytest.fixture(scope="module")
def case(tmp_path_factory: pytest.TempPathFactory):
    folder = tmp_path_factory.mktemp("case")
    diagnoser = Diagnoser(make_tiny_head(folder / "head", with_map=False), segmenter=LungSegmenter(weights=None))
    source = make_dicom(folder / "source.dcm", chest_like(300, 280), ViewPosition="PA", StudyDescription="CHEST")
    image = load_image(source)
    return source, image, diagnoser.predict(image), diagnoser


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_structured_report_round_trip(case, tmp_path: Path) -> None:
    source, image, result, _ = case
    before = digest(source)
    out = export_structured_report(tmp_path / "sr.dcm", image, result)
    sr = pydicom.dcmread(out)
    assert sr.SOPClassUID == "1.2.840.10008.5.1.4.1.1.88.33"  # Comprehensive SR
    assert sr.StudyInstanceUID != image.meta.study_uid  # de-identified: new UIDs (PS3.15 Annex E)
    assert sr.PatientIdentityRemoved == "YES"
    assert sr.ContentTemplateSequence[0].TemplateIdentifier == "1500"  # TID 1500 Measurement Report
    items = {item.ConceptNameCodeSequence[0].CodeMeaning: item for item in content_items(sr)}
    probability = float(items[f"Probability of {result.labels[result.positive_index]}"]
                        .MeasuredValueSequence[0].NumericValue)
    assert probability == pytest.approx(result.probability, abs=1e-5)
    assert items["PneumoLLM result"].TextValue == result.label
    assert DISCLAIMER[:40] in items["Disclaimer"].TextValue
    text = str(sr)
    assert not any(value in text for value in PHI_VALUES.values())
    assert digest(source) == before


def test_a_held_back_case_has_no_score_in_its_sr(case, tmp_path: Path) -> None:
    """Held back as unlike any training radiograph: the SR says "not diagnosed" and why, and carries no probability
    (as the screen and triage show none); asked for by the reader, the forced result has its score again."""
    _, image, result, _ = case
    held = result.with_warning(domain_flags(99.9)[0])
    assert not held.decision.diagnosed
    items = content_items(pydicom.dcmread(export_structured_report(tmp_path / "held.dcm", image, held)))
    names = [item.ConceptNameCodeSequence[0].CodeMeaning for item in items]
    assert not any(name.startswith("Probability of") for name in names)
    texts = {item.ConceptNameCodeSequence[0].CodeMeaning: item.TextValue for item in items if "TextValue" in item}
    assert texts["PneumoLLM result"] == "not diagnosed" and "reader asks" in texts["Reason not diagnosed"]
    forced = replace(held, decision=decide(held.probability, held.threshold, held.flags, review_allowed=True))
    items = content_items(pydicom.dcmread(export_structured_report(tmp_path / "forced.dcm", image, forced)))
    assert any(item.ConceptNameCodeSequence[0].CodeMeaning.startswith("Probability of") for item in items)


def test_identified_export_keeps_demographics(case, tmp_path: Path) -> None:
    _, image, result, _ = case
    sr = pydicom.dcmread(export_structured_report(tmp_path / "sr.dcm", image, result, identified=True))
    assert str(sr.PatientName) == PHI_VALUES["PatientName"]
    assert sr.StudyInstanceUID == image.meta.study_uid


def test_secondary_capture_round_trip(case, tmp_path: Path) -> None:
    source, image, result, _ = case
    before = digest(source)
    sc = pydicom.dcmread(export_secondary_capture(tmp_path / "sc.dcm", image, result))
    assert sc.SOPClassUID == "1.2.840.10008.5.1.4.1.1.7"
    assert sc.pixel_array.ndim == 3 and sc.pixel_array.shape[-1] == 3
    assert sc.StudyInstanceUID != image.meta.study_uid and sc.SeriesInstanceUID != image.meta.series_uid
    sr = pydicom.dcmread(export_structured_report(tmp_path / "sr.dcm", image, result))
    assert sc.StudyInstanceUID == sr.StudyInstanceUID and sc.PatientID == sr.PatientID  # they still group
    assert str(sc.PatientName) == "Anonymous^" and sc.PatientID != PHI_VALUES["PatientID"]
    assert sc.BurnedInAnnotation == "YES" and sc.pixel_array.shape[0] > 300  # the result lines below the image
    assert digest(source) == before


def test_png_and_html(case, tmp_path: Path) -> None:
    _, image, result, _ = case
    png = Image.open(export_png(tmp_path / "view.png", image, result))
    assert png.width == 280 and png.height > 300  # the image, then the burned-in result lines below it
    assert np.asarray(png)[:300, :, 1].max() >= 200  # the green lung contour or the yellow box is drawn
    page = export_html_report(tmp_path / "r.html", image, result).read_text()
    assert "Not for diagnostic use" in page and f"{result.probability:.3f}" in page
    assert "data:image/png;base64," in page
    assert not any(value in page for value in PHI_VALUES.values()) and "source.dcm" not in page


def test_sr_needs_a_dicom_source(case, tmp_path: Path) -> None:
    diagnoser = case[3]
    Image.fromarray(chest_like(dtype=np.uint8, high=250)).save(tmp_path / "a.png")
    png = load_image(tmp_path / "a.png")
    result = diagnoser.predict(png)
    with pytest.raises(UnsupportedImageError, match="DICOM SR needs a DICOM source"):
        export_structured_report(tmp_path / "sr.dcm", png, result)
    assert pydicom.dcmread(export_secondary_capture(tmp_path / "sc.dcm", png, result)).Modality == "OT"


def test_audit_log_has_no_phi(case, tmp_path: Path) -> None:
    _, image, result, _ = case
    log = AuditLog(tmp_path / "audit.jsonl")
    log.record(image.meta, result, "accepted")
    entry = log.record(image.meta, result, "overridden", final_decision=not result.decision)
    assert entry["final_decision"] != entry["decision"]
    lines = (tmp_path / "audit.jsonl").read_text().splitlines()
    assert len(lines) == 2 and json.loads(lines[0])["action"] == "accepted"
    text = "\n".join(lines)
    assert image.meta.study_uid not in text and "source.dcm" not in text
    assert not any(value in text for value in PHI_VALUES.values())
    with pytest.raises(ValueError):
        log.record(image.meta, result, "ignored")


def test_every_export_carries_every_warning(case, tmp_path: Path) -> None:
    """The decision, the threshold used, every flag shown on screen, the model id and the notice, in each export."""
    _, image, result, _ = case
    result = result.with_warning(out_of_domain_flag(97.0)).with_warning(Flag("cpu_fallback", "ran on the CPU"))
    result = result.at_threshold(0.37)
    wanted = [result.decision.describe(), "0.370", result.model_id, DISCLAIMER, *messages(result.flags)]
    png = Image.open(export_png(tmp_path / "v.png", image, result))
    page = html.unescape(export_html_report(tmp_path / "r.html", image, result).read_text())
    sc = pydicom.dcmread(export_secondary_capture(tmp_path / "sc.dcm", image, result))
    sr = pydicom.dcmread(export_structured_report(tmp_path / "sr.dcm", image, result))
    sr_text = "\n".join(str(getattr(item, "TextValue", "")) for item in content_items(sr))
    sr_text += "\n" + "\n".join(f"{item.MeasuredValueSequence[0].NumericValue:.3f}" for item in content_items(sr)
                                 if "MeasuredValueSequence" in item)
    for name, text in (("PNG", png.text["Description"]), ("HTML", page), ("SC", sc.ImageComments), ("SR", sr_text)):
        missing = [line for line in wanted if line not in text]
        assert not missing, f"{name} export lacks {missing}"
