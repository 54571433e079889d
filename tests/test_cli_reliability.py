"""Broken input on the command line: one clear line on stderr, no library tracebacks or progress bars."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.corpus.build import ENTRIES, build
from tests.test_cli import run_cli

DAMAGED = ("bad_jpeg_middle.dcm", "bad_j2k_siz.dcm", "bad_htj2k_random.dcm", "bad_bits_stored.dcm")


@pytest.fixture(scope="module")
def damaged(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    chosen = tuple(entry for entry in ENTRIES if entry.name in DAMAGED)
    return {entry.name: path for entry, path in build(shared_data, tmp_path_factory.mktemp("damaged"), chosen)}


@pytest.mark.parametrize("name", DAMAGED)
def test_damaged_files_give_one_line_in_inspect_and_predict(damaged: dict[str, Path], name: str) -> None:
    commands = [["inspect", str(damaged[name])]]
    if name in DAMAGED[:2]:  # predict reads the file before it loads the model: the same single line
        commands.append(["predict", str(damaged[name]), "--json"])
    for command in commands:
        done = run_cli(*command)
        assert done.returncode == 1, done.stdout
        lines = done.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("pneumollm: "), done.stderr
        if "--json" in command:
            payload = json.loads(done.stdout)
            assert payload["ok"] is False and payload["error"] in lines[0]


def test_a_damaged_jpeg_frame_is_called_damaged(damaged: dict[str, Path]) -> None:
    done = run_cli("inspect", str(damaged["bad_jpeg_middle.dcm"]))
    assert "damaged compressed pixel data" in done.stderr


def test_triage_names_the_output_it_cannot_write_and_refuses_an_empty_folder(tmp_path: Path,
                                                                             damaged: dict[str, Path]) -> None:
    (tmp_path / "empty").mkdir()
    done = run_cli("triage", str(tmp_path / "empty"), "--out", str(tmp_path / "out.csv"))
    assert done.returncode == 1 and "nothing to triage" in done.stderr
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the output folder should be")
    folder = damaged["bad_jpeg_middle.dcm"].parent
    done = run_cli("triage", str(folder), "--out", str(blocker / "out.csv"))
    assert done.returncode == 1 and str(blocker) in done.stderr, done.stderr


def test_predict_json_has_no_progress_bar_or_library_chatter_on_stderr(shared_data: Path) -> None:
    done = run_cli("predict", str(shared_data / "samples" / "16747_3_1.jpg"), "--json")
    assert "Loading weights" not in done.stderr and "Traceback" not in done.stderr, done.stderr
    assert len(done.stderr.strip().splitlines()) <= 1, done.stderr  # at most the one-line refusal
    assert "ok" in json.loads(done.stdout)
