"""The reading as a Comprehensive SR: coded, referencing its image, de-identified, model evidence kept apart."""

from __future__ import annotations

from pathlib import Path

import pydicom
import pytest

from engine.errors import UnsupportedImageError
from engine.ilo.sr import SCHEME, export_reading_sr
from engine.ilo.zone_evidence import ZoneEvidence, ZoneEvidenceReport
from engine.io import load_image
from tests.dicom_factory import content_items
from tests.engine.ilo.readings import ABNORMAL, NORMAL, reading


def _evidence() -> ZoneEvidenceReport:
    zones = tuple(ZoneEvidence(name, 100, (0, 0, 10, 10), 0.1 * i, 1 / 6)
                  for i, name in enumerate(("right_upper", "right_middle", "right_lower", "left_upper", "left_middle",
                                            "left_lower")))
    return ZoneEvidenceReport(zones, 600, 0.7)


def test_sr_codes_the_reading_and_references_the_image(dicom_dir: Path, tmp_path: Path) -> None:
    source = dicom_dir / "RG1_UNCI.dcm"
    image = load_image(source)
    out = export_reading_sr(tmp_path / "ilo.dcm", image, reading(ABNORMAL), evidence=_evidence(),
                            report_text="Signed report text.")
    sr = pydicom.dcmread(out)
    original = pydicom.dcmread(source, stop_before_pixels=True)
    assert sr.SOPClassUID == "1.2.840.10008.5.1.4.1.1.88.33"  # Comprehensive SR
    # De-identified (the default, PS3.15): new UIDs, but the SR still sits in the (mapped) study of the image
    # it references, and it records how it was de-identified.
    assert sr.StudyInstanceUID != original.StudyInstanceUID and sr.PatientIdentityRemoved == "YES"
    items = content_items(sr)
    images = [i for i in items if i.ValueType == "IMAGE"]
    assert images[0].ReferencedSOPSequence[0].ReferencedSOPInstanceUID != original.SOPInstanceUID
    identified = pydicom.dcmread(export_reading_sr(tmp_path / "ilo-identified.dcm", image, reading(ABNORMAL),
                                                   identified=True))
    assert identified.StudyInstanceUID == original.StudyInstanceUID
    referenced = [i for i in content_items(identified) if i.ValueType == "IMAGE"][0].ReferencedSOPSequence[0]
    assert referenced.ReferencedSOPInstanceUID == original.SOPInstanceUID
    coded = {(i.ConceptNameCodeSequence[0].CodeValue, i.ConceptCodeSequence[0].CodeValue)
             for i in items if i.ValueType == "CODE"}
    assert ("PROFUS", "1/2") in coded and ("LARGE", "LARGEA") in coded and ("SYMBOL", "ax") in coded
    assert ("PARENCH", "373066001") in coded  # SNOMED CT "Yes"
    assert ("CPA", "7771000") in coded  # SNOMED CT "Left"
    assert ("ZONE", "right_middle") in coded
    schemes = {i.ConceptNameCodeSequence[0].CodingSchemeDesignator for i in items}
    assert {SCHEME, "DCM"} <= schemes
    observers = [i for i in items if i.ValueType == "PNAME"]
    assert observers[0].PersonName.family_name == "Dr Test"
    texts = {i.ConceptNameCodeSequence[0].CodeValue: i.TextValue for i in items if i.ValueType == "TEXT"}
    assert texts["REPORT"] == "Signed report text." and "not a reading" in texts["EVNOTE"]
    assert sum(i.ConceptNameCodeSequence[0].CodeValue == "OCCLUSION" for i in items) == 6
    assert str(sr.PatientName) != str(original.PatientName)  # de-identified by default


def test_sr_refuses_raster_sources(shared_data: Path, tmp_path: Path) -> None:
    image = load_image(shared_data / "samples" / "h0001.png")
    with pytest.raises(UnsupportedImageError, match="DICOM source"):
        export_reading_sr(tmp_path / "x.dcm", image, reading(NORMAL))


def test_sr_of_a_reading_the_model_did_not_diagnose(dicom_dir: Path, tmp_path: Path) -> None:
    reason = "Not diagnosed: the patient's age is outside the ages it was trained on (1-5 years)."
    out = export_reading_sr(tmp_path / "normal.dcm", load_image(dicom_dir / "RG1_UNCI.dcm"), reading(NORMAL),
                            not_diagnosed=reason)
    items = content_items(pydicom.dcmread(out))
    names = [i.ConceptNameCodeSequence[0].CodeValue for i in items]
    assert "PROFUS" not in names and "LARGE" not in names  # 2A "no": unanswered, so not written
    assert "PARENCH" in names and "QUALITY" in names
    texts = {i.ConceptNameCodeSequence[0].CodeValue: i.TextValue for i in items if i.ValueType == "TEXT"}
    assert texts["EVNOTE"] == reason and "OCCLUSION" not in names


def test_sr_carries_the_film_quality_reasons(tmp_path: Path) -> None:
    from dataclasses import replace

    from engine.ilo.codes import QUALITY_REASONS
    from engine.ilo.sr import REASON_CODES
    from tests.dicom_factory import chest_like, make_dicom

    assert set(REASON_CODES) == set(QUALITY_REASONS) and max(map(len, REASON_CODES.values())) <= 16  # VR SH
    image = load_image(make_dicom(tmp_path / "film.dcm", chest_like(120, 100), ViewPosition="PA"))
    marked = replace(reading(ABNORMAL), quality_reasons=("underexposed", "improper_position", "other"),
                     quality_comment="rotated; motion")
    items = content_items(pydicom.dcmread(export_reading_sr(tmp_path / "ilo.dcm", image, marked)))
    reasons = [(i.ConceptCodeSequence[0].CodeValue, i.ConceptCodeSequence[0].CodeMeaning) for i in items
               if i.ValueType == "CODE" and i.ConceptNameCodeSequence[0].CodeValue == "QUALRSN"]
    assert reasons == [("UNDEREXP", "underexposed (light)"), ("POSITION", "improper position"),
                       ("OTHER", "other (say which in the comment)")]
    texts = {i.ConceptNameCodeSequence[0].CodeValue: i.TextValue for i in items if i.ValueType == "TEXT"}
    assert texts["QUALCOM"] == "rotated; motion"


def test_sr_names_the_reader_by_id_when_given(dicom_dir: Path, tmp_path: Path) -> None:
    image = load_image(dicom_dir / "RG1_UNCI.dcm")
    with_id = content_items(pydicom.dcmread(export_reading_sr(tmp_path / "id.dcm", image, reading(NORMAL),
                                                              reader_id=" B-12345 ")))
    identifiers = [i.TextValue for i in with_id if i.ValueType == "TEXT"
                   and i.ConceptNameCodeSequence[0].CodeValue == "128775"]  # DCM: identifier within the role
    assert identifiers == ["B-12345"]
    without = content_items(pydicom.dcmread(export_reading_sr(tmp_path / "no-id.dcm", image, reading(NORMAL))))
    assert not [i for i in without if i.ConceptNameCodeSequence[0].CodeValue == "128775"]
