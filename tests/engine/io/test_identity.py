"""The reading room's identity header: what it shows of the DICOM header, the age whichever way it is given."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.io.identity import read_identity
from tests.dicom_factory import chest_like, make_dicom


@pytest.mark.parametrize(("tags", "line"), [
    ({"PatientAge": "062Y", "PatientSex": "M", "PatientBirthDate": ""}, "age 62 y M"),  # no birth date: the age alone
    ({"PatientAge": "62", "PatientSex": "M", "PatientBirthDate": ""}, "age 62 y M"),  # no unit: years
    ({"PatientAge": "006M", "PatientBirthDate": ""}, "age 6 m"),
    ({"PatientBirthDate": "19400305", "StudyDate": "20040826", "PatientSex": "F"}, "b. 1940-03-05 (64 y) F"),
    ({"PatientBirthDate": "19400305", "PatientAge": "064Y"}, "b. 1940-03-05 (64 y)"),
])
def test_the_header_shows_the_age_from_either_tag(tmp_path: Path, tags: dict[str, str], line: str) -> None:
    identity = read_identity(make_dicom(tmp_path / "x.dcm", chest_like(64, 64), PatientName="Doe^Jane",
                                        PatientID="P1", **tags))
    assert identity is not None
    assert line in identity.lines()


def test_no_age_no_age_line(tmp_path: Path) -> None:
    identity = read_identity(make_dicom(tmp_path / "x.dcm", chest_like(64, 64), PatientName="Doe^Jane",
                                        PatientAge="bad"))
    assert identity is not None and not any("age" in line for line in identity.lines())
