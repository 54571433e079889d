"""De-identification (PS3.15 Annex E): keyed pseudonyms that a guessed MRN cannot reproduce, new UIDs."""

from __future__ import annotations

import copy
import hashlib
import os
import stat
from pathlib import Path

import pydicom
import pytest

from engine.io.deidentify import deidentify, installation_key, pseudonym
from tests.dicom_factory import PHI_VALUES, chest_like, make_dicom


@pytest.fixture()
def source(tmp_path: Path) -> pydicom.Dataset:
    path = make_dicom(tmp_path / "s.dcm", chest_like(64, 60), ViewPosition="PA", StudyDate="20240102",
                      OperatorsName="Smith^Al")
    return pydicom.dcmread(path)


def test_identifiers_are_removed_and_uids_replaced(source: pydicom.Dataset, tmp_path: Path) -> None:
    key = installation_key(tmp_path)
    study, series, sop = source.StudyInstanceUID, source.SeriesInstanceUID, source.SOPInstanceUID
    ds = deidentify(copy.deepcopy(source), key=key)
    text = str(ds)
    assert not any(value in text for value in PHI_VALUES.values()) and "Smith" not in text
    assert ds.StudyInstanceUID != study and ds.SeriesInstanceUID != series and ds.SOPInstanceUID != sop
    assert pydicom.uid.UID(ds.StudyInstanceUID).is_valid and ds.StudyInstanceUID.startswith("2.25.")
    assert ds.PatientIdentityRemoved == "YES" and "Basic Profile" in ds.DeidentificationMethod
    assert ds.DeidentificationMethodCodeSequence[0].CodeValue == "113100"
    assert ds.StudyDate == "" and ds.LongitudinalTemporalInformationModified == "REMOVED"
    # Stable within the installation: a second export of the study groups with the first.
    again = deidentify(copy.deepcopy(source), key=key)
    assert (again.StudyInstanceUID, again.PatientID) == (ds.StudyInstanceUID, ds.PatientID)


def test_dates_are_kept_only_when_asked(source: pydicom.Dataset, tmp_path: Path) -> None:
    ds = deidentify(copy.deepcopy(source), key=installation_key(tmp_path), retain_dates=True)
    assert ds.StudyDate == "20240102" and ds.LongitudinalTemporalInformationModified == "UNMODIFIED"
    assert [item.CodeValue for item in ds.DeidentificationMethodCodeSequence] == ["113100", "113106"]


def test_a_guessed_mrn_does_not_give_the_pseudonym_away(source: pydicom.Dataset, tmp_path: Path) -> None:
    """The old scheme (unsalted sha256(MRN)[:16]) fell to a dictionary of MRNs; the keyed one does not."""
    ds = deidentify(copy.deepcopy(source), key=installation_key(tmp_path))
    mrn = PHI_VALUES["PatientID"]
    assert ds.PatientID != hashlib.sha256(mrn.encode()).hexdigest()[:16]
    other_install = deidentify(copy.deepcopy(source), key=installation_key(tmp_path / "elsewhere"))
    assert other_install.PatientID != ds.PatientID and other_install.StudyInstanceUID != ds.StudyInstanceUID
    assert pseudonym(mrn, installation_key(tmp_path)) == ds.PatientID


def test_the_key_is_made_once_and_private(tmp_path: Path) -> None:
    key = installation_key(tmp_path)
    assert len(key) == 32 and installation_key(tmp_path) == key
    if os.name == "posix":
        assert stat.S_IMODE((tmp_path / "deid.key").stat().st_mode) == 0o600
