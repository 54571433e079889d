"""Readings per instance in SQLite: saved, reloaded by a new store (a restart), amended with history kept."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from engine.errors import PneumoError
from engine.ilo.form import IloFormError
from engine.ilo.store import ReadingStore, instance_key
from engine.io import load_image
from tests.engine.ilo.readings import ABNORMAL, NORMAL, reading


def test_save_survives_restart_and_amendments_keep_history(tmp_path: Path) -> None:
    path = tmp_path / "readings.sqlite"
    first = ReadingStore(path).save("sop:abc", reading(NORMAL))
    assert first.version == 1
    again = ReadingStore(path)  # a new process would open the same file
    assert again.latest("sop:abc").reading == reading(NORMAL)
    with pytest.raises(PneumoError, match="reason to amend"):
        again.save("sop:abc", reading(ABNORMAL))
    amended = again.save("sop:abc", reading(ABNORMAL), amendment_reason="second look at the bases")
    assert amended.version == 2
    history = ReadingStore(path).history("sop:abc")
    assert [h.version for h in history] == [1, 2]
    assert history[0].reading == reading(NORMAL) and history[1].reading == reading(ABNORMAL)
    assert history[1].amendment_reason == "second look at the bases"
    assert ReadingStore(path).instance_keys() == ["sop:abc"]


def test_unsigned_or_inconsistent_readings_are_not_saved(tmp_path: Path) -> None:
    store = ReadingStore(tmp_path / "r.sqlite")
    with pytest.raises(IloFormError, match="reader's name"):
        store.save("k", replace(reading(NORMAL), reader=""))
    assert store.latest("k") is None


def test_instance_key_hides_identifiers(dicom_dir: Path, shared_data: Path) -> None:
    dicom = load_image(dicom_dir / "RG1_UNCI.dcm")
    key = instance_key(dicom.meta)
    assert key.startswith("sop:") and dicom.meta.sop_instance_uid not in key
    assert key == instance_key(load_image(dicom_dir / "RG1_UNCI.dcm").meta)  # stable
    png = load_image(shared_data / "samples" / "h0001.png")
    assert instance_key(png.meta).startswith("file:")
