"""The ILO head in the viewer: the SIMULATION banner only while it is active; its suggestion beside the ILO form
(amber, nothing filled in), its per-zone profusion in the zone chart, and a signed reading that holds only what the
reader chose, with the model's suggestion kept apart.

Uses the shipped demonstration head on a held-out phantom film (skipped when ``../shared/data/ilo-phantom`` is
absent); the crop head is the tests' tiny one."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.ilo.codes import ZONES
from engine.ilo.store import ReadingStore
from engine.io import load_image
from engine.model.head_card import SIMULATION_USE
from engine.paths import RESOURCES
from tests.viewer.helpers import make_window, settle, wait_for_result
from viewer.ilo_form import SUGGESTION_STYLE
from viewer.ilo_panel import IloPanel

ILO_HEAD = RESOURCES / "heads" / "ilo-phantom"
FILM = "ilo_sim_JPCNN003_6.png"  # patient JPCNN003 is in the head's hold-out; the head suggests 2/2 here


@pytest.fixture(scope="module")
def film(shared_data: Path) -> Path:
    path = shared_data / "ilo-phantom" / "images" / FILM
    if not path.exists():
        pytest.skip(f"{path} is missing")
    return path


@pytest.fixture(scope="module")
def ilo_diagnoser():
    from engine.diagnoser_spec import DiagnoserSpec

    if not (ILO_HEAD / "head.json").exists():
        pytest.skip("the ILO demonstration head is not in resources/heads/ilo-phantom")
    return DiagnoserSpec.of(ILO_HEAD, device="cpu").build()


@pytest.fixture(scope="module")
def ilo_result(ilo_diagnoser, film: Path):
    result = ilo_diagnoser.predict(film)
    assert result.ilo is not None and result.decision.flagged and result.ilo.zones  # an abnormal suggestion
    return result


def test_the_banner_says_simulation_only_while_the_ilo_head_is_active(qtbot, tiny_diagnoser, ilo_diagnoser,
                                                                      film: Path) -> None:
    def factory(settings, _progress):  # the Settings' head folder decides, as model_spec does for the process
        return ilo_diagnoser if settings.head_folder else tiny_diagnoser

    window = make_window(qtbot, factory)
    window.open_path(film)
    wait_for_result(qtbot, window)
    assert SIMULATION_USE not in window.banner.text() and not window.banner.simulation
    assert window.head_choice.use(ILO_HEAD)
    assert window.settings.head_folder == str(ILO_HEAD)
    assert window.banner.text().startswith(f"⚠ {SIMULATION_USE}")  # at once, from the head's card
    window.diagnose(False)
    wait_for_result(qtbot, window)
    assert window.panel.result.ilo is not None  # the ILO head answered
    qtbot.waitUntil(lambda: window.model_info is not None, timeout=60_000)
    assert window.banner.simulation and SIMULATION_USE in window.banner.text()  # and it stays with its results
    assert window.head_choice.use(None)  # back to the installed head (here the shipped one)
    assert window.settings.head_folder == ""
    assert not window.banner.simulation and SIMULATION_USE not in window.banner.text()


def test_a_window_opened_with_the_ilo_head_says_simulation_from_the_start(qtbot, tiny_diagnoser) -> None:
    window = make_window(qtbot, lambda _settings, _progress: tiny_diagnoser, head_folder=str(ILO_HEAD))
    assert window.model_info is None  # nothing loaded yet: the banner comes from the chosen head's card
    assert window.banner.simulation and window.banner.text().startswith(f"⚠ {SIMULATION_USE}")
    plain = make_window(qtbot, lambda _settings, _progress: tiny_diagnoser)
    assert not plain.banner.simulation and SIMULATION_USE not in plain.banner.text()


def test_suggestions_are_shown_and_never_filled_in(qtbot, ilo_result, film: Path, tmp_path: Path) -> None:
    panel = IloPanel(ReadingStore(tmp_path / "r.sqlite"))
    qtbot.addWidget(panel)
    panel.show()
    panel.set_image(load_image(film))
    assert not panel.suggestions.isVisible()  # no result, no suggestion
    panel.set_result(ilo_result)
    settle()
    suggestion = ilo_result.ilo
    box, form = panel.suggestions, panel.form
    assert box.isVisible() and f"profusion <b>{suggestion.profusion}</b>" in box.text.text()
    assert suggestion.shape_output and suggestion.shape is not None  # the head has a shape output; the film is abnormal
    assert f"shape <b>{suggestion.shape} (" in box.text.text() and "SIMULATION" in box.text.text()
    assert form.profusion.styleSheet() == SUGGESTION_STYLE and suggestion.profusion in form.profusion.toolTip()
    assert form.primary.styleSheet() == SUGGESTION_STYLE and box.take_shape.isEnabled()
    assert [z for z in ZONES if form.zones[z].property("suggested")] == list(suggestion.zones)
    reading = form.reading()  # the reader's fields are empty: nothing was filled in
    assert reading.small.profusion is None and reading.small.zones == () and reading.parenchymal is None
    assert not reading.small.primary
    assert not form.entered
    assert panel.chart.suggestion is suggestion
    for zone in ZONES:
        assert suggestion.zone_profusion[zone] in panel.chart.cell_text(zone)
    assert not panel.chart.grab().isNull()


def test_a_signed_reading_holds_what_the_reader_chose_and_the_suggestion_apart(qtbot, ilo_result, film: Path,
                                                                             tmp_path: Path) -> None:
    panel = IloPanel(ReadingStore(tmp_path / "r.sqlite"))
    qtbot.addWidget(panel)
    panel.set_image(load_image(film))
    panel.set_result(ilo_result)
    suggestion = ilo_result.ilo
    form = panel.form
    form.quality.setCurrentIndex(form.quality.findData(1))
    form.parenchymal_no.setChecked(True)  # the reader does not see it
    form.pleural_no.setChecked(True)
    panel.reader.setText("Dr Reader")
    stored = panel.sign_and_save()
    assert stored is not None
    assert stored.reading.small.profusion is None and stored.reading.small.zones == ()  # not the model's
    kept = panel.store.history(stored.instance_key)[-1]
    assert kept.reading == stored.reading
    assert kept.model_suggestion["profusion"] == suggestion.profusion  # the model's answer, apart
    assert kept.model_suggestion["zones"] == list(suggestion.zones)
    assert kept.model_suggestion["shape"] == suggestion.shape and not stored.reading.small.primary
    assert kept.model_suggestion["model_id"] == ilo_result.model_id

    panel.ask_reason = lambda: "second look"  # the reader chooses the suggestion: then it is the reader's entry
    form.parenchymal_yes.setChecked(True)
    panel.suggestions.take_suggested_profusion()
    panel.suggestions.take_suggested_zones()
    panel.suggestions.take_suggested_shape()
    form.secondary.setCurrentIndex(form.secondary.findData("q"))
    form.large.setCurrentIndex(form.large.findData("0"))
    amended = panel.sign_and_save()
    assert amended is not None and amended.version == 2
    assert amended.reading.small.profusion == suggestion.profusion
    assert amended.reading.small.zones == suggestion.zones
    assert amended.reading.small.primary == suggestion.shape


def test_the_window_shows_the_ilo_heads_zones_without_occlusion(qtbot, ilo_diagnoser, film: Path) -> None:
    window = make_window(qtbot, lambda _settings, _progress: ilo_diagnoser)
    window.show_ilo_form()
    window.open_path(film)
    wait_for_result(qtbot, window)
    qtbot.waitUntil(lambda: window.ilo.overlay.present, timeout=60_000)  # the zones to draw on the film
    assert not window.ilo.measuring and window.ilo.evidence is None  # no occlusion probe for an ILO head
    assert window.ilo.chart.suggestion is window.panel.result.ilo
    assert window.ilo.suggestions.isVisible()
    assert window.saliency is None  # no Grad-CAM from pooled features


def test_settings_keep_the_head_folder_and_check_it(qtbot, tmp_path: Path) -> None:
    from viewer.settings import SettingsDialog, ViewerSettings

    settings = ViewerSettings()
    dialog = SettingsDialog(settings)
    qtbot.addWidget(dialog)
    dialog.head.setText(str(tmp_path))  # no head there
    assert "No trained head" in dialog.validate()
    dialog.head.setText(str(ILO_HEAD))
    assert not dialog.validate()
    dialog._accept()
    assert settings.head_folder == str(ILO_HEAD)
    assert settings.model_differs(ViewerSettings())  # another head: another model process
    settings.save()
    assert ViewerSettings.load().head_folder == str(ILO_HEAD)


def test_the_signed_readings_sr_carries_the_suggestion_kept_at_signing(qtbot, tiny_diagnoser, dicom_dir: Path,
                                                                       tmp_path: Path) -> None:
    """The reader's ILO SR: the reading as signed, and the model's suggestion as stored with it, in its own part."""
    from dataclasses import replace

    import pydicom

    from engine.ilo.suggestion import IloSuggestion
    from tests.dicom_factory import content_items

    image = load_image(dicom_dir / "RG1_UNCR.dcm")
    made = IloSuggestion(profusion="2/1", category=2, zone_probability={z: 0.9 if "upper" in z else 0.1 for z in ZONES},
                         zone_profusion={z: "2/1" if "upper" in z else "0/0" for z in ZONES}, simulation=True)
    result = replace(tiny_diagnoser.predict(image), ilo=made)
    panel = IloPanel(ReadingStore(tmp_path / "r.sqlite"))
    qtbot.addWidget(panel)
    panel.set_image(image)
    panel.set_result(result)
    form = panel.form
    form.quality.setCurrentIndex(form.quality.findData(1))
    form.parenchymal_no.setChecked(True)
    form.pleural_no.setChecked(True)
    panel.reader.setText("Dr Reader")
    assert panel.sign_and_save() is not None
    panel.set_result(None)  # the export uses what was kept at signing, not whatever is on screen now
    sr = pydicom.dcmread(panel.export("sr", tmp_path / "reading.dcm"))
    parts = {item.ConceptNameCodeSequence[0].CodeValue: item for item in sr.ContentSequence
             if item.ValueType == "CONTAINER"}
    model = content_items(parts["MODELSUG"])
    profusion = [i for i in model if i.ConceptNameCodeSequence[0].CodeValue == "MPROFUS"][0]
    assert profusion.ConceptCodeSequence[0].CodeValue == "2/1"
    reader = content_items(parts["PARSEC"])
    assert not [i for i in reader if i.ConceptNameCodeSequence[0].CodeValue in ("PROFUS", "ZONE")]


def test_take_the_shape_is_offered_only_for_a_suggested_shape_and_fills_only_the_primary(qtbot, tiny_diagnoser,
                                                                                          dicom_dir: Path,
                                                                                          tmp_path: Path) -> None:
    from dataclasses import replace

    from engine.ilo.suggestion import IloSuggestion

    image = load_image(dicom_dir / "RG1_UNCR.dcm")
    plain = IloSuggestion(profusion="2/1", category=2,
                          zone_probability={z: 0.9 if "upper" in z else 0.1 for z in ZONES},
                          zone_profusion={z: "2/1" if "upper" in z else "0/0" for z in ZONES})
    panel = IloPanel(ReadingStore(tmp_path / "r.sqlite"))
    qtbot.addWidget(panel)
    panel.show()
    panel.set_image(image)
    box, form = panel.suggestions, panel.form
    result = tiny_diagnoser.predict(image)
    panel.set_result(replace(result, ilo=plain))  # a head without a shape output
    settle()
    assert "not predicted by this head" in box.text.text() and not box.take_shape.isVisible()
    assert form.primary.styleSheet() == ""
    panel.set_result(replace(result, ilo=replace(plain, shape_output=True)))  # a film the head calls normal
    settle()
    assert "none (not suggested abnormal)" in box.text.text()
    assert box.take_shape.isVisible() and not box.take_shape.isEnabled()
    shaped = replace(plain, shape="r", shape_probability=0.64, shape_output=True)
    panel.set_result(replace(result, ilo=shaped))
    settle()
    assert "shape <b>r (64%)</b>" in box.text.text() and box.take_shape.isEnabled()
    assert form.primary.styleSheet() == SUGGESTION_STYLE and "suggests r" in form.primary.toolTip()
    assert form.primary.currentData() == "" and not form.reading().small.primary  # never pre-filled
    box.take_suggested_shape()
    assert form.primary.currentData() == "r" and form.secondary.currentData() == ""  # the primary only
    assert form.profusion.currentData() in (None, "")  # the other suggestions stay the reader's to take
    panel.set_result(None)
    assert form.primary.styleSheet() == "" and form.primary.currentData() == "r"  # the reader's choice stays
