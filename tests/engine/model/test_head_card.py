"""The typed head card: one loader that refuses malformed cards, a round trip that keeps what it does not know."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from engine.errors import ModelLoadError
from engine.model.head_card import CARD_NAME, HeadCard, load_head_card
from engine.paths import DEFAULT_HEAD
from tests.head_factory import make_tiny_head


@pytest.fixture()
def card_json(tmp_path: Path) -> dict:
    return json.loads((make_tiny_head(tmp_path / "head", with_map=False) / CARD_NAME).read_text())


def test_round_trip_keeps_every_field_and_unknown_keys(card_json: dict) -> None:
    card_json["future_field"] = {"kept": True}
    card = HeadCard.from_json(card_json)
    assert card.labels == ("normal", "abnormal") and card.positive_label == "abnormal"
    assert card.negative_label == "normal" and len(card.model_id) == 16
    again = card.to_json()
    assert again["future_field"] == {"kept": True}
    assert HeadCard.from_json(again) == card


@pytest.mark.parametrize(("change", "message"), [
    ({"threshold": None}, "threshold"),
    ({"threshold": 1.5}, "threshold"),
    ({"threshold": "0.5"}, "threshold"),
    ({"temperature": 0}, "temperature"),
    ({"labels": ["only"]}, "labels"),
    ({"labels": ["a", "a"]}, "labels"),
    ({"positive_index": 2}, "positive_index"),
    ({"model": "vit"}, "model"),
    ({"preprocess": {"input_size": 224, "mean": [0.5], "std": [0.2, 0.2, 0.2]}}, "preprocess"),
    ({"fingerprints": {"vision": 3}}, "fingerprints"),
    ({"operating_points": {"sensitivity:0.95": {"threshold": 2.0}}}, "operating point"),
    ({"preprocess": {"input_size": 224, "mean": [0.5] * 3, "std": [0.2] * 3, "effective_side": 4}}, "effective_side"),
])
def test_malformed_cards_are_refused_with_the_reason(card_json: dict, change: dict, message: str) -> None:
    card_json |= change
    with pytest.raises(ModelLoadError, match=message) as info:
        HeadCard.from_json(card_json)
    assert "reinstall or retrain" in info.value.user_message


def test_missing_keys_are_refused_not_defaulted(card_json: dict) -> None:
    del card_json["threshold"]
    with pytest.raises(ModelLoadError, match="no 'threshold'"):
        HeadCard.from_json(card_json)


def test_loader_names_missing_and_damaged_cards(tmp_path: Path) -> None:
    with pytest.raises(ModelLoadError, match="No trained head"):
        load_head_card(tmp_path)
    (tmp_path / CARD_NAME).write_text("{nope")
    with pytest.raises(ModelLoadError, match="damaged"):
        load_head_card(tmp_path)


def test_the_shipped_head_card_loads() -> None:
    card = load_head_card(DEFAULT_HEAD)
    assert card.profile == "embedded" and 0 < card.threshold < 1 and card.temperature > 0
    assert card.positive_label == "PNEUMONIA" and card.stand_in_note


def test_the_shipped_head_keeps_the_hashes_of_exactly_its_training_images(shared_data: Path) -> None:
    """Issue 17: the wizard's comparison counts how many images the installed head was trained on; for the
    shipped head that rests on these hashes. The Kermany images it trained on are all in it, the patient-level
    hold-out none."""
    from engine.model.head_card import read_training_hashes
    from engine.paths import file_sha256

    hashes = read_training_hashes(DEFAULT_HEAD)
    assert hashes is not None
    card = load_head_card(DEFAULT_HEAD)
    for label, trained_on in card.training["per_class"].items():
        files = sorted((shared_data / "kermany" / "train" / label).iterdir())
        if not files:
            pytest.skip(f"no Kermany {label} images")
        assert sum(file_sha256(path) in hashes for path in files) == trained_on < len(files)
