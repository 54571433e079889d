"""Clues and the draft: the planner's sentences are all supported; invented or contradicted findings are not."""

from __future__ import annotations

from dataclasses import replace

import pytest

from engine.ilo.clues import ModelFacts, build_clues, check_sentence
from engine.ilo.draft import DRAFT_LABEL, PlannerGenerator, draft_report, split_sentences
from engine.ilo.zone_evidence import ZoneEvidence, ZoneEvidenceReport
from tests.engine.ilo.readings import ABNORMAL, NORMAL, reading

FACTS = ModelFacts(probability=0.713, threshold=0.622, positive_label="pneumonia", flagged=True, diagnosed=True,
                   warnings=("image looks rotated (lungs tilted 17°)",))


def _evidence(strong: str = "right_lower") -> ZoneEvidenceReport:
    names = ("right_upper", "right_middle", "right_lower", "left_upper", "left_middle", "left_lower")
    return ZoneEvidenceReport(tuple(ZoneEvidence(n, 100, (0, 0, 1, 1), 0.08 if n == strong else 0.001, None)
                                    for n in names), 600, 0.713)


@pytest.mark.parametrize("data", [NORMAL, ABNORMAL])
def test_every_planner_sentence_rests_on_its_clue(data: dict) -> None:
    clues = build_clues(FACTS, _evidence(), reading(data))
    draft = draft_report(clues)
    assert draft.generator == "planner" and draft.label == DRAFT_LABEL
    assert draft.truthful_fraction == 1.0, [(s.text, s.check.reason) for s in draft.sentences if not s.check.supported]
    assert len(draft.sentences) == len(clues)
    for sentence, clue in zip(draft.sentences, clues, strict=True):  # reader's clues come first already
        assert clue.id in sentence.check.clue_ids
        assert sentence.suggestion == (clue.source != "reader")


def test_an_undiagnosed_image_says_so_and_nothing_about_the_threshold() -> None:
    facts = replace(FACTS, flagged=False, diagnosed=False)
    clues = build_clues(facts, None, reading(NORMAL))
    draft = draft_report(clues)
    assert draft.truthful_fraction == 1.0 and any("did not diagnose" in s.text for s in draft.sentences)
    assert not check_sentence("The model's score is below its operating threshold.", clues).supported


def test_warnings_are_quoted_not_parsed() -> None:
    warning = "unlike any radiograph the model was trained on: not diagnosed — read it yourself"
    clues = build_clues(replace(FACTS, warnings=(warning,)), _evidence(), reading(ABNORMAL))
    assert draft_report(clues).truthful_fraction == 1.0


def test_without_a_reading_only_model_suggestions() -> None:
    draft = draft_report(build_clues(FACTS, _evidence(), None))
    assert draft.sentences and all(s.suggestion for s in draft.sentences)
    assert "a suggestion, not a reading" in draft.sentences[0].text


@pytest.mark.parametrize(("data", "sentence"), [
    (NORMAL, "There are small opacities in the right upper zone."),  # contradicts profusion 0/0
    (NORMAL, "There are pleural plaques on the left."),  # the reader said no pleural abnormality
    (ABNORMAL, "No small opacities are seen."),  # negation the reading does not make
    (ABNORMAL, "Small opacities in the left lower zone."),  # a zone the reader did not tick
    (ABNORMAL, "Small opacities, profusion 2/2."),  # a value no clue has
    (ABNORMAL, "Small opacities in the upper zones and a mass in the right hilum."),  # an invented finding
    (ABNORMAL, "The lungs are otherwise clear."),  # nothing a clue supports
    (ABNORMAL, "There is a pneumothorax."),  # a symbol the reader did not record
    (NORMAL, "The model's score is 0.713, below its operating threshold."),  # the model flagged it
    (ABNORMAL, "There is no emphysema."),  # a recorded symbol, denied
])
def test_checker_rejects_what_the_clues_do_not_say(data: dict, sentence: str) -> None:
    clues = build_clues(FACTS, _evidence(), reading(data))
    assert not check_sentence(sentence, clues).supported


@pytest.mark.parametrize(("data", "sentence", "clue"), [
    (ABNORMAL, "Small opacities are present in the right upper zone, profusion 1/2.", "reader.small_opacities"),
    (ABNORMAL, "Emphysema is noted.", "reader.symbol.em"),
    (NORMAL, "There are no pleural plaques or pleural abnormalities.", "reader.pleural"),
    (NORMAL, "No large opacities.", "reader.large_opacities"),
    (ABNORMAL, "The model's evidence is strongest in the right lower zone.", "model.zone_evidence"),
    (ABNORMAL, "Coalescence of small opacities is seen.", "reader.symbol.ax"),
    (NORMAL, "Warning: image looks rotated (lungs tilted 17°), so read with care.", "image.warning.0"),
])
def test_checker_accepts_faithful_rewording(data: dict, sentence: str, clue: str) -> None:
    check = check_sentence(sentence, build_clues(FACTS, _evidence(), reading(data)))
    assert check.supported, check.reason
    assert clue in check.clue_ids


class _Liar:
    name = "llm"

    def sentences(self, clues):
        return ["Small opacities in the right upper zone, profusion 1/2.", "There is a large mass in the left lung."]


def test_unsupported_generated_sentences_fall_back_to_the_planner() -> None:
    clues = build_clues(FACTS, _evidence(), reading(ABNORMAL))
    draft = draft_report(clues, _Liar())
    assert (draft.generated, draft.generated_supported) == (2, 1)
    texts = [s.text for s in draft.sentences]
    assert "There is a large mass in the left lung." not in texts
    assert all(s.check.supported for s in draft.sentences)
    assert {s.generator for s in draft.sentences} == {"llm", "planner"}
    covered = {i for s in draft.sentences for i in s.check.clue_ids}
    assert covered >= {c.id for c in clues}


def test_split_sentences() -> None:
    assert split_sentences("1. No plaques.\n- Emphysema. Bullae present.\n") == ["No plaques.", "Emphysema.",
                                                                                 "Bullae present."]
    assert PlannerGenerator().sentences([]) == []


def test_symbol_od_and_unanswered_2b_2c_draft_truthfully() -> None:
    data = {**NORMAL, "symbols": ["em", "od"], "comments": "old rib resection"}
    clues = build_clues(FACTS, _evidence(), reading(data))
    draft = draft_report(clues)
    assert draft.truthful_fraction == 1.0, [(s.text, s.check.reason) for s in draft.sentences]
    assert any("other disease or significant abnormality (od)" in s.text for s in draft.sentences)
    assert any(s.text == "No small opacities of pneumoconiosis." for s in draft.sentences)  # no profusion chosen
