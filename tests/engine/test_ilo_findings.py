"""An ILO head's suggestion in the TID 1500 SR: coded, in the algorithm's measurement groups, never in a reading;
read back with pydicom and checked with dciodvfy (skipped where it is not installed)."""

from __future__ import annotations

import re
import shutil
from dataclasses import replace
from pathlib import Path

import pydicom
import pytest

from engine.dicom_results.scheme import SCHEME
from engine.export import export_case
from engine.flags import Flag
from engine.ilo.codes import ZONES
from engine.ilo.sr import SCHEME as ILO_SCHEME
from engine.ilo.suggestion import IloSuggestion
from tests.dicom_factory import content_items
from tests.engine.test_dicom_validation import EXPLAINED_WARNINGS, dciodvfy, diagnoser, named, private_data, radiograph

__all__ = ["diagnoser", "private_data", "radiograph"]  # the validation tests' fixtures, shared

SUGGESTION = IloSuggestion(profusion="1/2", category=1,
                           zone_probability={z: p for z, p in zip(ZONES, (0.9, 0.7, 0.1, 0.8, 0.2, 0.05), strict=True)},
                           zone_profusion={z: g for z, g in zip(ZONES, ("2/1", "1/1", "0/0", "1/2", "0/1", "0/-"),
                                                                strict=True)},
                           simulation=True)

SHAPED = replace(SUGGESTION, shape="q", shape_probability=0.7125, shape_output=True)


def code_of(item) -> tuple[str, str]:
    concept = item.ConceptCodeSequence[0]
    return concept.CodingSchemeDesignator, concept.CodeValue


@pytest.fixture
def ilo_sr(radiograph, tmp_path: Path) -> Path:
    image, result = radiograph
    return export_case("sr", tmp_path / "ilo-result.dcm", image.meta, replace(result, ilo=SUGGESTION))


def test_the_sr_carries_the_suggestion_as_coded_ai_findings(ilo_sr: Path) -> None:
    sr = pydicom.dcmread(ilo_sr)
    schemes = {item.CodingSchemeDesignator for item in sr.CodingSchemeIdentificationSequence}
    assert {SCHEME, ILO_SCHEME} <= schemes
    items = content_items(sr)
    assert code_of(named(items, "Suggested ILO profusion (model, not a reading)")[0]) == (ILO_SCHEME, "1/2")
    assert code_of(named(items, "Suggested ILO major category (model, not a reading)")[0]) == (SCHEME, "ILOCAT1")
    zones = [code_of(i) for i in named(items, "Suggested zone of small opacities (model)")]
    assert zones == [(ILO_SCHEME, z) for z in ("right_upper", "right_middle", "left_upper")]
    assert named(items, "Suggested shape/size (model)")[0].TextValue == "not predicted by this head"
    assert named(items, "ILO suggestion (model, not a reading)")[0].TextValue.startswith("SIMULATION")
    per_zone = [float(i.MeasuredValueSequence[0].NumericValue)
                for i in named(items, "Probability of small opacities in zone (model)")]
    assert per_zone == pytest.approx([SUGGESTION.zone_probability[z] for z in ZONES])
    grades = [code_of(i)[1] for i in named(items, "Suggested zone profusion (model, not a reading)")]
    assert grades == [SUGGESTION.zone_profusion[z] for z in ZONES]
    presence = [i.ConceptCodeSequence[0].CodeMeaning for i in named(items, "Small opacities in zone (model, not a "
                                                                           "reading)")]
    assert presence == ["Present", "Present", "Absent", "Present", "Absent", "Absent"]


def test_the_findings_are_the_algorithms_never_a_readers(ilo_sr: Path) -> None:
    sr = pydicom.dcmread(ilo_sr)
    items = content_items(sr)
    assert named(items, "Device Observer Name")  # the observer is the algorithm
    assert not named(items, "Person Observer Name")
    assert sr.SeriesDescription != "ILO classification (reader's reading)"
    # every AI finding sits in a measurement group that names the algorithm: the image's and the six zones'
    with_findings = [content_items(group) for group in named(items, "Measurement Group")
                     if named(content_items(group), "Suggested ILO profusion (model, not a reading)")
                     or named(content_items(group), "Suggested zone profusion (model, not a reading)")]
    assert len(with_findings) == 7
    assert all(named(inside, "Algorithm Name") for inside in with_findings)


def test_a_case_not_diagnosed_carries_no_ai_findings(radiograph, tmp_path: Path) -> None:
    image, result = radiograph
    refused = replace(result, ilo=SUGGESTION).with_warning(Flag("outside_intended_use", "a lateral view"))
    assert not refused.decision.diagnosed
    items = content_items(pydicom.dcmread(export_case("sr", tmp_path / "nd.dcm", image.meta, refused)))
    assert not named(items, "Suggested ILO profusion (model, not a reading)")
    assert not named(items, "Probability of small opacities in zone (model)")


def _assert_dciodvfy_accepts(path: Path) -> None:
    """No errors, and every warning one docs/dicom_conformance.md explains (skips without dicom3tools)."""
    if shutil.which("dciodvfy") is None:
        pytest.skip("dciodvfy (dicom3tools) is not installed: apt-get install dicom3tools")
    errors, warnings = dciodvfy(path)
    assert not errors, f"dciodvfy: {errors}"
    unexplained = [w for w in warnings if not any(re.search(pattern, w) for pattern in EXPLAINED_WARNINGS)]
    assert not unexplained, f"warnings docs/dicom_conformance.md does not explain: {unexplained}"


def test_dciodvfy_accepts_the_sr_with_ai_findings(ilo_sr: Path) -> None:
    _assert_dciodvfy_accepts(ilo_sr)


def test_a_suggested_shape_is_coded_with_its_probability_and_dciodvfy_accepts_it(radiograph, tmp_path: Path) -> None:
    image, result = radiograph
    out = export_case("sr", tmp_path / "shaped.dcm", image.meta, replace(result, ilo=SHAPED))
    items = content_items(pydicom.dcmread(out))
    assert code_of(named(items, "Suggested primary shape/size (model, not a reading)")[0]) == (ILO_SCHEME, "q")
    chance = named(items, "Probability of the suggested shape/size (model)")[0]
    assert float(chance.MeasuredValueSequence[0].NumericValue) == pytest.approx(0.7125)
    assert named(items, "Suggested shape/size (model)")[0].TextValue.startswith("q (rounded, 1.5-3 mm")
    plain = content_items(pydicom.dcmread(export_case("sr", tmp_path / "plain.dcm", image.meta,
                                                      replace(result, ilo=SUGGESTION))))
    assert not named(plain, "Suggested primary shape/size (model, not a reading)")
    assert not named(plain, "Probability of the suggested shape/size (model)")
    _assert_dciodvfy_accepts(out)


def _reading_sr_containers(out: Path) -> dict:
    """The reader's SR's top containers by code, after dciodvfy found no errors in it (when it is installed)."""
    if shutil.which("dciodvfy") is not None:
        errors, _warnings = dciodvfy(out)
        assert not errors, f"dciodvfy: {errors}"
    return {item.ConceptNameCodeSequence[0].CodeValue: item for item in pydicom.dcmread(out).ContentSequence
            if item.ValueType == "CONTAINER"}


def test_the_readers_ilo_sr_carries_the_suggested_shape_in_the_models_container(dicom_dir: Path,
                                                                                tmp_path: Path) -> None:
    from engine.ilo.sr import export_reading_sr
    from engine.io import load_image
    from tests.engine.ilo.readings import NORMAL, reading

    containers = _reading_sr_containers(export_reading_sr(tmp_path / "ilo.dcm", load_image(
        dicom_dir / "RG1_UNCI.dcm"), reading(NORMAL), suggestion=SHAPED))
    model = content_items(containers["MODELSUG"])
    assert code_of(named(model, "Model's suggested primary shape/size")[0]) == (ILO_SCHEME, "q")
    assert float(named(model, "Model probability of the suggested shape")[0].MeasuredValueSequence[0]
                 .NumericValue) == pytest.approx(0.7125)
    assert named(model, "Model's suggested shape/size")[0].TextValue.startswith("q (")
    reader = content_items(containers["PARSEC"])
    assert not named(reader, "Small opacities, primary shape/size")  # the reader chose no shape


def test_the_readers_ilo_sr_keeps_the_suggestion_apart_from_the_reading(dicom_dir: Path, tmp_path: Path) -> None:
    from engine.ilo.sr import export_reading_sr
    from engine.io import load_image
    from tests.engine.ilo.readings import NORMAL, reading

    signed = reading(NORMAL)  # the reader saw nothing; the model suggested 1/2 in three zones
    containers = _reading_sr_containers(export_reading_sr(tmp_path / "ilo.dcm", load_image(
        dicom_dir / "RG1_UNCI.dcm"), signed, suggestion=SUGGESTION))
    model = content_items(containers["MODELSUG"])
    assert code_of(named(model, "Model's suggested profusion")[0]) == (ILO_SCHEME, "1/2")
    assert [code_of(i)[1] for i in named(model, "Model's suggested zone")] == list(SUGGESTION.zones)
    reader = content_items(containers["PARSEC"])  # the reader's parenchymal section: the reader's answer only
    assert not named(reader, "Profusion of small opacities") and not named(reader, "Zone of small opacities")
