"""B reader > Reader agreement…: the table of ``pneumollm readings --agreement`` in the viewer; its kappas equal
scikit-learn's ``cohen_kappa_score(weights="quadratic")`` on the test set of double readings."""

from __future__ import annotations

import csv
from pathlib import Path

from sklearn.metrics import cohen_kappa_score

from engine.ilo.codes import PROFUSION
from engine.ilo.double_reading import adjudication_queue
from engine.ilo.store import ReadingStore
from engine.paths import data_dir
from tests.engine.ilo.double_readings import PROFUSIONS, filled_store
from tests.viewer.helpers import make_window
from viewer.agreement_dialog import AgreementDialog


def category(profusion: str | None) -> int:
    return 0 if profusion is None else int(profusion[0])  # 2A "no" with the profusion left out counts as 0


def expected_kappas() -> dict[tuple[str, str, str], tuple[int, float]]:
    """(scale, rater A, rater B) -> (n, kappa), straight from the test set, by scikit-learn."""
    both = [(a, b) for a, b, _model in PROFUSIONS.values() if a is not None and b is not None]
    steps = [[PROFUSION.index(p) for p in side] for side in zip(*both, strict=True)]
    a_major = [category(a) for a, _b, _m in PROFUSIONS.values()]
    b_major = [category(b) for _a, b, _m in PROFUSIONS.values()]
    model = [int(m) for _a, _b, m in PROFUSIONS.values()]
    return {
        ("12-point profusion", "B-1001", "B-2002"): (len(both), cohen_kappa_score(*steps, weights="quadratic",
                                                                                  labels=list(range(12)))),
        ("major category", "B-1001", "B-2002"): (12, cohen_kappa_score(a_major, b_major, weights="quadratic",
                                                                       labels=[0, 1, 2, 3])),
        ("major category", "B-1001", "model"): (12, cohen_kappa_score(a_major, model, weights="quadratic",
                                                                      labels=[0, 1, 2, 3])),
    }


def rows_of(dialog: AgreementDialog) -> dict[tuple[str, str, str], tuple[str, ...]]:
    table = dialog.table
    cells = [tuple(table.item(r, c).text() for c in range(table.columnCount())) for r in range(table.rowCount())]
    return {row[:3]: row[3:] for row in cells}


def test_the_menu_opens_the_table_with_scikit_learns_kappas(qtbot, factory, tmp_path: Path) -> None:
    store = filled_store(data_dir() / "ilo_readings.sqlite")  # the window's store: the user's data folder
    window = make_window(qtbot, factory, auto_diagnose=False)
    [entry] = [a for a in window.breader.menu.actions() if a.text() == "Reader &agreement…"]
    entry.trigger()
    dialog = window.breader.agreement_dialog
    assert dialog is not None and dialog.isVisible()
    qtbot.waitUntil(lambda: not dialog.computing, timeout=120_000)
    shown = rows_of(dialog)
    for (scale, a, b), (n, kappa) in expected_kappas().items():
        row = shown[(scale, a, b)]
        assert row[0] == str(n) and row[1] == f"{kappa:.3f}", (scale, a, b)
        low, high = (float(x) for x in row[2].split(" to "))
        assert low <= high
    assert "12 images, 25 readings by 3 readers" in dialog.summary.text()
    queue = adjudication_queue(store)  # what ``readings --queue`` lists; sop:10 was adjudicated by reader C
    assert len(queue) == dialog.queue.rowCount() == 4 and f"{len(queue)} awaiting adjudication" in dialog.summary.text()
    assert "sop:10" not in {dialog.queue.item(r, 0).text() for r in range(dialog.queue.rowCount())}
    # reader C has no reader id: a pseudonym, never the name
    assert not any("Carol" in cell for key in shown for cell in key)


def test_the_queue_and_the_csvs_match_the_cli(qtbot, tmp_path: Path) -> None:
    from engine.ilo import agreement
    from engine.ilo.double_reading import DiscordanceRule, all_cases
    from tests.engine.ilo.double_readings import form

    store = filled_store(tmp_path / "r.sqlite")
    store.save("sop:13", form("0/0", "Dr Alice Example"), reader_id="B-1001")
    store.save("sop:13", form("2/2", "Dr Bob Example"), reader_id="B-2002")  # discordant, no third reading
    dialog = AgreementDialog(store, DiscordanceRule(), rounds=200)
    qtbot.addWidget(dialog)
    qtbot.waitUntil(lambda: not dialog.computing, timeout=120_000)
    queue = [(dialog.queue.item(r, 0).text(), dialog.queue.item(r, 1).text()) for r in range(dialog.queue.rowCount())]
    assert queue == [(case.instance_key, "; ".join(case.reasons)) for case in adjudication_queue(store)]
    assert ("sop:13", "major category differs (0 vs 2); profusion differs by 6 subcategories (0/0 vs 2/2)") in queue
    written = list(csv.DictReader(dialog.export("table", tmp_path / "table.csv").open()))
    cli = agreement.agreement_table(all_cases(ReadingStore(tmp_path / "r.sqlite")), rounds=200)
    assert written == [{k: "" if v is None else str(v) for k, v in row.to_json().items()} for row in cli]
    ratings = list(csv.DictReader(dialog.export("ratings", tmp_path / "ratings.csv").open()))
    assert tuple(ratings[0]) == agreement.RATING_COLUMNS and not any("Example" in str(r) for r in ratings)
