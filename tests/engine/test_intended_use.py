"""Intended use: DICOM tags outside what the head was trained for give a REVIEW flag, never a confident verdict."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pydicom
import pytest

from engine.diagnoser import Diagnoser
from engine.errors import UnsupportedImageError
from engine.flags import codes
from engine.intended_use import check, patient_age_years
from engine.model.checkpoint import load_checkpoint, write_card
from engine.model.head_card import IntendedUse
from tests.dicom_factory import chest_like, make_dicom
from tests.head_factory import make_tiny_head

PAEDIATRIC = IntendedUse(population="paediatric", age_years=(1.0, 5.0), views=("PA", "AP"), modalities=("CR", "DX"),
                         description="paediatric chest radiographs, 1–5 years")


@pytest.mark.parametrize(("tags", "years"), [
    ({"PatientAge": "045Y"}, 45.0), ({"PatientAge": "006M"}, 0.5), ({"PatientAge": "62"}, 62.0),
    ({"PatientBirthDate": "19400305", "StudyDate": "20040826"}, 64.5), ({"PatientAge": "bad"}, None), ({}, None),
])
def test_age_from_tags(tags: dict[str, str], years: float | None) -> None:
    ds = pydicom.Dataset()
    for key, value in tags.items():
        setattr(ds, key, value)
    age = patient_age_years(ds)
    assert age == pytest.approx(years, abs=0.1) if years is not None else age is None


def test_check_names_what_is_outside_but_not_the_age() -> None:
    ds = pydicom.Dataset()
    ds.PatientAge, ds.ViewPosition, ds.Modality = "064Y", "AP", "DX"
    flags = check(ds, PAEDIATRIC)
    assert codes(flags) == ["outside_intended_use"] and "064" not in flags[0].message and "64" not in flags[0].message
    ds.PatientAge = "004Y"
    assert check(ds, PAEDIATRIC) == ()
    ds.Modality = "MG"
    assert "modality MG" in check(ds, PAEDIATRIC)[0].message


def test_diagnoser_refuses_an_adult_film_for_a_paediatric_head(tmp_path: Path, segmenter) -> None:
    head = make_tiny_head(tmp_path / "head", with_map=False)
    write_card(head, replace(load_checkpoint(head).card, intended_use=PAEDIATRIC))
    diagnoser = Diagnoser(head, segmenter=segmenter)
    adult = make_dicom(tmp_path / "adult.dcm", chest_like(256, 256), ViewPosition="PA", PatientAge="058Y")
    with pytest.raises(UnsupportedImageError, match="intended use") as info:
        diagnoser.predict(adult)
    assert codes(info.value.flags) == ["outside_intended_use"]
    anyway = diagnoser.predict(adult, allow_flagged=True)
    assert "outside_intended_use" in codes(anyway.image_flags) and anyway.decision.diagnosed
    child = make_dicom(tmp_path / "child.dcm", chest_like(256, 256), ViewPosition="PA", PatientAge="003Y")
    assert diagnoser.predict(child).decision.diagnosed
    outcome = next(diagnoser.iter_diagnose([adult]))
    assert outcome.result is None and codes(outcome.error.flags) == ["outside_intended_use"]
