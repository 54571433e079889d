"""Double reading: each reader's own reading, blind second readers, the programme's discordance rule, the queue."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from engine.errors import PneumoError
from engine.ilo.double_reading import (
    CaseStatus,
    DiscordanceRule,
    adjudication_queue,
    all_cases,
    case_of,
    load_rule,
    major_category,
    save_rule,
)
from engine.ilo.store import ReadingStore, reader_key
from tests.engine.ilo.double_readings import filled_store, form


def test_the_default_rule(tmp_path: Path) -> None:
    rule = DiscordanceRule()
    assert rule.reasons(form("1/1", "a"), form("1/2", "b")) == ()  # one subcategory apart, same category
    assert rule.reasons(form("0/1", "a"), form("1/0", "b")) == ("major category differs (0 vs 1)",)
    assert rule.reasons(form("1/0", "a"), form("1/2", "b")) == (
        "profusion differs by 2 subcategories (1/0 vs 1/2)",)
    assert rule.reasons(form("0/0", "a"), form("0/0", "b", pleural=True)) == (
        "pleural findings recorded by one reader only",)
    assert major_category(form(None, "a")) == 0  # 2A "no" with 2B skipped is category 0 ...
    assert rule.reasons(form(None, "a"), form("0/1", "b")) == ()  # ... and has no subcategory to compare


def test_a_programme_rule_from_json(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PNEUMOLLM_DATA", str(tmp_path))
    assert load_rule() == DiscordanceRule()  # no file: the default
    (tmp_path / "double_reading_rule.json").write_text(json.dumps({"major_category": False,
                                                                   "max_subcategory_steps": None}))
    rule = load_rule()
    assert rule == DiscordanceRule(major_category=False, max_subcategory_steps=None, pleural=True)
    assert rule.reasons(form("0/0", "a"), form("3/+", "b")) == ()
    assert "pleural" in rule.describe() and "major" not in rule.describe()
    (tmp_path / "bad.json").write_text(json.dumps({"max_subcategory_steps": "two"}))
    with pytest.raises(PneumoError, match="whole number"):
        load_rule(tmp_path / "bad.json")
    with pytest.raises(PneumoError, match="does not exist"):
        load_rule(tmp_path / "absent.json")


def test_a_saved_rule_is_the_one_loaded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PNEUMOLLM_DATA", str(tmp_path))
    rule = DiscordanceRule(major_category=True, max_subcategory_steps=2, pleural=False)
    assert save_rule(rule) == tmp_path / "double_reading_rule.json"  # where the CLI and the viewer look
    assert load_rule() == rule and load_rule(save_rule(DiscordanceRule(), tmp_path / "own.json")) == DiscordanceRule()


def test_a_second_reader_is_no_amendment_and_reads_blind(tmp_path: Path) -> None:
    store = ReadingStore(tmp_path / "r.sqlite")
    first = store.save("sop:x", form("1/1", "Dr One"), reader_id="B-1")
    case = case_of("sop:x", store.history("sop:x"))
    assert case.status is CaseStatus.AWAITING_SECOND
    two = reader_key("Dr Two")
    assert case.blind_for(two) and not case.blind_for(first.reader_key)
    assert not case.blind_for(reader_key("someone", "b-1 "))  # the reader id decides, whatever the name
    second = store.save("sop:x", form("3/2", "dr  two"))  # another reader's own reading: no reason needed
    assert second.version == 2 and second.reader_key == two
    with pytest.raises(PneumoError, match="reason to amend"):
        store.save("sop:x", form("1/1", "Dr Two"))  # but their own again is an amendment
    store.save("sop:x", form("1/2", "Dr Two"), amendment_reason="re-read")  # one subcategory from 1/1
    case = case_of("sop:x", store.history("sop:x"))
    assert [s.reading.small.profusion for s in case.readings] == ["1/1", "1/2"]  # the amendment replaces v2
    assert case.status is CaseStatus.CONCORDANT


def test_discordant_images_queue_for_adjudication(tmp_path: Path) -> None:
    store = filled_store(tmp_path / "r.sqlite")
    statuses = {case.instance_key: case.status for case in all_cases(store)}
    assert statuses["sop:10"] is CaseStatus.ADJUDICATED  # reader C has read it
    queued = {case.instance_key: case.reasons for case in adjudication_queue(store)}
    # 0/1 vs 1/0 (category), 1/1 vs 2/1 (category), 2/3 vs 3/2 (category), 2/2 vs 2/1 with pleural (B only)
    assert set(queued) == {"sop:03", "sop:04", "sop:05", "sop:09"}
    assert queued["sop:04"] == ("pleural findings recorded by one reader only",)
    case = case_of("sop:10", store.history("sop:10"))
    assert [case.role_of(s) for s in case.readings] == ["first", "second", "adjudication"]
    old = ReadingStore(tmp_path / "r.sqlite")  # reopened: the columns are there, the values kept
    assert old.latest("sop:10").model_category == "1" and old.latest("sop:10").model_flagged is True


def test_a_database_from_before_double_reading_opens(tmp_path: Path) -> None:
    import sqlite3

    from engine.ilo.store import SCHEMA

    path = tmp_path / "old.sqlite"
    with sqlite3.connect(path) as db:
        db.execute(SCHEMA)
        db.execute("INSERT INTO readings VALUES ('sop:old', 1, 'Dr Old', '2026-11-01T00:00:00+00:00', '', ?, '')",
                   (json.dumps(form("0/0", "Dr Old").to_dict()),))
    store = ReadingStore(path)
    (old,) = store.history("sop:old")
    assert (old.reader_id, old.model_category, old.model_flagged) == ("", None, None)
    store.save("sop:old", form("0/1", "Dr New"), reader_id="B-9")
    assert [s.reader_id for s in store.history("sop:old")] == ["", "B-9"]
