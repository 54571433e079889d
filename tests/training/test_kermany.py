"""The stand-in data set: patient ids from Kermany file names and the paper-scale draw."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np

from training.kermany import CLASSES, acquisition_order, holdout_split, paper_scale_draw, patient_of


def test_patient_ids_from_file_names() -> None:
    assert patient_of("person1000_bacteria_2931.jpeg") == "person1000"
    assert patient_of("person1000_virus_1681.jpeg") == "person1000"  # one child, two films
    assert patient_of("IM-0115-0001.jpeg") == "IM-0115"
    assert patient_of("NORMAL2-IM-0383-0001.jpeg") == "NORMAL2-IM-0383"
    assert patient_of("odd name.jpeg") == "odd name"


def test_paper_scale_draw_is_seeded_and_has_the_papers_size(shared_data: Path) -> None:
    root = shared_data / "kermany" / "train"
    rows = paper_scale_draw(root, seed=0)
    assert Counter(label for _, label, _ in rows) == {"PNEUMONIA": 401, "NORMAL": 229}
    assert len({path for path, _, _ in rows}) == 630
    assert rows == paper_scale_draw(root, seed=0) and rows != paper_scale_draw(root, seed=1)
    assert all(path.exists() and patient == patient_of(path.name) for path, _, patient in rows)


def test_acquisition_order_reads_series_and_patient_numbers() -> None:
    # the normals' IM- series came before NORMAL2-IM-; patient numbers count up within a series
    assert acquisition_order("IM-0766") < acquisition_order("NORMAL2-IM-0383") < acquisition_order("NORMAL2-IM-1427")
    assert acquisition_order("person99") < acquisition_order("person1946")
    assert acquisition_order("csv:person1946") == acquisition_order(patient_of("person1946_bacteria_4874.jpeg"))
    assert acquisition_order("odd name") < acquisition_order("IM-0001")  # unknown: never the latest batch


def test_later_batch_is_the_holdouts_films_at_or_after_the_validation_cutoff() -> None:
    from training.cross_validation import latest_split
    from training.later_batch import later_batch_rows

    rows = [(Path(f"IM-{n:04d}-0001.jpeg"), "NORMAL", f"IM-{n:04d}") for n in range(1, 81)]
    rows += [(Path(f"person{n}_bacteria_{n}.jpeg"), "PNEUMONIA", f"person{n}") for n in range(1, 161)]
    later = later_batch_rows(rows, fraction=0.2, seed=0, val_fraction=0.25)
    train, holdout = holdout_split(rows, fraction=0.2, seed=0)
    labels = np.array([CLASSES.index(label) for _, label, _ in train])
    groups = np.array([patient for _, _, patient in train])
    fit, _val = latest_split(np.arange(len(train)), labels, groups, 0.25, acquisition_order)
    assert later and set(later) <= set(holdout) and {label for _, label, _ in later} == set(CLASSES)
    for label in CLASSES:  # later than every film the head trains on, and every later hold-out film is in it
        newest_trained = max(acquisition_order(groups[i]) for i in fit if train[i][1] == label)
        assert all(acquisition_order(p) > newest_trained for _, c, p in later if c == label)
        assert {r for r in holdout if r[1] == label and acquisition_order(r[2]) > newest_trained} <= set(later)
