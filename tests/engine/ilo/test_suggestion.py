"""An ILO head's suggestion for one film: read off the head's outputs, and back from what a signed reading stores."""

from __future__ import annotations

import numpy as np
import pytest

from engine.errors import PneumoError
from engine.ilo.codes import ZONES
from engine.ilo.store import ReadingStore
from engine.ilo.suggestion import IloSuggestion
from tests.engine.ilo.readings import NORMAL, reading


def suggestion() -> IloSuggestion:
    cumulative = np.where(np.arange(11) < 5, 3.0, -3.0)  # "grade > k" yes for k = 0..4: index 5 = 1/2
    zone_grades = np.stack([np.where(np.arange(11) < n, 2.0, -2.0) for n in (6, 4, 0, 5, 1, 0)])
    presence = np.array([3.0, 0.5, -3.0, 2.0, -0.5, -6.0])
    return IloSuggestion.from_outputs(np.array([2.0, -1.0, -4.0]), cumulative, presence, zone_grades, simulation=True)


def test_the_suggestion_reads_the_heads_ordinal_and_zone_outputs() -> None:
    found = suggestion()
    assert (found.profusion, found.category, found.profusion_category) == ("1/2", 1, 1)
    assert found.zones == ("right_upper", "right_middle", "left_upper")  # presence probability >= 0.5
    assert [found.zone_profusion[z] for z in ZONES] == ["2/1", "1/1", "0/-", "1/2", "0/0", "0/-"]
    assert found.shape is None and "shape: not predicted" in found.describe()
    assert found.describe().startswith("SIMULATION - model suggests profusion 1/2")


def test_a_head_with_a_shape_output_suggests_a_shape_only_for_a_film_it_calls_abnormal() -> None:
    plain = suggestion()
    logits = np.array([0.1, 2.0, 0.5, -1.0, -1.0, -3.0])  # p q r s t u
    shaped = IloSuggestion.from_outputs(np.array([2.0, -1.0, -4.0]), np.where(np.arange(11) < 5, 3.0, -3.0),
                                        np.zeros(6), np.zeros((6, 11)), shape_logits=logits, abnormal=True)
    chances = np.exp(logits) / np.exp(logits).sum()
    assert shaped.shape == "q" and shaped.shape_probability == pytest.approx(chances[1])
    assert shaped.shape_output and f"shape: q ({chances[1]:.2f})" in shaped.describe()
    assert shaped.shape_text.startswith("q (rounded, 1.5-3 mm, probability")
    normal = IloSuggestion.from_outputs(np.array([-2.0, -3.0, -4.0]), np.full(11, -3.0), np.zeros(6),
                                        np.zeros((6, 11)), shape_logits=logits, abnormal=False)
    assert normal.shape is None and normal.shape_probability is None and normal.shape_output
    assert "shape: none (not suggested abnormal)" in normal.describe()
    assert not plain.shape_output and plain.shape_text == "not predicted by this head"
    data = shaped.to_json()
    assert data["shape"] == "q" and data["shape_probability"] == pytest.approx(chances[1], abs=1e-6)
    back = IloSuggestion.from_json(data)
    assert (back.shape, back.shape_output) == ("q", True)
    assert back.shape_probability == pytest.approx(shaped.shape_probability, abs=1e-6)
    old = {k: v for k, v in plain.to_json().items() if k not in ("shape_probability", "shape_output")}
    assert IloSuggestion.from_json(old).shape is None  # a reading stored before heads had a shape
    with pytest.raises(PneumoError, match="unknown shape"):
        IloSuggestion.from_json({**data, "shape": "x"})


def test_a_signed_reading_stores_it_apart_and_it_reads_back(tmp_path) -> None:
    store = ReadingStore(tmp_path / "r.sqlite")
    kept = suggestion().to_json()
    store.save("file:abc", reading(NORMAL), model_suggestion=kept)
    store.save("file:def", reading(NORMAL))
    first, second = store.latest("file:abc"), store.latest("file:def")
    assert first.model_suggestion == kept and second.model_suggestion is None
    assert first.reading == reading(NORMAL)  # the reading is the reader's alone
    back, made = IloSuggestion.from_json(first.model_suggestion), suggestion()
    assert (back.profusion, back.category, back.zones, back.zone_profusion, back.shape, back.simulation) == (
        made.profusion, made.category, made.zones, made.zone_profusion, made.shape, made.simulation)
    assert back.zone_probability == pytest.approx(made.zone_probability, abs=1e-6)


def test_a_malformed_stored_suggestion_is_a_one_line_error() -> None:
    with pytest.raises(PneumoError, match="malformed"):
        IloSuggestion.from_json({"profusion": "1/2"})
    with pytest.raises(PneumoError, match="unknown grade"):
        IloSuggestion.from_json({**suggestion().to_json(), "profusion": "4/4"})
