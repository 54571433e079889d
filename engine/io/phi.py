"""The one place that knows which DICOM tags identify a patient.

Everything that shows, logs or exports DICOM metadata goes through here: ``safe_summary`` for logs and
exports, ``tag_rows`` for the tag browser (PHI rows marked, hidden unless the user asks), ``hash_uid`` for
audit records and logs (keyed: an archive's UID list does not reverse it). Based on the DICOM PS3.15 Basic
Application Level Confidentiality Profile.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # only annotations: the window imports this module (hash_uid) before any DICOM is open
    from pydicom.dataelem import DataElement
    from pydicom.dataset import Dataset

# Attributes from PS3.15 Table E.1-1 that identify a person, place or encounter. Any PN element and any
# private element is treated as PHI as well (see ``is_phi``).
PHI_KEYWORDS: frozenset[str] = frozenset(
    {
        "PatientName", "PatientID", "IssuerOfPatientID", "OtherPatientIDs", "OtherPatientIDsSequence",
        "OtherPatientNames", "PatientBirthDate", "PatientBirthTime", "PatientBirthName",
        "PatientMotherBirthName", "PatientAddress", "PatientTelephoneNumbers", "PatientTelecomInformation",
        "PatientComments", "PatientInsurancePlanCodeSequence", "PatientReligiousPreference",
        "MilitaryRank", "BranchOfService", "MedicalRecordLocator", "EthnicGroup", "Occupation",
        "AdditionalPatientHistory", "PatientState", "PregnancyStatus", "ResponsiblePerson",
        "ResponsibleOrganization", "CountryOfResidence", "RegionOfResidence", "AccessionNumber",
        "StudyID", "InstitutionName", "InstitutionAddress", "InstitutionalDepartmentName",
        "InstitutionCodeSequence", "ReferringPhysicianName", "ReferringPhysicianAddress",
        "ReferringPhysicianTelephoneNumbers", "PhysiciansOfRecord", "PerformingPhysicianName",
        "NameOfPhysiciansReadingStudy", "OperatorsName", "RequestingPhysician", "ScheduledPerformingPhysicianName",
        "StationName", "DeviceSerialNumber", "RequestAttributesSequence", "ReferencedPatientSequence",
        "AdmissionID", "ServiceEpisodeID", "VisitComments", "CurrentPatientLocation",
        "PatientInstitutionResidence", "ImageComments", "StudyComments", "RequestedProcedureID",
        "ScheduledProcedureStepID", "PerformedProcedureStepID", "FillerOrderNumberImagingServiceRequest",
        "PlacerOrderNumberImagingServiceRequest", "ContentCreatorName", "VerifyingObserverName",
        "PersonName", "PatientSize", "PatientWeight", "PatientAge",
    }
)


def is_phi(element: DataElement) -> bool:
    """True if the element may identify the patient, a clinician or the site."""
    if element.tag.is_private or element.VR == "PN":
        return True
    return element.keyword in PHI_KEYWORDS


def hash_uid(value: str | None, key: bytes | None = None) -> str | None:
    """A stable, non-reversible stand-in for a UID or patient id (audit records, logs, triage output).

    HMAC-SHA256 with ``key``, by default this installation's secret key (the de-identification's, ``deid.key``
    in the user's data folder): without the key, hashing an archive's list of UIDs does not find which one a
    log line names. The PACS node passes the key kept in its store folder (``engine.pacs.node``).
    """
    if not value:
        return None
    secret = key if key is not None else _installation_key()
    return hmac.new(secret, str(value).encode(), hashlib.sha256).hexdigest()[:16]


def uid_digest(value: str) -> str:
    """An unkeyed digest of a UID, for lookup keys in this installation's own databases only (never logged or
    exported: anyone with the UID could recompute it). It must not change when a key does (ILO readings)."""
    return hashlib.sha256(str(value).encode()).hexdigest()[:16]


@functools.lru_cache(maxsize=4)
def _key_for(folder: str) -> bytes:
    from engine.io.keys import installation_key

    return installation_key(Path(folder))


def _installation_key() -> bytes:
    from engine.paths import data_dir

    return _key_for(str(data_dir()))  # per data folder: PNEUMOLLM_DATA may change (tests, a second profile)


# Non-identifying attributes worth showing in logs, error reports and exports.
SAFE_SUMMARY_KEYWORDS: tuple[str, ...] = (
    "Modality", "ViewPosition", "BodyPartExamined", "PhotometricInterpretation", "Rows", "Columns",
    "BitsStored", "PixelSpacing", "ImagerPixelSpacing", "Manufacturer", "ManufacturerModelName",
    "SOPClassUID", "NumberOfFrames",
)


def safe_summary(ds: Dataset) -> dict[str, str]:
    """Non-identifying metadata, safe for logs and de-identified exports."""
    out: dict[str, str] = {}
    for keyword in SAFE_SUMMARY_KEYWORDS:
        if keyword in ds:
            out[keyword] = str(ds[keyword].value)
    return out


@dataclass(frozen=True)
class TagRow:
    """One row of the tag browser."""

    tag: str  # "(0010,0010)"
    keyword: str
    vr: str
    value: str
    is_phi: bool
    depth: int  # nesting level inside sequences


def tag_rows(ds: Dataset, *, max_value_chars: int = 120) -> list[TagRow]:
    """All elements of ``ds`` (file meta first, sequences flattened) with PHI marked.

    Pixel data and other bulk values are summarised by their size, not shown.
    """
    rows: list[TagRow] = []

    def walk(dataset: Dataset, depth: int) -> None:
        for element in dataset:
            if element.VR == "SQ":
                rows.append(
                    TagRow(_tag_text(element), element.keyword or "(private)", "SQ",
                           f"{len(element.value)} item(s)", is_phi(element), depth)
                )
                for item in element.value:
                    walk(item, depth + 1)
                continue
            rows.append(
                TagRow(_tag_text(element), element.keyword or "(private)", str(element.VR),
                       _value_text(element, max_value_chars), is_phi(element), depth)
            )

    if getattr(ds, "file_meta", None) is not None:
        walk(ds.file_meta, 0)
    walk(ds, 0)
    return rows


def _tag_text(element: DataElement) -> str:
    return f"({element.tag.group:04X},{element.tag.element:04X})"


def _value_text(element: DataElement, limit: int) -> str:
    if element.VR in ("OB", "OW", "OF", "OD", "OL", "OV", "UN") or element.keyword == "PixelData":
        length = len(element.value) if element.value is not None else 0
        return f"<{length} bytes>"
    text = str(element.value)
    return text if len(text) <= limit else text[: limit - 1] + "…"
