"""Labelled data: folders and CSVs, patient ids, skipped files, refusals before training."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import pytest

from engine.errors import TrainingError
from tests.dicom_factory import PHI_VALUES, chest_like, make_dicom
from training.data import from_csv, from_folder, load_labelled, positive_class_index


def test_folder_classes_and_one_patient_per_file(synthetic_set: Path) -> None:
    data = from_folder(synthetic_set)
    assert data.classes == ("abnormal", "normal")
    assert data.counts() == {"abnormal": 12, "normal": 12}
    assert data.patient_source == "one patient per file"
    assert positive_class_index(data.classes) == 0  # "normal" is the negative class


def test_csv_with_patient_ids(synthetic_set: Path, tmp_path: Path) -> None:
    rows = ["path,label,patient_id"]
    for index, file in enumerate(sorted(synthetic_set.rglob("*.png"))):
        rows.append(f"{file.relative_to(synthetic_set)},{file.parent.name},p{index // 2}")
    rows.append("missing.png,normal,p99")
    (synthetic_set / "labels.csv").write_text("\n".join(rows))
    data = from_csv(synthetic_set / "labels.csv")
    assert data.patient_source == "csv"
    assert len({item.patient for item in data.items}) == 12
    assert [reason for _, reason in data.skipped] == ["file not found"]


def test_dicom_patient_ids_are_hashed_never_logged(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    for label in ("normal", "abnormal"):
        (tmp_path / label).mkdir()
        for index in range(3):
            make_dicom(tmp_path / label / f"{index}.dcm", chest_like(64, 64), PatientID=f"MRN-{label}-{index}")
    data = from_folder(tmp_path)
    assert data.patient_source == "dicom PatientID (hashed)"
    text = json.dumps(data.summary()) + repr(data.items) + caplog.text
    assert "MRN-" not in text and PHI_VALUES["PatientName"] not in text


def test_refusals_name_the_problem(tmp_path: Path, synthetic_set: Path) -> None:
    with pytest.raises(TrainingError, match="no class sub-folders"):
        from_folder(tmp_path / "empty" if (tmp_path / "empty").mkdir() is None else tmp_path)
    (synthetic_set / "third").mkdir()
    with pytest.raises(TrainingError, match="exactly two classes"):
        from_folder(synthetic_set).check_usable()
    (synthetic_set / "third").rmdir()
    for file in sorted((synthetic_set / "abnormal").glob("*.png"))[3:]:
        file.unlink()
    with pytest.raises(TrainingError, match="only 3 readable images"):
        from_folder(synthetic_set).check_usable()
    with pytest.raises(TrainingError, match="neither a folder"):
        load_labelled(tmp_path / "nothing.txt")


def test_too_few_patients_for_the_folds(synthetic_set: Path) -> None:
    with pytest.raises(TrainingError, match="Use fewer folds"):
        from_folder(synthetic_set).check_usable(folds=10)
    from_folder(synthetic_set).check_usable(folds=2)
    assert np.isfinite(len(from_folder(synthetic_set).items))


def test_a_csv_whose_files_are_all_missing_names_them(tmp_path: Path) -> None:
    listing = tmp_path / "labels.csv"
    listing.write_text("path,label\nscans/a.png,normal\nscans/b.png,pneumoconiosis\n")
    with pytest.raises(TrainingError, match=r"None of the 2 files labels.csv lists exists.*scans/a.png"):
        load_labelled(listing)


def test_research_format_images_load_from_a_folder_and_a_csv(tmp_path: Path) -> None:
    import SimpleITK as sitk

    from training.data import check_readable

    written = []
    for label in ("normal", "abnormal"):
        (tmp_path / label).mkdir()
        for index, suffix in enumerate((".mha", ".mhd", ".nii.gz", ".nrrd")):
            grey = chest_like(64, 72) + np.uint16(index)
            path = tmp_path / label / f"{label}_{index}{suffix}"
            sitk.WriteImage(sitk.GetImageFromArray(grey), str(path))
            written.append((path, label, grey))
    data = from_folder(tmp_path)
    assert data.counts() == {"abnormal": 4, "normal": 4}
    assert data.skipped == []  # the .raw beside each .mhd is its pixel data, not a file to skip
    check = check_readable(tmp_path)
    assert check.unreadable == [] and len(check.dataset.items) == 8

    (tmp_path / "labels.csv").write_text("path,label\n" + "\n".join(
        f"{path.relative_to(tmp_path)},{label}" for path, label, _ in written))
    listed = load_labelled(tmp_path / "labels.csv")
    assert sorted(item.path for item in listed.items) == sorted(path for path, _, _ in written)
    assert listed.patient_source == "one patient per file"
    from engine.io import load_image

    for path, _, grey in written:
        np.testing.assert_array_equal(load_image(path).stored, grey)
