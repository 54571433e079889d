"""The ILO standards index: what each local file shows, its problems as one-line messages, the default choice.

The images here are STAND-INS made by the test (flat grey PNGs): the ILO's standard radiographs are licensed and
never part of this repository.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from engine.ilo.standards import StandardsError, default_standard, find_index, load_standards, read_standards


def _stand_in(folder: Path, name: str) -> None:
    Image.fromarray(np.full((64, 64), 128, np.uint8)).save(folder / name)


def _folder(tmp_path: Path, entries: list[dict], *, as_csv: bool = False) -> Path:
    folder = tmp_path / "standards"
    folder.mkdir(parents=True, exist_ok=True)
    for entry in entries:
        if entry.get("file", "").endswith(".png"):
            _stand_in(folder, entry["file"])
    if as_csv:
        lines = ["file,shows,note"] + [f"{e['file']},{e['shows']},{e.get('note', '')}" for e in entries]
        (folder / "index.csv").write_text("\n".join(lines) + "\n")
    else:
        (folder / "index.json").write_text(json.dumps(entries))
    return folder


SET = [{"file": "00.png", "shows": "0/0"}, {"file": "11pp.png", "shows": "1/1  P/P", "note": "stand-in"},
       {"file": "22qq.png", "shows": "2/2 q/q"}, {"file": "22pp.png", "shows": "2/2 p/p"},
       {"file": "33rr.png", "shows": "3/3 r/r"}, {"file": "A.png", "shows": "A"},
       {"file": "plaques.png", "shows": "pleural plaques"}, {"file": "q.png", "shows": "quality example (mottle)"}]


@pytest.mark.parametrize("as_csv", [False, True])
def test_index_entries_are_classified(tmp_path: Path, as_csv: bool) -> None:
    standards = load_standards(_folder(tmp_path, SET, as_csv=as_csv))
    kinds = {s.path.name: (s.kind, s.shows, s.profusion, s.shapes) for s in standards}
    assert kinds["11pp.png"] == ("profusion", "1/1 p/p", "1/1", ("p", "p"))
    assert kinds["00.png"] == ("profusion", "0/0", "0/0", ("", ""))
    assert kinds["A.png"][:2] == ("large opacity", "A")
    assert kinds["plaques.png"][0] == "pleural" and kinds["q.png"][0] == "quality"
    assert standards[1].label() == "ILO standard 1/1 p/p (11pp.png) — stand-in"


@pytest.mark.parametrize(("entry", "expected"), [
    ({"file": "gone.dcm", "shows": "1/1 p/p"}, "gone.dcm is not in the folder"),
    ({"file": "x.png", "shows": "4/4 p/p"}, "not on the 12-point scale"),
    ({"file": "x.png", "shows": "1/1 z/z"}, "shape 'z' is not one of"),
    ({"file": "x.png", "shows": "2/2"}, "needs its shapes"),
    ({"file": "x.png", "shows": "something"}, "is not something the index knows"),
    ({"file": "x.png", "shows": ""}, "say what it shows"),
    ({"file": "", "shows": "A"}, "no file named"),
    ({"file": "x.png", "shows": "A", "colour": "red"}, "unknown field(s) colour"),
    ({"file": "../x.png", "shows": "A"}, "relative to the standards folder"),
])
def test_index_problems_name_the_entry_and_the_fix(tmp_path: Path, entry: dict, expected: str) -> None:
    folder = _folder(tmp_path, [{"file": "11pp.png", "shows": "1/1 p/p"}, entry])
    if entry.get("file") == "x.png":
        _stand_in(folder, "x.png")
    standards, found = read_standards(folder)
    assert [s.path.name for s in standards] == ["11pp.png"]  # the good entry stays usable
    assert len(found) == 1 and found[0].startswith("index.json entry 2: ") and expected in found[0]
    with pytest.raises(StandardsError, match="entry 2"):
        load_standards(folder)


def test_folder_and_index_problems(tmp_path: Path) -> None:
    with pytest.raises(StandardsError, match="does not exist"):
        find_index(tmp_path / "nowhere")
    with pytest.raises(StandardsError, match="add index.json or index.csv"):
        find_index(tmp_path)
    (tmp_path / "index.json").write_text("{not json")
    assert "not valid JSON (line 1" in read_standards(tmp_path)[1][0]
    (tmp_path / "index.json").write_text('"a string"')
    assert "must be a list" in read_standards(tmp_path)[1][0]
    (tmp_path / "index.csv").write_text("name,what\n")
    assert "both index.json and index.csv" in read_standards(tmp_path)[1][0]
    (tmp_path / "index.json").unlink()
    assert "header row with the columns file,shows" in read_standards(tmp_path)[1][0]
    duplicate = _folder(tmp_path / "d", [{"file": "a.png", "shows": "A"}, {"file": "a.png", "shows": "B"}])
    assert "listed twice" in read_standards(duplicate)[1][0]


def test_the_mapping_form_of_the_json_index(tmp_path: Path) -> None:
    folder = tmp_path / "m"
    folder.mkdir()
    _stand_in(folder, "11pp.png")
    (folder / "index.json").write_text(json.dumps({"11pp.png": "1/1 p/p"}))
    assert [s.shows for s in load_standards(folder)] == ["1/1 p/p"]


def test_default_follows_the_forms_profusion_and_shape(tmp_path: Path) -> None:
    standards = load_standards(_folder(tmp_path, SET))

    def chosen(*args: str) -> str:
        return default_standard(standards, *args).path.name

    assert chosen("2/1", "q", "q") == "22qq.png"  # same category and shapes
    assert chosen("2/3", "p", "q") == "22pp.png"  # the primary shape matters more than the secondary
    assert chosen("1/2", "r", "r") == "11pp.png"  # the category first: the only category-1 standard
    assert chosen("0/1") == "00.png"
    assert chosen("3/+", "", "") == "33rr.png"
    assert chosen(None) == "11pp.png"  # nothing on the form yet: 1/1
    assert default_standard([], "1/1") is None
