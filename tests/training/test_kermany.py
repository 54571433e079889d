"""The stand-in data set: patient ids from Kermany file names and the paper-scale draw."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from training.kermany import acquisition_order, paper_scale_draw, patient_of


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

