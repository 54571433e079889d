"""The DICOM result objects (SR, SC, GSPS, SEG, the ILO SR) against the reference tools and at pydicom level.

dciodvfy (dicom3tools) must report no errors for any of them, and only the warnings docs/dicom_conformance.md
explains; dsrdump (dcmtk) must show the TID 1500 tree. Both are skipped, with the reason, where not installed.
The results are the tiny head's on a real radiograph (RG1_UNCR, 1955 x 1841 CR), with a two-lung mask of the
right size drawn in, so that the zones, outlines and segments have lungs to describe whatever the test segmenter finds.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import replace
from pathlib import Path

import numpy as np
import pydicom
import pytest

from engine.diagnoser import Diagnoser
from engine.dicom_results.scheme import ALGORITHM, SCHEME, HeadIdentity, software_version
from engine.errors import UnsupportedImageError
from engine.export import EXPORT_KINDS, export_case, export_not_diagnosed_report
from engine.flags import Flag
from engine.ilo.sr import export_reading_sr
from engine.ilo.zone_evidence import ZoneEvidence, ZoneEvidenceReport
from engine.ilo.zones import lung_zones
from engine.io import load_image
from engine.segment import LungSegmenter
from tests.dicom_factory import PHI_VALUES, chest_like, content_items, make_dicom
from tests.engine.ilo.readings import ABNORMAL, reading
from tests.head_factory import make_tiny_head

ZONE_NAMES = ("right_upper", "right_middle", "right_lower", "left_upper", "left_middle", "left_lower")
# The warnings dciodvfy may give, each explained in docs/dicom_conformance.md.
EXPLAINED_WARNINGS = (
    r"Missing attribute or value that would be needed to build DICOMDIR - Study (Date|Time|ID)",  # de-identified
    r"Unrecognized defined term <99PNEUMO(LLM|ILO)> for value 1 of attribute <Coding Scheme Designator>",
    r"Value dubious for this VR - \(0x0008,0x0090\) PN Referring Physician's Name",  # the source's own value
)


@pytest.fixture(autouse=True)
def private_data(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PNEUMOLLM_DATA", str(tmp_path_factory.getbasetemp() / "validation-user-data"))


def two_lungs(rows: int, columns: int) -> np.ndarray:
    """Two lung-shaped ellipses (the shape ``chest_like`` draws), the right lung on the image's left."""
    yy, xx = np.mgrid[0:rows, 0:columns].astype(np.float32)
    mask = np.zeros((rows, columns), bool)
    for cx in (0.3, 0.7):
        mask |= ((xx / columns - cx) / 0.16) ** 2 + ((yy / rows - 0.5) / 0.32) ** 2 < 1
    return mask


def with_lungs(result):
    """``result`` with a plausible two-lung mask and the crop box around it (not a fallback)."""
    mask = two_lungs(*result.lung_crop.mask.shape)
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    box = (int(cols[0]), int(rows[0]), int(cols[-1]) + 1, int(rows[-1]) + 1)
    return replace(result, lung_crop=replace(result.lung_crop, mask=mask, box=box, fallback=False, flags=()))


@pytest.fixture(scope="module")
def diagnoser(tmp_path_factory: pytest.TempPathFactory) -> Diagnoser:
    folder = tmp_path_factory.mktemp("validation-head")
    return Diagnoser(make_tiny_head(folder / "head", with_map=False), segmenter=LungSegmenter(weights=None))


@pytest.fixture(scope="module")
def radiograph(dicom_dir: Path, diagnoser: Diagnoser):
    image = load_image(dicom_dir / "RG1_UNCR.dcm")
    return image, with_lungs(diagnoser.predict(image))


def evidence_report() -> ZoneEvidenceReport:
    zones = tuple(ZoneEvidence(name, 100, (0, 0, 10, 10), 0.05 * i, 1 / 6) for i, name in enumerate(ZONE_NAMES))
    return ZoneEvidenceReport(zones, 600, 0.7)


@pytest.fixture(scope="module")
def written(radiograph, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Every object we write, de-identified (the default) and identified (the PACS node's)."""
    image, result = radiograph
    folder = tmp_path_factory.mktemp("objects")
    out = {}
    for kind in ("sr", "sc", "pr", "seg"):
        for identified in (False, True):
            source = image if kind == "sc" else image.meta  # the header-only kinds get what the PACS node has
            name = f"{kind}{'-identified' if identified else ''}"
            out[name] = export_case(kind, folder / f"{name}.dcm", source, result, identified=identified)
    out["ilo-sr"] = export_reading_sr(folder / "ilo.dcm", image, reading(ABNORMAL), evidence=evidence_report(),
                                     reader_id="B-12345")
    head = HeadIdentity(result.profile, result.model_id, result.positive_label)  # a case the head refused unseen
    out["sr-not-diagnosed"] = export_not_diagnosed_report(folder / "nd.dcm", image.meta, head,
                                                          ["adult patient (62 years); the head reads 1-5 years"],
                                                          identified=True)
    return out


def dciodvfy(path: Path) -> tuple[list[str], list[str]]:
    found = subprocess.run(["dciodvfy", str(path)], capture_output=True, text=True, timeout=120)
    lines = (found.stdout + found.stderr).splitlines()
    return [line for line in lines if line.startswith("Error")], [line for line in lines if line.startswith("Warning")]


@pytest.mark.parametrize("name", ["sr", "sr-identified", "sc", "sc-identified", "pr", "pr-identified", "seg",
                                  "seg-identified", "ilo-sr", "sr-not-diagnosed"])
def test_dciodvfy_finds_no_errors_and_only_explained_warnings(written: dict[str, Path], name: str) -> None:
    if shutil.which("dciodvfy") is None:
        pytest.skip("dciodvfy (dicom3tools) is not installed: apt-get install dicom3tools")
    errors, warnings = dciodvfy(written[name])
    assert not errors, f"dciodvfy: {errors}"
    unexplained = [w for w in warnings if not any(re.search(pattern, w) for pattern in EXPLAINED_WARNINGS)]
    assert not unexplained, f"warnings docs/dicom_conformance.md does not explain: {unexplained}"


def test_dsrdump_shows_the_measurement_report_tree(written: dict[str, Path]) -> None:
    if shutil.which("dsrdump") is None:
        pytest.skip("dsrdump (dcmtk) is not installed: apt-get install dcmtk")
    tree = subprocess.run(["dsrdump", str(written["sr"])], capture_output=True, text=True, timeout=120).stdout
    assert '<CONTAINER:(,,"Imaging Measurement Report")' in tree
    assert '"Image Library"' in tree and '"Imaging Measurements"' in tree
    assert tree.count('"Measurement Group")') == 7  # the image-level result and the six zones
    assert '(121007,DCM,"Device")' in tree and "SCOORD" in tree


def named(items: list, meaning: str) -> list:
    return [i for i in items if "ConceptNameCodeSequence" in i and i.ConceptNameCodeSequence[0].CodeMeaning == meaning]


def test_sr_is_a_tid1500_report_of_the_result(radiograph, written: dict[str, Path]) -> None:
    image, result = radiograph
    sr = pydicom.dcmread(written["sr-identified"])
    assert sr.SOPClassUID == "1.2.840.10008.5.1.4.1.1.88.33"
    assert sr.ContentTemplateSequence[0].TemplateIdentifier == "1500"
    assert sr.ConceptNameCodeSequence[0].CodeValue == "126000"  # Imaging Measurement Report
    schemes = {item.CodingSchemeDesignator: item for item in sr.CodingSchemeIdentificationSequence}
    assert SCHEME in schemes and schemes[SCHEME].CodingSchemeName
    items = content_items(sr)
    finding = [i for i in named(items, "Finding") if i.ValueType == "CODE"][0].ConceptCodeSequence[0]
    assert (finding.CodingSchemeDesignator, finding.CodeValue) == (SCHEME, "FINDING")  # "abnormal" has no SCT code
    presence = named(items, finding.CodeMeaning)[0].ConceptCodeSequence[0]
    assert presence.CodeMeaning == ("Present" if result.decision.flagged else "Absent")
    probability = named(items, f"Probability of {result.positive_label}")[0].MeasuredValueSequence[0]
    assert float(probability.NumericValue) == pytest.approx(result.probability, abs=1e-5)
    assert probability.MeasurementUnitsCodeSequence[0].CodeValue == "{probability}"
    assert float(named(items, "Operating threshold")[0].MeasuredValueSequence[0].NumericValue) == \
        pytest.approx(result.threshold)
    images = {i.ReferencedSOPSequence[0].ReferencedSOPInstanceUID for i in items if i.ValueType == "IMAGE"}
    assert images == {image.meta.sop_instance_uid}  # identified: the source's own instance
    regions = [i for i in items if i.ValueType == "SCOORD"]
    assert len(regions) == 6 and {r.GraphicType for r in regions} == {"POLYLINE"}
    for region in regions:
        points = np.asarray(region.GraphicData, float).reshape(-1, 2)
        assert np.allclose(points[0], points[-1])  # closed
        assert points[:, 0].min() >= 0 and points[:, 0].max() <= image.meta.columns
        assert region.ContentSequence[0].ReferencedSOPSequence[0].ReferencedSOPInstanceUID == \
            image.meta.sop_instance_uid
    zones = [i for i in named(items, "Tracking Identifier") if i.TextValue.startswith("ILO zone")]
    assert len(zones) == 6
    sites = [i.ConceptCodeSequence[0].CodeMeaning for i in named(items, "Finding Site")]
    assert sites.count("Upper zone of lung") == 2 and sites.count("Lower zone of lung") == 2
    assert named(items, "Algorithm Name")[0].TextValue == ALGORITHM
    assert named(items, "Algorithm Version")[0].TextValue == software_version()
    assert any(result.model_id in i.TextValue for i in named(items, "Algorithm Parameters"))
    assert named(items, "Device Observer Name")[0].TextValue == ALGORITHM


def test_sr_zone_geometry_follows_the_mask(radiograph, tmp_path: Path) -> None:
    image, result = radiograph
    sr = pydicom.dcmread(export_case("sr", tmp_path / "sr.dcm", image.meta, result))
    regions = [i for i in content_items(sr) if i.ValueType == "SCOORD"]
    zones = lung_zones(result.lung_mask)
    for region, zone in zip(regions, zones.zones, strict=True):
        points = np.asarray(region.GraphicData, float).reshape(-1, 2)
        x0, y0, x1, y1 = zone.box
        assert points[:, 0].min() == pytest.approx(x0, abs=2) and points[:, 0].max() == pytest.approx(x1, abs=2)
        assert points[:, 1].min() == pytest.approx(y0, abs=2) and points[:, 1].max() == pytest.approx(y1, abs=2)


def test_sr_carries_zone_evidence_when_given(radiograph, tmp_path: Path) -> None:
    from engine.export import export_structured_report

    image, result = radiograph
    plain = content_items(pydicom.dcmread(export_structured_report(tmp_path / "a.dcm", image.meta, result)))
    assert not named(plain, "Occlusion evidence (model, not a reading)")
    report = evidence_report()
    out = export_structured_report(tmp_path / "b.dcm", image.meta, result, evidence=report)
    items = content_items(pydicom.dcmread(out))
    values = [float(i.MeasuredValueSequence[0].NumericValue)
              for i in named(items, "Occlusion evidence (model, not a reading)")]
    assert values == pytest.approx([zone.occlusion_evidence for zone in report.zones])


def test_a_case_not_diagnosed_says_so_and_why(radiograph, tmp_path: Path) -> None:
    image, result = radiograph
    outside = result.with_warning(Flag("outside_intended_use", "a lateral view; the head reads frontal films"))
    assert not outside.decision.diagnosed
    items = content_items(pydicom.dcmread(export_case("sr", tmp_path / "sr.dcm", image.meta, outside)))
    decision = named(items, "Screening decision")[0].ConceptCodeSequence[0]
    assert decision.CodeMeaning == "Not diagnosed"
    finding = [i for i in named(items, "Finding") if i.ValueType == "CODE"][0].ConceptCodeSequence[0]
    assert named(items, finding.CodeMeaning)[0].ConceptCodeSequence[0].CodeMeaning == "Not diagnosed"
    assert any("lateral view" in i.TextValue for i in named(items, "Reason not diagnosed"))
    assert named(items, "PneumoLLM result")[0].TextValue == "not diagnosed"


def test_a_case_refused_before_the_model_ran_gets_a_report_without_a_score(radiograph,
                                                                          written: dict[str, Path]) -> None:
    image, result = radiograph
    sr = pydicom.dcmread(written["sr-not-diagnosed"])
    assert sr.ContentTemplateSequence[0].TemplateIdentifier == "1500"
    assert sr.PatientID == pydicom.dcmread(image.meta.path, stop_before_pixels=True).PatientID  # identified
    items = content_items(sr)
    assert named(items, "Screening decision")[0].ConceptCodeSequence[0].CodeMeaning == "Not diagnosed"
    assert named(items, "Reason not diagnosed")[0].TextValue.startswith("adult patient")
    assert named(items, "PneumoLLM result")[0].TextValue == "not diagnosed"
    assert not named(items, f"Probability of {result.positive_label}") and not named(items, "Operating threshold")
    assert not [i for i in items if i.ValueType == "SCOORD"]  # no zones: the model never saw the lungs
    assert any(result.model_id in i.TextValue for i in named(items, "Algorithm Parameters"))
    images = {i.ReferencedSOPSequence[0].ReferencedSOPInstanceUID for i in items if i.ValueType == "IMAGE"}
    assert images == {image.meta.sop_instance_uid}


def test_the_finding_is_snomed_coded_when_there_is_a_concept(radiograph, tmp_path: Path) -> None:
    image, result = radiograph
    labels = ("normal", "pneumoconiosis")
    sr = pydicom.dcmread(export_case("sr", tmp_path / "sr.dcm", image.meta, replace(result, labels=labels)))
    finding = [i for i in named(content_items(sr), "Finding") if i.ValueType == "CODE"][0].ConceptCodeSequence[0]
    assert (finding.CodingSchemeDesignator, finding.CodeValue) == ("SCT", "40122008")


def test_presentation_state_draws_over_the_source(radiograph, written: dict[str, Path]) -> None:
    image, result = radiograph
    pr = pydicom.dcmread(written["pr-identified"])
    assert pr.SOPClassUID == "1.2.840.10008.5.1.4.1.1.11.1"  # Grayscale Softcopy Presentation State
    series = pr.ReferencedSeriesSequence[0]
    assert series.SeriesInstanceUID == image.meta.series_uid
    assert series.ReferencedImageSequence[0].ReferencedSOPInstanceUID == image.meta.sop_instance_uid
    layers = {a.GraphicLayer: a for a in pr.GraphicAnnotationSequence}
    assert set(layers) == {"LUNGS", "ZONES", "CROP", "CAPTION"}
    assert len(layers["LUNGS"].GraphicObjectSequence) == 2 and len(layers["ZONES"].GraphicObjectSequence) == 6
    box = np.asarray(layers["CROP"].GraphicObjectSequence[0].GraphicData, float).reshape(-1, 2)
    x0, y0, x1, y1 = result.lung_crop.box
    assert (box.min(axis=0) == (x0, y0)).all() and (box.max(axis=0) == (x1, y1)).all()
    caption = layers["CAPTION"].TextObjectSequence[0].UnformattedTextValue
    assert caption.startswith(ALGORITHM) and "not for diagnostic use" in caption
    assert [t.UnformattedTextValue for t in layers["ZONES"].TextObjectSequence] == ["RU", "RM", "RL", "LU", "LM", "LL"]


def test_segmentation_holds_the_mask_and_the_zones(radiograph, written: dict[str, Path]) -> None:
    image, result = radiograph
    seg = pydicom.dcmread(written["seg-identified"])
    assert seg.SOPClassUID == "1.2.840.10008.5.1.4.1.1.66.4" and seg.SegmentationType == "BINARY"
    assert [s.SegmentLabel for s in seg.SegmentSequence][:1] == ["Lungs"] and len(seg.SegmentSequence) == 7
    frames = seg.pixel_array.astype(bool)
    assert frames.shape == (7, image.meta.rows, image.meta.columns)
    assert (frames[0] == result.lung_mask).all()
    zones = lung_zones(result.lung_mask)
    assert all((frames[i + 1] == zone.mask).all() for i, zone in enumerate(zones.zones))
    assert seg.ReferencedSeriesSequence[0].ReferencedInstanceSequence[0].ReferencedSOPInstanceUID == \
        image.meta.sop_instance_uid
    algorithm = seg.SegmentSequence[0].SegmentationAlgorithmIdentificationSequence[0]
    assert ALGORITHM in algorithm.AlgorithmName and algorithm.AlgorithmVersion == software_version()


def test_secondary_capture_references_its_source(radiograph, written: dict[str, Path]) -> None:
    image, _ = radiograph
    sc = pydicom.dcmread(written["sc-identified"], stop_before_pixels=True)
    assert sc.SourceImageSequence[0].ReferencedSOPInstanceUID == image.meta.sop_instance_uid
    assert sc.ImageLaterality == "U"


@pytest.mark.parametrize("kind", ["sr", "pr", "seg"])
def test_header_only_objects_are_de_identified_by_default(tmp_path: Path, diagnoser: Diagnoser, kind: str) -> None:
    source = make_dicom(tmp_path / "source.dcm", chest_like(300, 280), ViewPosition="PA", BodyPartExamined="CHEST")
    image = load_image(source)
    result = with_lungs(diagnoser.predict(image))
    out = pydicom.dcmread(export_case(kind, tmp_path / f"{kind}.dcm", image.meta, result))
    assert out.StudyInstanceUID != image.meta.study_uid and out.PatientIdentityRemoved == "YES"
    text = str(out)
    assert not any(value in text for value in PHI_VALUES.values())
    assert image.meta.sop_instance_uid not in text  # the reference is to the mapped instance
    identified = pydicom.dcmread(export_case(kind, tmp_path / f"{kind}-id.dcm", image.meta, result, identified=True))
    assert identified.StudyInstanceUID == image.meta.study_uid and str(identified.PatientName) == "Doe^Jane"


def test_export_case_kinds(radiograph, tmp_path: Path) -> None:
    image, result = radiograph
    assert {"sr", "sc", "pr", "seg"} <= set(EXPORT_KINDS)
    with pytest.raises(ValueError, match="draws on the pixels"):
        export_case("sc", tmp_path / "sc.dcm", image.meta, result)
    with pytest.raises(ValueError, match="unknown export kind"):
        export_case("rt", tmp_path / "x.dcm", image, result)


def test_pixel_objects_need_a_dicom_source(diagnoser: Diagnoser, tmp_path: Path) -> None:
    from PIL import Image

    Image.fromarray(chest_like(dtype=np.uint8, high=250)).save(tmp_path / "a.png")
    png = load_image(tmp_path / "a.png")
    result = diagnoser.predict(png)
    for kind in ("pr", "seg"):
        with pytest.raises(UnsupportedImageError, match="needs a DICOM source"):
            export_case(kind, tmp_path / f"{kind}.dcm", png, result)
