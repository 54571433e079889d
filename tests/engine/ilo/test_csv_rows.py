"""One CSV row per reading, the ILO fields as columns."""

from __future__ import annotations

import csv
from pathlib import Path

from engine.ilo.csv_rows import COLUMNS, reading_row, write_csv
from engine.ilo.store import ReadingStore
from tests.engine.ilo.readings import ABNORMAL, NORMAL, reading


def test_row_holds_the_form_in_its_notation() -> None:
    row = reading_row(reading(ABNORMAL))
    assert list(row) == list(COLUMNS)
    assert row["profusion"] == "1/2" and row["category"] == "1" and row["large_opacities"] == "A"
    assert row["zones"] == "right_upper right_middle left_upper"
    assert row["plaques_chest_wall_in_profile"] == "R" and row["plaques_calcified_diaphragm"] == "L"
    assert row["plaques_width_right"] == "b" and row["costophrenic_obliteration"] == "L"
    assert row["symbols"] == "ax em" and row["other_abnormalities"] == "yes"
    assert reading_row(reading(NORMAL))["plaques_diaphragm"] == "0"


def test_unanswered_questions_are_empty_cells() -> None:
    row = reading_row(reading(NORMAL))  # 2A "no": profusion and large opacities left unanswered
    assert (row["profusion"], row["category"], row["large_opacities"]) == ("", "", "")
    assert (row["quality"], row["parenchymal"], row["pleural"]) == ("1", "no", "no")
    unsigned = reading_row(reading({}))  # never exported (not signed), but a row must not invent answers
    assert (unsigned["quality"], unsigned["parenchymal"], unsigned["pleural"]) == ("", "", "")


def test_every_version_is_a_row(tmp_path: Path) -> None:
    store = ReadingStore(tmp_path / "r.sqlite")
    store.save("a", reading(NORMAL))
    store.save("a", reading(ABNORMAL), amendment_reason="re-read")
    store.save("b", reading(NORMAL))
    out = write_csv(tmp_path / "readings.csv", [s for key in store.instance_keys() for s in store.history(key)])
    rows = list(csv.DictReader(out.open()))
    assert [(r["instance_key"], r["version"]) for r in rows] == [("a", "1"), ("a", "2"), ("b", "1")]
    assert rows[1]["amendment_reason"] == "re-read" and rows[1]["parenchymal"] == "yes"
