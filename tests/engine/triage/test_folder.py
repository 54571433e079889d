"""Folder triage: every file gets a row, sorted; resume after a kill never duplicates or loses rows."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from engine.diagnoser import Diagnoser
from engine.errors import Cancelled, PneumoError
from engine.paths import lock_exclusively
from engine.segment import LungSegmenter
from engine.triage import iter_rows, journal_path, triage_folder
from tests.dicom_factory import PHI_VALUES, SR_STORAGE, chest_like, make_dicom
from tests.head_factory import make_tiny_head


@pytest.fixture(scope="module")
def diagnoser(tmp_path_factory: pytest.TempPathFactory) -> Diagnoser:
    head = make_tiny_head(tmp_path_factory.mktemp("head") / "head", with_map=False)
    return Diagnoser(head, segmenter=LungSegmenter(weights=None))


def make_folder(root: Path, good: int = 7) -> Path:
    rng = np.random.default_rng(0)
    (root / "study1" / "series1").mkdir(parents=True)
    (root / "pngs").mkdir()
    for index in range(good):
        image = chest_like(128 + index, 120).astype(np.float32) + rng.normal(0, 80, (128 + index, 120))
        make_dicom(root / "study1" / "series1" / f"img{index}.dcm", np.clip(image, 0, 4095).astype(np.uint16),
                   ViewPosition="PA")
    Image.fromarray(chest_like(dtype=np.uint8, high=250)).save(root / "pngs" / "a.png")
    make_dicom(root / "study1" / "lateral.dcm", chest_like(), ViewPosition="LL")
    make_dicom(root / "study1" / "report.dcm", None, sop_class=SR_STORAGE, modality="SR")
    (root / "study1" / "broken.dcm").write_bytes(b"\x00" * 300)
    return root


def test_every_file_gets_a_sorted_row(diagnoser: Diagnoser, tmp_path: Path) -> None:
    folder = make_folder(tmp_path / "in")
    summary = triage_folder(folder, tmp_path / "out.csv", diagnoser, batch_size=3)
    rows = list(iter_rows(tmp_path / "out.csv"))
    assert summary.total == len(rows) == 11
    assert summary.flagged + summary.not_flagged == 8
    assert summary.not_diagnosed == 1 and summary.unreadable == 2
    probabilities = [r.probability for r in rows if r.probability is not None]
    assert probabilities == sorted(probabilities, reverse=True)
    assert all(r.probability is None for r in rows[len(probabilities):])  # errors after the scored cases
    by_name = {Path(r.file).name: r for r in rows}
    assert "lateral" in by_name["lateral.dcm"].warnings and not by_name["lateral.dcm"].error  # held back, not broken
    assert "structured report" in by_name["report.dcm"].error
    text = (tmp_path / "out.csv").read_text()
    assert not any(value in text for value in PHI_VALUES.values())
    assert not any(line.startswith("#") for line in text.splitlines())  # a header and data rows only
    assert summary.line().startswith("11 images:")
    assert not journal_path(tmp_path / "out.csv").exists()


def test_resume_after_a_kill_skips_finished_files(diagnoser: Diagnoser, tmp_path: Path) -> None:
    folder = make_folder(tmp_path / "in")
    out = tmp_path / "out.csv"
    batches = []
    with pytest.raises(Cancelled):
        triage_folder(folder, out, diagnoser, batch_size=3, on_rows=batches.append,
                      cancelled=lambda: len(batches) >= 2)
    journalled = journal_path(out).read_text().splitlines()
    assert len(journalled) == 6  # two batches of three were finished before the kill
    with open(journal_path(out), "a") as handle:
        handle.write('{"file": "torn')  # a kill mid-line leaves a torn record; it must be ignored
    summary = triage_folder(folder, out, diagnoser, batch_size=3)
    assert summary.skipped_existing == 6
    rows = list(iter_rows(out))
    assert len(rows) == len({r.file for r in rows}) == 11
    again = triage_folder(folder, out, diagnoser, batch_size=3)
    assert again.skipped_existing == 11
    assert [r.file for r in iter_rows(out)] == [r.file for r in rows]


def test_changed_file_is_diagnosed_again(diagnoser: Diagnoser, tmp_path: Path) -> None:
    folder = make_folder(tmp_path / "in", good=2)
    out = tmp_path / "out.csv"
    triage_folder(folder, out, diagnoser)
    Image.fromarray(chest_like(dtype=np.uint8, high=200)).save(folder / "pngs" / "a.png")
    summary = triage_folder(folder, out, diagnoser)
    assert summary.skipped_existing == summary.total - 1
    assert sum(1 for line in out.read_text().splitlines() if "pngs/a.png" in line) == 1


def test_an_empty_folder_is_an_error_not_an_empty_csv(diagnoser: Diagnoser, tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(PneumoError, match="No DICOM, PNG, JPEG or TIFF files found"):
        triage_folder(tmp_path / "empty", tmp_path / "out.csv", diagnoser)
    assert not (tmp_path / "out.csv").exists()


def test_a_second_run_on_the_same_csv_is_refused_while_the_first_writes(diagnoser: Diagnoser,
                                                                        tmp_path: Path) -> None:
    folder = make_folder(tmp_path / "in", good=1)
    out = tmp_path / "out.csv"
    journal = journal_path(out)
    with open(journal, "a", encoding="utf-8") as other_run:
        assert lock_exclusively(other_run)
        # flock locks belong to the open file description: a second open in this process conflicts too.
        with pytest.raises(PneumoError, match="Another triage run is writing"):
            triage_folder(folder, out, diagnoser)
    assert triage_folder(folder, out, diagnoser).total == 5  # the lock went with the other run


def test_rows_another_process_appends_during_the_run_are_kept(diagnoser: Diagnoser, tmp_path: Path) -> None:
    folder = make_folder(tmp_path / "in", good=2)
    out = tmp_path / "out.csv"
    triage_folder(folder, out, diagnoser)
    foreign = "elsewhere/x.dcm,,,0.900000,flagged,0.500000,ok,,abc123,\n"

    def append_once(rows: list) -> None:  # a script adding its own row while the run is under way
        with open(out, "a", encoding="utf-8") as handle:
            handle.write(foreign)

    (folder / "new.png").write_bytes((folder / "pngs" / "a.png").read_bytes()[:-1] + b"\x00")
    triage_folder(folder, out, diagnoser, on_rows=append_once)
    assert "elsewhere/x.dcm" in {row.file for row in iter_rows(out)}
