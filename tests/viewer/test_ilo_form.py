"""The ILO form and panel: keyboard entry, suggestions that tick nothing, signing with history, exports, and the
window's zone chart after a diagnosis."""

from __future__ import annotations

import csv
from dataclasses import replace
from pathlib import Path

import numpy as np
import pydicom
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QSpinBox

from engine.ilo.store import ReadingStore
from engine.ilo.zone_evidence import ZoneEvidence, ZoneEvidenceReport
from engine.io import load_image
from tests.engine.ilo.readings import ABNORMAL, reading
from tests.viewer.helpers import make_window, wait_for_result
from viewer.ilo_form import IloForm
from viewer.ilo_panel import IloPanel
from viewer.zone_chart import ZoneChart


def test_form_round_trips_a_reading(qtbot) -> None:
    form = IloForm()
    qtbot.addWidget(form)
    expected = replace(reading(ABNORMAL), reader="", read_on="")
    form.set_reading(expected)
    assert form.reading() == expected
    assert "consistent" in form.problems.text()


def test_keyboard_entry_and_live_rules(qtbot) -> None:
    form = IloForm()
    qtbot.addWidget(form)
    form.show()
    form.quality.setFocus()
    qtbot.keyClick(form.quality, Qt.Key.Key_Down)  # "—" -> quality 1
    qtbot.keyClick(form.quality, Qt.Key.Key_Down)  # quality 2 ...
    assert form.reading().quality == 2
    assert "give the reason" in form.problems.text()  # ... needs its reason
    qtbot.keyClicks(form.quality_comment, "underexposed")
    assert "give the reason" not in form.problems.text()
    qtbot.keyClick(form.parenchymal_no, Qt.Key.Key_Space)
    qtbot.keyClick(form.pleural_no, Qt.Key.Key_Space)
    assert "consistent" in form.problems.text()
    form.profusion.setFocus()
    for _ in range(5):
        qtbot.keyClick(form.profusion, Qt.Key.Key_Down)  # — -> 0/- 0/0 0/1 1/0 1/1
    assert form.reading().small.profusion == "1/1"
    assert "answer 'yes' in 2A" in form.problems.text()
    qtbot.keyClick(form.symbols["em"], Qt.Key.Key_Space)
    assert form.reading().symbols == ("em",)


def test_an_untouched_form_answers_nothing_and_says_what_is_missing(qtbot, monkeypatch, dicom_dir: Path,
                                                                   tmp_path: Path) -> None:
    panel = IloPanel(ReadingStore(tmp_path / "r.sqlite"))
    qtbot.addWidget(panel)
    panel.set_image(load_image(dicom_dir / "RG1_UNCI.dcm"))
    form = panel.form
    untouched = form.reading()
    assert (untouched.quality, untouched.parenchymal, untouched.small.profusion, untouched.large,
            untouched.pleural) == (None, None, None, None, None)
    assert not form.parenchymal_yes.isChecked() and not form.parenchymal_no.isChecked()
    assert not form.pleural_yes.isChecked() and not form.pleural_no.isChecked()
    assert {form.quality.currentText(), form.profusion.currentText(), form.large.currentText()} == {"—"}
    groups = [child for child in form.findChildren(QSpinBox) if child.toolTip().startswith("Extent")]
    assert groups and {spin.text() for spin in groups} == {"—"}  # no extent looks chosen before the reader acts
    form.quality_comment.setText("x")  # the reader touches the form ...
    form.quality_comment.clear()
    for question in ("1 radiograph quality", "2A parenchymal abnormality", "3 pleural abnormality"):
        assert f"Not answered: {question}" in form.problems.text()
    panel.reader.setText("Dr Test")
    errors: list[str] = []
    monkeypatch.setattr("viewer.ilo_panel.show_error", lambda _parent, exc: errors.append(exc.user_message))
    assert panel.sign_and_save() is None  # ... but signing is refused, naming every unanswered question
    assert errors and all(q in errors[0] for q in ("1 radiograph quality", "2A", "3 pleural"))
    assert panel.store.instance_keys() == []
    form.parenchymal_yes.setChecked(True)  # under 2A "yes" the profusion and large opacities are needed too
    assert "Not answered: 2B profusion" in form.problems.text()
    assert "Not answered: 2C large opacities" in form.problems.text()


def test_typing_a_profusion_selects_it(qtbot) -> None:
    form = IloForm()
    qtbot.addWidget(form)
    form.show()
    form.profusion.setFocus()
    for typed, expected in (("1/1", "1/1"), ("2/3", "2/3"), ("11", "1/1"), ("3+", "3/+"), ("0/-", "0/-"),
                            ("1", "1/0"), ("0/1", "0/1")):
        form.profusion.setCurrentIndex(0)
        form.profusion.clearFocus()  # a new field visit: what was typed before is forgotten
        form.profusion.setFocus()
        qtbot.keyClicks(form.profusion, typed)
        assert form.reading().small.profusion == expected, typed


def test_an_untouched_form_is_no_reading(qtbot, dicom_dir: Path, tmp_path: Path) -> None:
    panel = IloPanel(ReadingStore(tmp_path / "r.sqlite"))
    qtbot.addWidget(panel)
    panel.set_image(load_image(dicom_dir / "RG1_UNCI.dcm"))
    assert not panel.form.entered
    panel.form.profusion.setCurrentText("0/1")
    assert panel.form.entered
    panel.set_image(load_image(dicom_dir / "RG1_UNCI.dcm"))  # reopened: nothing entered again
    assert not panel.form.entered


def test_model_suggestions_tick_nothing(qtbot) -> None:
    form = IloForm()
    qtbot.addWidget(form)
    before = form.reading()
    form.show_suggestions(["right_lower"], abnormal=True)
    assert form.zones["right_lower"].property("suggested") and not form.zones["right_lower"].isChecked()
    assert "Suggested by the model" in form.zones["right_lower"].toolTip()
    assert not form.zones["left_lower"].property("suggested")
    assert form.parenchymal_yes.property("suggested") and not form.parenchymal_yes.isChecked()
    assert form.reading() == before


def test_sign_amend_survive_restart_and_export(qtbot, dicom_dir: Path, tmp_path: Path) -> None:
    image = load_image(dicom_dir / "RG1_UNCI.dcm")
    panel = IloPanel(ReadingStore(tmp_path / "r.sqlite"))
    qtbot.addWidget(panel)
    panel.set_image(image)
    assert not panel.sr_button.isEnabled()  # nothing signed yet: nothing to export
    panel.form.set_reading(reading(ABNORMAL))
    panel.reader.setText("Dr Panel")
    panel.make_draft()
    assert "Small opacities" in panel.report.toPlainText() and panel.draft_label.text().startswith("DRAFT")
    panel.report.setPlainText("Reader's edited report.")
    first = panel.sign_and_save()
    assert first is not None and first.version == 1 and first.report_text == "Reader's edited report."

    restarted = IloPanel(ReadingStore(tmp_path / "r.sqlite"))  # a new session on the same database
    qtbot.addWidget(restarted)
    restarted.set_image(image)
    assert restarted.form.reading() == replace(reading(ABNORMAL), reader="", read_on="")
    assert restarted.reader.text() == "Dr Panel" and "v1" in restarted.history.text()
    restarted.form.profusion.setCurrentText("2/1")
    restarted.ask_reason = lambda: None  # the reader cancels the amendment
    assert restarted.sign_and_save() is None
    restarted.ask_reason = lambda: "re-read with the previous film"
    second = restarted.sign_and_save()
    assert second.version == 2 and "re-read with the previous film" in restarted.history.text()

    restarted.report.setPlainText("unsigned edit")
    sr = pydicom.dcmread(restarted.export("sr", tmp_path / "r.dcm"))
    texts = [item.TextValue for item in sr.ContentSequence if item.ValueType == "TEXT"]
    assert "Reader's edited report." in texts and "unsigned edit" not in texts  # only the signed text
    assert restarted.export("pdf", tmp_path / "r.pdf").read_bytes().startswith(b"%PDF")
    rows = list(csv.DictReader(restarted.export("csv", tmp_path / "r.csv").open()))
    assert [row["profusion"] for row in rows] == ["1/2", "2/1"]


def test_zone_chart_shows_model_evidence(qtbot) -> None:
    chart = ZoneChart()
    qtbot.addWidget(chart)
    names = ("right_upper", "right_middle", "right_lower", "left_upper", "left_middle", "left_lower")
    chart.set_report(ZoneEvidenceReport(tuple(ZoneEvidence(n, 10, (0, 0, 1, 1), 0.05 if n == "left_lower" else 0.0,
                                                           0.5 if n == "left_lower" else 0.1) for n in names), 60, 0.6))
    assert "+0.050" in chart.cell_text("left_lower") and "50%" in chart.cell_text("left_lower")
    assert not chart.grab().isNull()


def test_window_fills_the_zone_chart_after_a_diagnosis(qtbot, factory, dicom_dir: Path, tmp_path: Path) -> None:
    window = make_window(qtbot, factory)
    window.show_ilo_form()
    assert window.ilo_dock.isVisible()
    window.open_path(dicom_dir / "RG1_UNCR.dcm")
    wait_for_result(qtbot, window)
    qtbot.waitUntil(lambda: window.ilo.evidence is not None, timeout=180_000)
    evidence = window.ilo.evidence
    assert [z.name for z in evidence.zones][0] == "right_upper" and evidence.lung_area_px > 0
    assert window.ilo.chart.report is evidence
    assert window.ilo.result is window.panel.result
    overlay = window.ilo.overlay
    assert overlay.present and not overlay.item.isVisible()  # drawn on request only
    window.ilo.show_zones.setChecked(True)
    assert overlay.item.isVisible()
    picture = overlay.item.pixmap().toImage()
    assert (picture.width(), picture.height()) == window.view.image.pixels.shape[::-1]
    window.grab().save(str(tmp_path / "ilo_window.png"))  # for a look by eye
    window.ilo_dock.hide()
    window.open_path(dicom_dir / "RG1_UNCI.dcm")  # another image: its zones are not known yet
    qtbot.waitUntil(lambda: not overlay.present, timeout=60_000)
    window.diagnose(False)
    wait_for_result(qtbot, window)
    assert window.ilo.evidence is None and not window.ilo.measuring  # nobody is looking: not measured
    window.show_ilo_form()  # measured when the form is opened
    qtbot.waitUntil(lambda: window.ilo.evidence is not None, timeout=180_000)


def test_zone_picture_tints_each_zone(shared_data: Path) -> None:
    from PIL import Image

    from engine.ilo.zones import lung_zones
    from viewer.zone_overlay import LEVEL_RGB, zone_picture

    name = sorted((shared_data / "jsrt" / "masks" / "right_lung").glob("*.png"))[0].name
    mask = np.zeros((512, 512), bool)
    for side in ("right_lung", "left_lung"):
        mask |= np.asarray(Image.open(shared_data / "jsrt" / "masks" / side / name).convert("L")) > 127
    zones = lung_zones(mask)
    rgba = zone_picture(zones)
    assert (rgba[..., 3] > 0).sum() == mask.sum() and (rgba[~mask, 3] == 0).all()
    inner = zones["left_middle"].mask & (rgba[..., 3] < 200)
    assert (rgba[inner, :3] == LEVEL_RGB[1]).all()
