"""The ILO form: JSON round trip, and the form's rules as one-line problems."""

from __future__ import annotations

import copy

import pytest

from engine.ilo.form import IloFormError, IloReading, problems, validate
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
