"""Example ILO readings shared by the ILO tests."""

from __future__ import annotations

from engine.ilo.form import IloReading

NORMAL = {"quality": 1, "parenchymal": False, "pleural": False, "reader": "Dr Test", "read_on": "2026-12-01"}

ABNORMAL = {
    "quality": 2, "quality_comment": "slightly underexposed",
    "parenchymal": True,
    "small": {"primary": "q", "secondary": "t", "zones": ["right_upper", "left_upper", "right_middle"],
              "profusion": "1/2"},
    "large": "A",
    "pleural": True,
    "plaques": {"sites": {"chest_wall_in_profile": {"right": True}, "diaphragm": {"left": True}},
                "calcification": {"diaphragm": {"left": True}}, "extent_right": 2, "width_right": "b"},
    "costophrenic": {"left": True},
    "symbols": ["ax", "em"],
    "comments": "Compare with previous film.",
    "reader": "Dr Test", "read_on": "2026-12-01",
}


def reading(data: dict) -> IloReading:
    return IloReading.from_dict(data)
