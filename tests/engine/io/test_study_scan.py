"""Study trees: grouping by study/series, skipped objects with reasons, flags kept."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
from PIL import Image
from pydicom.uid import generate_uid

from engine.flags import codes
from engine.io.study_scan import scan_folder
from tests.dicom_factory import SR_STORAGE, chest_like, make_dicom


def test_scan_groups_and_skips(tmp_path: Path) -> None:
    study_a, study_b = generate_uid(), generate_uid()
    series_a = generate_uid()
    (tmp_path / "a" / "deep").mkdir(parents=True)
    (tmp_path / "b").mkdir()
    (tmp_path / "pngs").mkdir()
    make_dicom(tmp_path / "a" / "1.dcm", chest_like(), study_uid=study_a, series_uid=series_a, ViewPosition="PA")
    make_dicom(tmp_path / "a" / "deep" / "2.dcm", chest_like(), study_uid=study_a, series_uid=series_a,
               ViewPosition="LL")
    make_dicom(tmp_path / "a" / "sr.dcm", None, sop_class=SR_STORAGE, modality="SR", study_uid=study_a)
    make_dicom(tmp_path / "b" / "ct", chest_like(), modality="CT", study_uid=study_b)  # no suffix
    (tmp_path / "b" / "notes.dcm").write_text("not dicom")
    (tmp_path / "b" / "readme.txt").write_text("ignored quietly")
    Image.fromarray(chest_like(dtype=np.uint8, high=250)).save(tmp_path / "pngs" / "x.png")

    before = {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    result = scan_folder(tmp_path)

    assert set(result.studies) == {study_a, study_b, "folder:pngs"}
    assert result.studies[study_a].image_count == 2
    assert len(result.studies[study_a].series) == 1
    views = {m.path.name: m.flags for m in result.images()}
    assert "lateral_view" in codes(views["2.dcm"])
    assert views["1.dcm"] == ()
    assert any("modality CT" in f.message for f in views["ct"])
    skipped = {s.path.name: s.reason for s in result.skipped}
    assert "structured report" in skipped["sr.dcm"]
    assert "Not a DICOM file" in skipped["notes.dcm"]
    assert "readme.txt" not in skipped
    assert result.image_count == 4
    assert {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()} == before


def test_scan_real_dicom_folder(dicom_dir: Path, tmp_path: Path) -> None:
    shutil.copytree(dicom_dir, tmp_path / "dicom")
    result = scan_folder(tmp_path)
    assert result.image_count == 6
    assert not result.skipped
    # The four RG1 encodings share one study.
    assert max(study.image_count for study in result.studies.values()) == 4
