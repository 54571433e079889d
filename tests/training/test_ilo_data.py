"""ILO-graded training CSVs: the 12-point grade, zones, shape, per-zone grades; the ILO form's CSV round trip."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from engine.errors import TrainingError
from engine.ilo.codes import PROFUSION, ZONES
from engine.ilo.csv_rows import COLUMNS, reading_row
from engine.ilo.form import IloReading, SmallOpacities
from engine.ilo.store import StoredReading
from engine.paths import file_sha256
from training.data import from_csv
from training.ilo_labels import readings_to_training_csv


def _films(root: Path, count: int) -> list[Path]:
    root.mkdir(parents=True, exist_ok=True)
    paths = []
    for index in range(count):
        path = root / f"film_{index}.png"
        Image.fromarray(np.full((32, 32), 10 * index, np.uint8)).save(path)
        paths.append(path)
    return paths


def test_ilo_csv_gives_categories_zones_and_zone_grades(tmp_path: Path) -> None:
    _films(tmp_path / "images", 4)
    (tmp_path / "labels.csv").write_text(
        "path,grade,zones,shape,patient_id,grade_right_upper\n"
        "images/film_0.png,0/0,none,none,a,\n"
        "images/film_1.png,1/2,right_upper;left_upper,q,a,2/1\n"
        "images/film_2.png,3/+,right_upper right_middle,r,b,\n"
        "images/film_3.png,0/1,left_lower,p,b,\n")
    data = from_csv(tmp_path / "labels.csv")
    assert data.classes == ("0", "1", "3") and data.ilo_graded
    first, second, third, fourth = (item.ilo for item in data.items)
    assert (first.grade, first.zones, first.abnormal) == (PROFUSION.index("0/0"), (False,) * 6, False)
    assert second.category == 1 and second.shape == "q"
    assert second.zones == (True, False, False, True, False, False)
    assert second.zone_grades[0] == PROFUSION.index("2/1")  # its own column
    assert second.zone_grades[3] == PROFUSION.index("1/2")  # a listed zone without one: the film's grade
    assert second.zone_grades[1] == PROFUSION.index("0/0")
    assert third.zone_present == (True, True, False, False, False, False)
    assert fourth.zones[ZONES.index("left_lower")] and not any(fourth.zone_present)  # 0/1 is below 1/0
    assert {item.patient for item in data.items} == {"csv:a", "csv:b"}


@pytest.mark.parametrize(("row", "message"), [("1/1,none,q", "needs the affected zones"),
                                              ("1/4,right_upper,q", "not on the 12-point scale"),
                                              ("1/1,right_top,q", "Unknown zone"),
                                              ("1/1,right_upper,z", "Shape 'z'")])
def test_bad_readings_are_refused_with_the_line(tmp_path: Path, row: str, message: str) -> None:
    _films(tmp_path, 1)
    (tmp_path / "labels.csv").write_text(f"path,grade,zones,shape\nfilm_0.png,{row}\n")
    with pytest.raises(TrainingError, match=f"line 2: .*{message}"):
        from_csv(tmp_path / "labels.csv")


def test_the_ilo_forms_csv_export_round_trips_into_training_data(tmp_path: Path) -> None:
    films = _films(tmp_path / "images", 3)
    readings = [
        IloReading(quality=1, parenchymal=True, small=SmallOpacities("q", "r", ("right_upper", "left_upper"), "1/1"),
                   large="0", pleural=False, reader="Dr A", read_on="2026-01-02"),
        IloReading(quality=1, parenchymal=False, pleural=False, reader="Dr A", read_on="2026-01-02"),
        IloReading(quality=2, quality_comment="under-exposed", parenchymal=True,
                   small=SmallOpacities("p", "p", ("right_middle",), "2/3"), large="0", pleural=False, reader="Dr B",
                   read_on="2026-01-03"),
    ]
    rows = [reading_row(r, StoredReading("file:" + file_sha256(f), 1, r.reader, "t", "", r))
            for r, f in zip(readings, films, strict=True)]
    # an amendment of the first film: the latest version wins
    amended = IloReading(quality=1, parenchymal=True, small=SmallOpacities("q", "q", ("right_upper",), "1/2"),
                         large="0", pleural=False, reader="Dr A", read_on="2026-01-04")
    rows.append(reading_row(amended, StoredReading(rows[0]["instance_key"], 2, "Dr A", "t", "re-read", amended)))
    rows.append(reading_row(readings[0], StoredReading("file:" + "0" * 64, 1, "Dr A", "t", "", readings[0])))
    with open(tmp_path / "readings.csv", "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    counts = readings_to_training_csv(tmp_path / "readings.csv", films, tmp_path / "train.csv",
                                      patient_of={str(f): f"p{i}" for i, f in enumerate(films)})
    assert counts == {"written": 3, "unmatched": 1, "unanswered": 0}
    data = from_csv(tmp_path / "train.csv")
    by_name = {item.path.name: item.ilo for item in data.items}
    assert PROFUSION[by_name["film_0.png"].grade] == "1/2"  # the amendment
    assert by_name["film_0.png"].zones == (True, False, False, False, False, False)
    assert by_name["film_0.png"].shape == "q"
    assert PROFUSION[by_name["film_1.png"].grade] == "0/0" and not any(by_name["film_1.png"].zones)  # 2A "no"
    assert PROFUSION[by_name["film_2.png"].grade] == "2/3" and by_name["film_2.png"].shape == "p"
    assert {item.patient for item in data.items} == {"csv:p0", "csv:p1", "csv:p2"}
