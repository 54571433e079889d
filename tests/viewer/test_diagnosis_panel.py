"""The diagnosis panel on its own (viewer/diagnosis_panel.py): its states, the reader's requests it emits, and what
it shows of a result - numbers, the threshold's source, a withheld verdict, the bar, the map and intended use."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from PySide6.QtGui import QFont

from engine.decision import ThresholdSource
from engine.diagnoser import Diagnoser
from engine.reference_map import FAR_PERCENTILE, domain_flags
from engine.result import DiagnosisResult
from tests.dicom_factory import chest_like, make_dicom
from viewer.diagnosis_panel import CAUTION_STYLE, ConfidenceBar, DiagnosisPanel


@pytest.fixture(scope="module")
def result(tiny_diagnoser: Diagnoser, tmp_path_factory: pytest.TempPathFactory) -> DiagnosisResult:
    path = make_dicom(tmp_path_factory.mktemp("panel") / "a.dcm", chest_like(300, 280), ViewPosition="PA")
    return tiny_diagnoser.predict(path)


@pytest.fixture()
def panel(qtbot) -> DiagnosisPanel:
    panel = DiagnosisPanel()
    qtbot.addWidget(panel)
    panel.resize(480, 900)
    panel.show()
    return panel


def test_the_states_offer_only_what_can_be_done(panel: DiagnosisPanel) -> None:
    assert panel.headline.text() == "—" and panel.numbers.text() == "" and not panel.bar.isVisible()
    assert not panel.diagnose_button.isEnabled(), "nothing to diagnose without an image"
    assert not panel.accept_button.isEnabled() and not panel.override_button.isEnabled()
    panel.has_image = True
    panel.show_busy("Diagnosing…")
    assert panel.status.text() == "Diagnosing…" and panel.cancel_button.isVisible() and panel.busy.isVisible()
    assert not panel.diagnose_button.isEnabled()
    panel.show_idle("Ready.")
    assert not panel.cancel_button.isVisible() and not panel.busy.isVisible() and panel.diagnose_button.isEnabled()
    panel.show_held()
    assert panel.reveal_button.isVisible() and "held back" in panel.headline.text()
    panel.show_problem("The image is a lateral view.", flagged=True)
    assert panel.headline.text() == "Not diagnosed" and panel.anyway_button.isVisible()
    assert panel.numbers.text() == "" and not panel.bar.isVisible(), "no made-up numbers"
    panel.show_problem("No trained head is installed.")
    assert panel.headline.text() == "No result" and not panel.anyway_button.isVisible()
    assert "#b00020" in panel.status.styleSheet()


def test_the_buttons_emit_the_readers_requests(qtbot, panel: DiagnosisPanel, result: DiagnosisResult) -> None:
    panel.has_image = True
    panel.clear()
    for button, allow_flagged in ((panel.diagnose_button, False), (panel.anyway_button, True)):
        button.show()
        with qtbot.waitSignal(panel.diagnose_requested) as request:
            button.click()
        assert request.args == [allow_flagged]
    panel.show_busy("Diagnosing…")
    with qtbot.waitSignal(panel.cancel_requested):
        panel.cancel_button.click()
    panel.show_held()
    with qtbot.waitSignal(panel.reveal_requested):
        panel.reveal_button.click()
    panel.show_result(result.at_threshold(0.0), [])  # diagnosed: the review buttons are live
    for button, action in ((panel.accept_button, "accepted"), (panel.override_button, "overridden")):
        with qtbot.waitSignal(panel.review_recorded) as review:
            button.click()
        assert review.args == [action]


def test_a_result_fills_the_numbers_bar_crop_and_device(panel: DiagnosisPanel, result: DiagnosisResult) -> None:
    panel.show_result(result, [])
    numbers = panel.numbers.text()
    assert f"<b>{result.probability:.3f}</b>" in numbers and f"<b>{result.threshold:.3f}</b> (the model's)" in numbers
    assert result.positive_label in numbers and "Suggested grade" not in numbers  # a binary head
    assert panel.bar.isVisible() and (panel.bar.probability, panel.bar.threshold) == (result.probability,
                                                                                      result.threshold)
    assert panel.accept_button.isEnabled() == result.decision.diagnosed
    assert not panel.crop.pixmap().isNull() and panel.crop_caption.text().startswith("Model input: 224×224")
    assert result.profile in panel.device.text() and result.model_id[:12] in panel.device.text()
    panel.clear()
    assert panel.result is None and panel.numbers.text() == "" and panel.crop.text() == "no crop yet"


@pytest.mark.parametrize(("source", "said"), [(ThresholdSource.OVERRIDE, "your override; the model's is"),
                                              (ThresholdSource.OPERATING_POINT,
                                               "the operating point chosen in Settings; the model's default is")])
def test_the_threshold_in_force_names_where_it_came_from(panel: DiagnosisPanel, result: DiagnosisResult,
                                                         source: ThresholdSource, said: str) -> None:
    panel.show_decision(result.at_threshold(0.0, source))
    assert f"<b>0.000</b> ({said} {result.model_threshold:.3f})" in panel.numbers.text()
    assert panel.bar.threshold == 0.0 and panel.headline.text() == result.at_threshold(0.0).decision.headline(
        result.positive_label, result.probability)


def test_a_withheld_verdict_says_why_as_loudly_as_the_headline(panel: DiagnosisPanel,
                                                               result: DiagnosisResult) -> None:
    (far,) = domain_flags(FAR_PERCENTILE + 0.5)
    withheld = result.with_warning(far)
    assert not withheld.decision.diagnosed
    panel.show_result(withheld, [])
    assert panel.warnings.text() == "⚠ " + withheld.decision.describe()
    assert panel.warnings.styleSheet() == CAUTION_STYLE and panel.warnings.font() == panel.headline.font()
    assert not panel.accept_button.isEnabled() and not panel.override_button.isEnabled()
    clean = replace(result, warnings=(), image_flags=(), lung_crop=replace(result.lung_crop, flags=()))
    panel.show_decision(clean.at_threshold(0.0))
    assert panel.warnings.text() == "✓ Lung crop quality check passed" and panel.warnings.font() == QFont()


def test_map_and_intended_use_lines(panel: DiagnosisPanel) -> None:
    panel.show_map(None, None)
    assert panel.map.message.startswith("No reference map") and panel.map_caption.text() == ""
    panel.show_map(None, None, "The map is still loading.")
    assert panel.map.message == "The map is still loading."
    panel.set_intended_use("paediatric frontal chest radiographs")
    assert panel.intended_use.text() == "Intended use of this head: paediatric frontal chest radiographs"
    panel.set_intended_use("")
    assert panel.intended_use.text() == ""


def test_the_bar_explains_itself_only_with_a_probability(qtbot, tmp_path: Path) -> None:
    bar = ConfidenceBar()
    qtbot.addWidget(bar)
    bar.set_values(0.8123, 0.4)
    assert bar.toolTip() == ("probability 0.812; threshold 0.400; at or above the threshold the case is flagged")
    assert bar.grab().save(str(tmp_path / "bar.png"))  # paints the pointer without error
    bar.set_values(None, 0.4)
    assert bar.toolTip() == "" and bar.grab().save(str(tmp_path / "empty.png"))


def test_no_empty_amber_box_in_any_state(panel: DiagnosisPanel, result: DiagnosisResult) -> None:
    """Issue 25: empty amber boxes showed while a result was held back; a box is shown only with its text."""
    from engine.flags import Flag

    def boxes_say_something() -> bool:
        return all(bool(box.text()) == box.isVisible() and (box.text() or box.styleSheet() == "")
                   for box in (panel.warnings, panel.domain))

    panel.clear()
    assert boxes_say_something() and not panel.warnings.isVisible() and not panel.domain.isVisible()
    panel.show_held()  # read first: nothing of the model shows
    assert boxes_say_something() and not panel.warnings.isVisible()
    far = result.with_warning(Flag("out_of_domain", "unlike most of the reference cases"))
    panel.show_result(far, [])
    assert panel.domain.isVisible() and panel.domain.styleSheet() == CAUTION_STYLE
    clean = replace(result, warnings=(), image_flags=(), lung_crop=replace(result.lung_crop, flags=()))
    panel.show_decision(clean)  # the same panel, a result without the flag: its box goes, style and all
    assert boxes_say_something() and not panel.domain.isVisible()


def test_an_ilo_heads_thumbnail_says_the_zones_are_its_input(panel: DiagnosisPanel, result: DiagnosisResult) -> None:
    """An ILO head reads the six zones of the full-resolution film: calling the thumbnail its 224 input was wrong."""
    from dataclasses import replace

    from engine.ilo.codes import ZONES
    from engine.ilo.suggestion import IloSuggestion

    ilo = IloSuggestion(profusion="1/1", category=1, zone_probability=dict.fromkeys(ZONES, 0.5),
                        zone_profusion=dict.fromkeys(ZONES, "1/1"), simulation=True)
    panel.show_result(replace(result, ilo=ilo), [])
    caption = panel.crop_caption.text()
    assert "six zones at full resolution" in caption and "224" not in caption
