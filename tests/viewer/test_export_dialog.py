"""The export dialog (SR/SC re-read with pydicom, de-identified by default) and the review buttons."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pydicom
import pytest
from PIL import Image

from engine.export import export_case
from engine.io import load_image
from engine.notices import DISCLAIMER
from tests.dicom_factory import PHI_VALUES, chest_like, content_items, make_dicom
from tests.viewer.helpers import isolate_user_folders, save_screenshot, tiny_diagnoser
from viewer.export_dialog import IDENTIFIED_WARNING, ExportDialog, default_file_name


@pytest.fixture(autouse=True)
def _private_folders(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    isolate_user_folders(monkeypatch, tmp_path)


@pytest.fixture(scope="module")
def cases(tmp_path_factory: pytest.TempPathFactory):
    folder = tmp_path_factory.mktemp("export-case")
    diagnoser = tiny_diagnoser(folder)
    dicom = make_dicom(folder / "Doe_Jane.dcm", chest_like(300, 280), ViewPosition="PA")
    png = folder / "chest.png"
    Image.fromarray(chest_like(200, 190, dtype=np.uint8, high=250)).save(png)
    out = {}
    for name, path in (("dicom", dicom), ("png", png)):
        image = load_image(path)
        out[name] = (path, image, diagnoser.predict(image))
    return out, diagnoser.card


def run_export(qtbot, dialog: ExportDialog) -> None:
    assert dialog.export() is not None
    qtbot.waitUntil(lambda: not dialog.is_exporting, timeout=60_000)


def test_sr_and_sc_are_deidentified_by_default(qtbot, cases, tmp_path: Path) -> None:
    (source, image, result), meta = cases[0]["dicom"], cases[1]
    before = hashlib.sha256(source.read_bytes()).hexdigest()
    dialog = ExportDialog(image, result, card=meta, folder=tmp_path)
    qtbot.addWidget(dialog)
    dialog.show()
    assert not dialog.identified_box.isChecked() and dialog.warning.isHidden()
    assert dialog.kind == "png" and not dialog.identified_box.isEnabled()  # a PNG holds no identity
    assert "Doe" not in dialog.path_edit.text()  # default names never reuse the (often identifying) file name

    dialog.set_kind("sr")
    assert Path(dialog.path_edit.text()).name == default_file_name(image, "sr")
    with qtbot.waitSignal(dialog.exported, timeout=60_000) as exported:
        dialog.export()
    sr = pydicom.dcmread(exported.args[0])
    assert sr.SOPClassUID == "1.2.840.10008.5.1.4.1.1.88.33"
    items = {item.ConceptNameCodeSequence[0].CodeMeaning: item for item in content_items(sr)}
    probability = float(items["Probability of abnormal"].MeasuredValueSequence[0].NumericValue)
    assert probability == pytest.approx(result.probability, abs=1e-5)
    assert DISCLAIMER[:40] in items["Disclaimer"].TextValue
    assert not any(value in str(sr) for value in PHI_VALUES.values())
    assert "de-identified" in dialog.status.text()

    dialog.set_kind("sc")
    run_export(qtbot, dialog)
    sc = pydicom.dcmread(dialog.last_path)
    assert sc.SOPClassUID == "1.2.840.10008.5.1.4.1.1.7" and sc.pixel_array.shape[-1] == 3
    assert not any(value in str(sc) for value in PHI_VALUES.values())

    dialog.identified_box.setChecked(True)
    assert dialog.warning.isVisible() and IDENTIFIED_WARNING in dialog.warning.text()
    save_screenshot(dialog, tmp_path / "export_dialog.png")
    dialog.set_kind("sr")
    dialog.path_edit.setText(str(tmp_path / "identified-sr.dcm"))
    run_export(qtbot, dialog)
    assert str(pydicom.dcmread(tmp_path / "identified-sr.dcm").PatientName) == PHI_VALUES["PatientName"]
    assert hashlib.sha256(source.read_bytes()).hexdigest() == before  # the source is only read


def test_png_and_html_and_errors(qtbot, cases, tmp_path: Path) -> None:
    (_, image, result), meta = cases[0]["png"], cases[1]
    dialog = ExportDialog(image, result, card=meta, folder=tmp_path)
    qtbot.addWidget(dialog)
    run_export(qtbot, dialog)
    assert Image.open(dialog.last_path).mode == "RGB"
    dialog.set_kind("html")
    run_export(qtbot, dialog)
    report = dialog.last_path.read_text()
    assert DISCLAIMER in report and "chest.png" not in report
    dialog.set_kind("sr")  # a PNG source has no DICOM study to attach an SR to
    run_export(qtbot, dialog)
    assert "needs a DICOM source" in dialog.status.text() and "Traceback" not in dialog.status.text()
    dialog.path_edit.setText("")
    assert dialog.export() is None and "Choose where" in dialog.status.text()
    with pytest.raises(Exception, match="source image"):
        export_case("png", cases[0]["png"][0], image, result)


def test_the_extension_follows_the_format_and_nothing_is_overwritten_unasked(qtbot, cases, tmp_path: Path) -> None:
    (_, image, result), card = cases[0]["png"], cases[1]
    dialog = ExportDialog(image, result, card=card, folder=tmp_path)
    qtbot.addWidget(dialog)
    dialog.path_edit.setText(str(tmp_path / "report.png"))
    run_export(qtbot, dialog)
    png_bytes = (tmp_path / "report.png").read_bytes()
    assert png_bytes.startswith(b"\x89PNG")
    dialog.set_kind("html")  # the reader keeps the name and switches the format
    assert dialog.path_edit.text() == str(tmp_path / "report.html")
    run_export(qtbot, dialog)
    assert (tmp_path / "report.png").read_bytes() == png_bytes, "the PNG must still be a PNG"
    assert dialog.last_path == tmp_path / "report.html" and "<html" in dialog.last_path.read_text().lower()
    asked: list[Path] = []
    dialog.confirm_overwrite = lambda path: asked.append(path) or True  # no modal box in a test
    dialog.path_edit.setText(str(tmp_path / "report.png"))  # typed by hand with the wrong extension
    run_export(qtbot, dialog)
    assert dialog.last_path == tmp_path / "report.html", "an HTML export never lands in a .png"
    assert (tmp_path / "report.png").read_bytes() == png_bytes
    asked.clear()
    dialog.confirm_overwrite = lambda path: asked.append(path) or False  # the reader says No
    before = (tmp_path / "report.html").read_bytes()
    assert dialog.export() is None and asked == [tmp_path / "report.html"]
    assert (tmp_path / "report.html").read_bytes() == before and "kept" in dialog.status.text()
    dialog.confirm_overwrite = lambda path: True  # ... and Yes
    run_export(qtbot, dialog)
    assert dialog.last_path == tmp_path / "report.html"
