"""Reader agreement: quadratic weighted kappa equals scikit-learn's, on the scales and pairs the table reports."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
from sklearn.metrics import cohen_kappa_score

from engine.ilo.agreement import (
    MODEL,
    agreement_table,
    bootstrap_interval,
    quadratic_weighted_kappa,
    write_ratings_csv,
    write_table_csv,
)
from engine.ilo.codes import PROFUSION
from engine.ilo.double_reading import all_cases
from tests.engine.ilo.double_readings import PROFUSIONS, READERS, filled_store

KEY = b"k" * 32  # the pseudonym key (an installation's own in use)


def test_kappa_is_scikit_learns_on_random_ratings() -> None:
    rng = np.random.default_rng(3)
    for categories in (2, 4, 12):
        a = rng.integers(0, categories, 40)
        b = np.clip(a + rng.integers(-2, 3, 40), 0, categories - 1)
        expected = cohen_kappa_score(a, b, weights="quadratic", labels=list(range(categories)))
        assert quadratic_weighted_kappa(a, b, categories) == pytest.approx(expected, abs=1e-12)
    assert quadratic_weighted_kappa(np.array([1, 1]), np.array([1, 1]), 4) is None  # undefined, not 1 or 0


def test_the_table_reproduces_scikit_learn_on_the_test_readings(tmp_path: Path) -> None:
    rows = agreement_table(all_cases(filled_store(tmp_path / "r.sqlite")), rounds=300, key=KEY)
    table = {(row.scale, row.rater_a, row.rater_b): row for row in rows}
    a = [PROFUSION.index(p[0]) for p in PROFUSIONS.values() if p[0] is not None]
    b = [PROFUSION.index(p[1]) for p in PROFUSIONS.values() if p[0] is not None]
    twelve = table[("12-point profusion", "B-1001", "B-2002")]
    assert twelve.n == 11  # sop:07: reader A skipped 2B
    assert twelve.kappa == pytest.approx(cohen_kappa_score(a, b, weights="quadratic", labels=list(range(12))))
    major_a = [0 if p[0] is None else int(p[0][0]) for p in PROFUSIONS.values()]
    major_b = [int(p[1][0]) for p in PROFUSIONS.values()]
    major = table[("major category", "B-1001", "B-2002")]
    assert major.n == 12
    assert major.kappa == pytest.approx(cohen_kappa_score(major_a, major_b, weights="quadratic",
                                                          labels=[0, 1, 2, 3]))
    assert major.interval is not None and major.interval[0] <= major.kappa <= major.interval[1]
    model = [int(p[2]) for p in PROFUSIONS.values()]
    versus_model = table[("major category", "B-1001", MODEL)]
    assert versus_model.kappa == pytest.approx(cohen_kappa_score(major_a, model, weights="quadratic",
                                                                 labels=[0, 1, 2, 3]))
    abnormal = table[("abnormal (category >= 1)", "B-2002", MODEL)]
    assert abnormal.kappa == pytest.approx(cohen_kappa_score([int(c >= 1) for c in major_b],
                                                             [int(c >= 1) for c in model]))
    carol = [name for (_s, name, _b) in table if name.startswith("reader-")]
    assert carol and table[("major category", "B-1001", carol[0])].n == 1  # reader C read one image


def test_bootstrap_interval_is_reproducible_and_brackets_the_kappa() -> None:
    rng = np.random.default_rng(0)
    a = rng.integers(0, 4, 60)
    b = np.clip(a + rng.integers(-1, 2, 60), 0, 3)
    low, high = bootstrap_interval(a, b, 4, rounds=500, seed=1)
    assert low < quadratic_weighted_kappa(a, b, 4) < high
    assert bootstrap_interval(a, b, 4, rounds=500, seed=1) == (low, high)
    assert bootstrap_interval(a[:1], b[:1], 4) is None


def test_the_csvs_hold_reader_ids_and_hashed_keys_only(tmp_path: Path) -> None:
    cases = all_cases(filled_store(tmp_path / "r.sqlite"))
    table = write_table_csv(tmp_path / "agreement.csv", agreement_table(cases, rounds=50, key=KEY))
    ratings = write_ratings_csv(tmp_path / "ratings.csv", cases, key=KEY)
    for path in (table, ratings):
        text = path.read_text()
        for name, _reader_id in READERS.values():
            assert name not in text and name.split()[-1] not in text  # no reader's name, whole or in part
        assert "B-1001" in text
    rows = list(csv.DictReader(ratings.open()))
    assert {row["instance_key"] for row in rows} == set(PROFUSIONS)
    assert {row["role"] for row in rows if row["instance_key"] == "sop:10"} == {"first", "second", "adjudication"}
