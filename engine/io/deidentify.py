"""De-identification of exported DICOM headers (PS3.15 Annex E, Basic Application Level Confidentiality Profile).

Identifying attributes (``engine.io.phi``) are emptied; the patient id and every UID are replaced by keyed
pseudonyms: HMAC-SHA256 with a random key made once per installation and kept only in the user's data folder
(``deid.key``, mode 0600). Without the key a pseudonym cannot be recomputed from a guessed MRN, yet exports of
one study made on this computer still share their study UID and patient pseudonym (they group in a PACS).
Dates and times are removed unless the caller asks to retain them (the profile's Retain Longitudinal Temporal
Information option).
"""

from __future__ import annotations

import hashlib
import hmac

from pydicom.dataset import Dataset
from pydicom.sequence import Sequence
from pydicom.uid import generate_uid

from engine.io.keys import KEY_FILE, installation_key
from engine.io.phi import PHI_KEYWORDS

__all__ = ["KEY_FILE", "deidentify", "installation_key", "pseudonym", "pseudonym_uid"]  # the key: engine.io.keys
# DCM codes from CID 7050 (De-identification Method): the profile and the options applied.
BASIC_PROFILE = ("113100", "Basic Application Confidentiality Profile")
RETAIN_DATES = ("113106", "Retain Longitudinal Temporal Information Full Dates Option")
METHOD = "PS3.15 Basic Profile; keyed pseudonyms (HMAC-SHA256)"  # LO: at most 64 characters
UID_KEYWORDS = ("StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID", "FrameOfReferenceUID",
                "ReferencedSOPInstanceUID", "MediaStorageSOPInstanceUID")
DATE_VRS = ("DA", "DT", "TM")


def pseudonym(value: str, key: bytes, *, length: int = 16) -> str:
    """A keyed, non-reversible stand-in for an identifier (the same value and key give the same pseudonym)."""
    return hmac.new(key, value.encode(), hashlib.sha256).hexdigest()[:length]


def pseudonym_uid(uid: str, key: bytes) -> str:
    """A new valid UID (2.25 root) for ``uid``: stable for this installation, unrelated to the original."""
    # prefix=None would ignore the entropy and make a random UUID; with the 2.25 root the UID is derived from it.
    return generate_uid(prefix="2.25.", entropy_srcs=[pseudonym(uid, key, length=64)])


def deidentify(ds: Dataset, *, key: bytes | None = None, retain_dates: bool = False) -> Dataset:
    """De-identify ``ds`` in place (and return it): PHI emptied, patient id and UIDs pseudonymised, dates
    removed unless ``retain_dates``, private tags removed, the method recorded."""
    key = key if key is not None else installation_key()
    original_id = str(ds.get("PatientID", "") or "")

    def clean(dataset: Dataset) -> None:
        for element in list(dataset):
            if element.VR == "SQ":
                if element.keyword in PHI_KEYWORDS:
                    element.value = Sequence()
                else:
                    for item in element.value:
                        clean(item)
            elif element.keyword in UID_KEYWORDS and element.value:
                element.value = pseudonym_uid(str(element.value), key)
            elif element.keyword in PHI_KEYWORDS or element.VR == "PN" or element.VR in DATE_VRS and not retain_dates:
                element.value = ""

    clean(ds)
    if getattr(ds, "file_meta", None) is not None and "MediaStorageSOPInstanceUID" in ds.file_meta:
        ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    ds.remove_private_tags()
    ds.PatientName = "Anonymous^"  # a family name only (the caret says so)
    ds.PatientID = pseudonym(original_id, key) if original_id else "anonymous"
    ds.PatientIdentityRemoved = "YES"
    ds.DeidentificationMethod = METHOD
    codes = [BASIC_PROFILE, RETAIN_DATES] if retain_dates else [BASIC_PROFILE]
    items = []
    for value, meaning in codes:
        item = Dataset()
        item.CodeValue, item.CodingSchemeDesignator, item.CodeMeaning = value, "DCM", meaning
        items.append(item)
    ds.DeidentificationMethodCodeSequence = Sequence(items)
    ds.LongitudinalTemporalInformationModified = "UNMODIFIED" if retain_dates else "REMOVED"
    return ds
