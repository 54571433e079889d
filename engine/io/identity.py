"""Who and what an image belongs to, for the reading room's identity header (wrong-patient checks).

Every PACS viewer keeps name, ID, birth date and age, sex, study date, accession number and view on screen.
These values identify the patient: they go to the screen only — never to logs, error messages, exports made
de-identified, or ``repr`` (which is masked so an accidental ``log.debug(identity)`` leaks nothing).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, fields
from datetime import date
from pathlib import Path

_AGE = re.compile(r"^(\d{1,3})([DWMY]?)$")  # as engine.intended_use reads it
IDENTITY_KEYWORDS = ("PatientName", "PatientID", "PatientBirthDate", "PatientAge", "PatientSex", "StudyDate",
                     "AccessionNumber", "ViewPosition")


@dataclass(frozen=True)
class PatientIdentity:
    name: str = ""  # "DOE, Jane"
    patient_id: str = ""
    birth_date: str = ""  # ISO "1961-02-03"
    age: str = ""  # "63 y", from PatientAge or the birth and study dates
    sex: str = ""
    study_date: str = ""  # ISO
    accession: str = ""
    view: str = ""

    def __repr__(self) -> str:  # identifying values must not reach a log through a stray repr
        return "PatientIdentity(<hidden>)"

    __str__ = __repr__

    @property
    def empty(self) -> bool:
        return not any(getattr(self, f.name) for f in fields(self))

    def lines(self) -> list[str]:
        """The corner header: name; ID; birth date, age and sex; study date and accession; view."""
        age = (f"({self.age})" if self.birth_date else f"age {self.age}") if self.age else ""
        born = " ".join(part for part in (f"b. {self.birth_date}" if self.birth_date else "", age, self.sex) if part)
        study = "  ".join(part for part in (f"Study {self.study_date}" if self.study_date else "",
                                            f"Acc {self.accession}" if self.accession else "") if part)
        return [line for line in (self.name or "(no name)", f"ID {self.patient_id or '(none)'}", born, study,
                                  f"View {self.view}" if self.view else "") if line]

    def title(self) -> str:
        """For the window title: name, ID, birth date, study date."""
        parts = [self.name or "(no name)", f"ID {self.patient_id or '(none)'}"]
        if self.birth_date:
            parts.append(f"b. {self.birth_date}")
        if self.study_date:
            parts.append(f"study {self.study_date}")
        return " · ".join(parts)


def read_identity(path: str | Path) -> PatientIdentity | None:
    """The identity in a DICOM file's header; None for files that are not DICOM (PNG, JPEG, TIFF)."""
    import pydicom  # on first use: pydicom costs ~0.3 s to import, and the window imports this module to show
    from pydicom.errors import InvalidDicomError

    try:
        ds = pydicom.dcmread(str(path), stop_before_pixels=True, specific_tags=list(IDENTITY_KEYWORDS))
    except (InvalidDicomError, OSError, ValueError, TypeError, AttributeError):
        return None
    text = {keyword: str(ds.get(keyword, "") or "").strip() for keyword in IDENTITY_KEYWORDS}
    birth, study = _iso(text["PatientBirthDate"]), _iso(text["StudyDate"])
    return PatientIdentity(name=_name(ds.get("PatientName")), patient_id=text["PatientID"], birth_date=birth,
                           age=_age(text["PatientAge"], birth, study), sex=text["PatientSex"], study_date=study,
                           accession=text["AccessionNumber"], view=text["ViewPosition"])


def _name(value: object) -> str:
    if not value:
        return ""
    from pydicom.valuerep import PersonName

    name = PersonName(str(value))
    family, given = name.family_name.strip(), name.given_name.strip()
    if family and given:
        return f"{family.upper()}, {given.title()}"
    return (family.upper() or given.title() or str(value)).strip()


def _iso(value: str) -> str:
    """DICOM DA (YYYYMMDD) to ISO; anything else is returned as it is (the reader still sees it)."""
    if len(value) == 8 and value.isdigit():
        return f"{value[:4]}-{value[4:6]}-{value[6:]}"
    return value


def _age(patient_age: str, birth: str, study: str) -> str:
    """PatientAge as written ("063Y" -> "63 y"; "62", without the standard's unit, is years, as some exporters
    write it), else whole years between birth and study date."""
    written = _AGE.match(patient_age.strip().upper())
    if written:
        return f"{int(written.group(1))} {(written.group(2) or 'Y').lower()}"
    try:
        born, seen = date.fromisoformat(birth), date.fromisoformat(study)
    except ValueError:
        return ""
    years = seen.year - born.year - ((seen.month, seen.day) < (born.month, born.day))
    return f"{years} y" if years >= 0 else ""
