"""The ILO form: JSON round trip, and the form's rules as one-line problems."""

from __future__ import annotations

import copy

import pytest

from engine.ilo.codes import SYMBOLS
from engine.ilo.form import IloFormError, IloReading, missing, problems, validate
from tests.engine.ilo.readings import ABNORMAL, NORMAL, reading


@pytest.mark.parametrize("data", [NORMAL, ABNORMAL])
def test_consistent_readings_round_trip(data: dict) -> None:
    form = validate(reading(data))
    assert IloReading.from_dict(form.to_dict()) == form
    assert problems(form) == []


def test_fields_are_typed_and_ordered() -> None:
    form = reading(ABNORMAL)
    assert form.small.zones == ("right_upper", "right_middle", "left_upper")  # the form's order, not the input's
    assert form.category == 1 and form.other_abnormalities
    assert form.plaques.sites["chest_wall_in_profile"].code() == "R"
    assert form.costophrenic.code() == "L"


def _with(**changes) -> IloReading:
    data = copy.deepcopy(ABNORMAL)
    for key, value in changes.items():
        if "." in key:
            outer, inner = key.split(".")
            data[outer][inner] = value
        else:
            data[key] = value
    return reading(data)


@pytest.mark.parametrize(("changes", "expected"), [
    ({"quality_comment": ""}, "give the reason"),
    ({"quality": 5}, "quality must be 1-4"),
    ({"small.profusion": "0/1", "large": "0"}, "needs profusion 1/0 or more"),
    ({"small.profusion": "4/4"}, "Profusion must be one of"),
    ({"small.zones": []}, "Tick the zones"),
    ({"small.secondary": ""}, "primary and the secondary"),
    ({"large": "D"}, "Large opacities must be"),
    ({"parenchymal": False}, "answer 'yes' in 2A"),
    ({"pleural": False}, "answer 'yes' to pleural"),
    ({"plaques.extent_right": 0}, "extent 1-3 exactly when"),
    ({"plaques.width_right": ""}, "width a-c exactly when"),
    ({"plaques.calcification": {"diaphragm": {"right": True}}}, "must also be marked"),
    ({"reader": " "}, "reader's name"),
    ({"read_on": "1/12/2026"}, "YYYY-MM-DD"),
    ({"diffuse": {"sites": {"chest_wall_face_on": {"right": True}}, "extent_right": 1}},
     "only with an obliterated costophrenic angle"),
])
def test_each_rule_gives_a_clear_problem(changes: dict, expected: str) -> None:
    found = problems(_with(**changes))
    assert any(expected in line for line in found), found
    with pytest.raises(IloFormError):
        validate(_with(**changes))


def test_unsigned_draft_is_allowed_when_asked() -> None:
    draft = _with(reader="", read_on="")
    assert problems(draft, require_signature=False) == []
    assert problems(draft)


@pytest.mark.parametrize(("data", "expected"), [
    ([1, 2], "must be a JSON object"),
    ({"qualty": 1}, "Unknown field(s) in reading: qualty"),
    ({"quality": "one"}, "whole number"),
    ({"parenchymal": "yes"}, "true or false"),
    ({"symbols": ["zz"]}, "Unknown value(s) in symbols: zz"),
    ({"small": {"zones": ["upper"]}}, "Unknown value(s) in small.zones"),
    ({"costophrenic": {"middle": True}}, "'right' and/or 'left'"),
])
def test_malformed_json_is_one_line(data, expected: str) -> None:
    with pytest.raises(IloFormError) as caught:
        IloReading.from_dict(data)
    assert expected in caught.value.user_message
    assert "\n" not in caught.value.user_message


def test_an_untouched_form_answers_nothing_and_is_not_signed() -> None:
    blank = IloReading().signed("Dr Test")
    assert (blank.quality, blank.parenchymal, blank.small.profusion, blank.large, blank.pleural, blank.category) == \
        (None, None, None, None, None, None)
    assert missing(blank) == ["1 radiograph quality", "2A parenchymal abnormality (yes/no)",
                              "3 pleural abnormality (yes/no)"]
    assert problems(blank)[:3] == [f"Not answered: {q}." for q in missing(blank)]
    with pytest.raises(IloFormError) as caught:
        validate(blank)
    message = caught.value.user_message
    assert message.startswith("The reading is incomplete, not answered: 1 radiograph quality; 2A")
    assert "3 pleural" in message
    assert "\n" not in message


def test_under_2a_yes_profusion_and_large_opacities_must_be_answered() -> None:
    data = copy.deepcopy(ABNORMAL)
    del data["small"]["profusion"], data["large"]
    assert missing(reading(data)) == ["2B profusion", "2C large opacities"]
    with pytest.raises(IloFormError, match="not answered: 2B profusion; 2C large opacities"):
        validate(reading(data))


@pytest.mark.parametrize("answer", [{}, {"small": {"profusion": None}, "large": None}, {"small": {"profusion": ""}}])
def test_absent_null_or_empty_is_unanswered_and_round_trips(answer: dict) -> None:
    normal = validate(reading({**NORMAL, **answer}))  # 2A "no": the paper form skips 2B and 2C
    assert normal.small.profusion is None and normal.large is None
    assert IloReading.from_dict(normal.to_dict()) == normal
    assert normal.to_dict()["small"]["profusion"] is None


def test_readings_saved_with_every_answer_written_still_load() -> None:
    saved = {"quality": 1, "quality_comment": "", "parenchymal": False,
             "small": {"primary": "", "secondary": "", "zones": [], "profusion": "0/0"}, "large": "0",
             "pleural": False, "plaques": {"sites": {}, "calcification": {}, "extent_right": 0, "extent_left": 0,
                                           "width_right": "", "width_left": ""},
             "costophrenic": {"right": False, "left": False},
             "diffuse": {"sites": {}, "calcification": {}, "extent_right": 0, "extent_left": 0, "width_right": "",
                         "width_left": ""},
             "symbols": [], "comments": "", "reader": "Dr Old", "read_on": "2025-01-02"}
    old = validate(IloReading.from_dict(saved))
    assert (old.quality, old.parenchymal, old.small.profusion, old.large, old.pleural) == (1, False, "0/0", "0", False)
    assert old.to_dict() == saved


def test_symbol_od_is_on_the_form_and_needs_a_comment() -> None:
    assert "od" in SYMBOLS and list(SYMBOLS).index("od") == list(SYMBOLS).index("me") + 1
    assert any("Symbol od" in line for line in problems(reading({**NORMAL, "symbols": ["od"]})))
    validate(reading({**NORMAL, "symbols": ["od"], "comments": "old rib resection"}))


def test_quality_reasons_the_niosh_boxes() -> None:
    """A grade other than 1 is explained by the NIOSH form's boxes or the comment; the boxes round-trip in order."""
    boxes = _with(quality_comment="", quality_reasons=["mottle", "overexposed"])
    assert boxes.quality_reasons == ("overexposed", "mottle")  # the form's order
    assert problems(boxes, require_signature=False) == []
    assert IloReading.from_dict(boxes.to_dict()) == boxes
    assert any("untick the quality reasons" in line
               for line in problems(_with(quality=1, quality_reasons=["mottle"]), require_signature=False))
    other = problems(_with(quality_comment="", quality_reasons=["other"]), require_signature=False)
    assert any("'other': say which" in line for line in other)
    with pytest.raises(IloFormError, match="quality_reasons"):
        _with(quality_reasons=["blurred"])
    assert any("Quality U/R: give the reason" in line
               for line in problems(_with(quality=4, quality_comment=""), require_signature=False))
