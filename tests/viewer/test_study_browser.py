"""Opening a folder: studies -> series -> images, skipped files with reasons, flagged images marked, thumbnails,
keyboard next/previous."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt

from tests.dicom_factory import SR_STORAGE, chest_like, make_dicom
from tests.viewer.helpers import make_window, wait_for_image


def make_folder(root: Path) -> Path:
    study = "1.2.826.0.1.3680043.8.498.1"
    series = "1.2.826.0.1.3680043.8.498.2"
    root.mkdir()
    for index in range(3):
        make_dicom(root / f"img{index}.dcm", chest_like(120 + index, 110), study_uid=study, series_uid=series,
                   ViewPosition="PA", StudyDescription="CHEST", SeriesDescription="PA")
    make_dicom(root / "lateral.dcm", chest_like(120, 110), study_uid=study, ViewPosition="LL")
    make_dicom(root / "report.dcm", None, sop_class=SR_STORAGE, modality="SR", study_uid=study)
    (root / "garbage.dcm").write_bytes(b"\x00" * 300)
    return root


def test_folder_lists_studies_skipped_and_flagged_and_steps(qtbot, factory, tmp_path: Path) -> None:
    folder = make_folder(tmp_path / "study")
    window = make_window(qtbot, factory, auto_diagnose=False)
    window.open_path(folder)
    wait_for_image(qtbot, window, "img0.dcm")
    browser = window.studies
    assert [p.name for p in browser.paths] == ["img0.dcm", "img1.dcm", "img2.dcm", "lateral.dcm"]
    skipped = dict((path.name, reason) for path, reason in browser.skipped)
    assert set(skipped) == {"report.dcm", "garbage.dcm"} and all(skipped.values())
    lateral = browser._items[folder / "lateral.dcm"]
    assert lateral.text(0).startswith("⚠") and "lateral" in lateral.text(1)
    assert "1 flagged" in browser.summary.text() and "2 skipped" in browser.summary.text()
    qtbot.waitUntil(lambda: browser.thumbnail_count() == 4, timeout=60_000)
    # PageDown / PageUp (menu shortcuts) and the arrow keys in the image view move through the images.
    window.step_image(1)
    wait_for_image(qtbot, window, "img1.dcm")
    assert browser.tree.currentItem() is browser._items[folder / "img1.dcm"]
    window.view.setFocus()
    qtbot.keyClick(window.view, Qt.Key.Key_Right)
    wait_for_image(qtbot, window, "img2.dcm")
    qtbot.keyClick(window.view, Qt.Key.Key_Left)
    wait_for_image(qtbot, window, "img1.dcm")
    # Clicking a row in the browser opens it.
    browser.tree.setCurrentItem(lateral)
    wait_for_image(qtbot, window, "lateral.dcm")
    assert "flagged" in window.panel.status.text()


def test_empty_folder_says_so(qtbot, factory, tmp_path: Path) -> None:
    folder = tmp_path / "empty"
    folder.mkdir()
    (folder / "notes.dcm").write_bytes(b"nope")
    window = make_window(qtbot, factory, auto_diagnose=False)
    window.open_path(folder)
    qtbot.waitUntil(lambda: "No radiographs" in window.panel.status.text(), timeout=60_000)
    assert window.current_image is None


def test_research_format_folder_and_open_dialog(qtbot, factory, tmp_path: Path, monkeypatch) -> None:
    import SimpleITK as sitk
    from PySide6.QtWidgets import QFileDialog

    folder = tmp_path / "research"
    folder.mkdir()
    for name in ("a.mha", "b.mhd", "c.nii.gz", "d.nrrd"):
        sitk.WriteImage(sitk.GetImageFromArray(chest_like(120, 110)), str(folder / name))
    window = make_window(qtbot, factory, auto_diagnose=False)
    window.open_path(folder)
    wait_for_image(qtbot, window, "a.mha")
    browser = window.studies
    assert [p.name for p in browser.paths] == ["a.mha", "b.mhd", "c.nii.gz", "d.nrrd"]
    assert browser.skipped == []  # b.raw is b.mhd's pixel data
    assert window.current_image.meta.kind == "research"
    offered = []
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *args: (offered.append(args[3]), ("", ""))[1])
    window.choose_file()
    assert all(f"*{suffix}" in offered[0] for suffix in (".mha", ".mhd", ".nrrd", ".nhdr", ".nii", ".nii.gz"))
