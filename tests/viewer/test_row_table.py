"""The generic row table: columns from a spec, keyed rows replaced in place, one row-colour rule."""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import QSortFilterProxyModel, Qt

from engine.decision import Verdict
from engine.triage import UNREADABLE, TriageRow
from viewer.row_table import INK, RIGHT, ROW_COLOURS, SORT_ROLE, Column, RowTableModel, decision_colour, number
from viewer.triage_tab import DECISION_FILTERS, DECISIONS, TriageTableModel


@dataclass(frozen=True)
class Case:
    name: str
    score: float | None = None
    decision: str = ""


COLUMNS = (Column("Name", lambda case: case.name, tooltip=lambda case: f"case {case.name}"),
           Column("Score", lambda case: number(case.score), alignment=RIGHT,
                  sort_key=lambda case: -1.0 if case.score is None else case.score))


def test_cells_headers_tooltips_and_alignment_come_from_the_columns(qtbot) -> None:
    model = RowTableModel(COLUMNS)
    model.set_rows([Case("Beta", 0.25), Case("alpha")])
    assert (model.rowCount(), model.columnCount()) == (2, 2)
    assert [model.headerData(c, Qt.Orientation.Horizontal) for c in range(2)] == ["Name", "Score"]
    assert model.headerData(0, Qt.Orientation.Vertical) is None
    assert [model.index(0, c).data() for c in range(2)] == ["Beta", "0.250"]
    assert model.index(1, 1).data() == ""  # no score: an empty cell, not "None"
    assert model.index(0, 0).data(Qt.ItemDataRole.ToolTipRole) == "case Beta"
    assert model.index(0, 1).data(Qt.ItemDataRole.ToolTipRole) == "0.250"  # default: the cell's own text
    assert model.index(0, 1).data(Qt.ItemDataRole.TextAlignmentRole) == int(RIGHT)
    assert model.index(0, 0).data(Qt.ItemDataRole.TextAlignmentRole) is None
    assert model.index(0, 0).data(SORT_ROLE) == "beta"  # default sort: the text, case-folded
    assert model.index(1, 1).data(SORT_ROLE) == -1.0


def test_sorting_through_a_proxy_uses_the_sort_keys(qtbot) -> None:
    model = RowTableModel(COLUMNS)
    model.set_rows([Case("b", 0.1), Case("c"), Case("a", 0.9)])
    proxy = QSortFilterProxyModel()
    proxy.setSortRole(SORT_ROLE)
    proxy.setSourceModel(model)
    proxy.sort(1, Qt.SortOrder.DescendingOrder)
    assert [proxy.index(r, 0).data() for r in range(3)] == ["a", "b", "c"]  # unscored last
    proxy.sort(0, Qt.SortOrder.AscendingOrder)
    assert [proxy.index(r, 0).data() for r in range(3)] == ["a", "b", "c"]


def test_a_key_replaces_rows_in_place_and_never_duplicates(qtbot) -> None:
    model = RowTableModel(COLUMNS, key=lambda case: case.name)
    model.set_rows([Case("a", 0.1), Case("b"), Case("a", 0.2)])
    assert model.rows() == [Case("a", 0.2), Case("b")]
    changed, inserted = [], []
    model.dataChanged.connect(lambda first, last: changed.append((first.row(), last.column())))
    model.rowsInserted.connect(lambda _parent, first, last: inserted.append((first, last)))
    model.add_rows([Case("b", 0.5), Case("c"), Case("c", 0.7)])
    assert model.rows() == [Case("a", 0.2), Case("b", 0.5), Case("c", 0.7)]  # the later "c" of the batch wins
    assert changed == [(1, 1)] and inserted == [(2, 2)]
    model.add_rows([Case("c", 0.8)])
    assert model.row_at(2) == Case("c", 0.8) and model.rowCount() == 3
    model.clear()
    assert model.rowCount() == 0
    model.add_rows([Case("a")])
    assert model.rows() == [Case("a")]  # the key index went with the rows


def test_without_a_key_every_record_is_a_row_and_an_unchanged_list_is_no_reset(qtbot) -> None:
    model = RowTableModel(COLUMNS)
    resets: list[bool] = []
    model.modelReset.connect(lambda: resets.append(True))
    model.set_rows([Case("a"), Case("a")])
    assert model.rowCount() == 2 and len(resets) == 1
    model.set_rows([Case("a"), Case("a")])  # the worklist re-reads its queue every second
    assert len(resets) == 1
    model.add_rows([Case("a")])
    assert model.rowCount() == 3


def test_rows_are_coloured_by_the_engines_decision(qtbot) -> None:
    assert set(ROW_COLOURS) == {Verdict.FLAGGED, Verdict.NOT_DIAGNOSED, UNREADABLE}
    assert decision_colour(None) is None and decision_colour(Verdict.NOT_FLAGGED) is None
    model = RowTableModel(COLUMNS)
    model.set_rows([Case("a", decision="flagged"), Case("b", decision="not flagged"), Case("c", decision="")])
    background = model.index(0, 1).data(Qt.ItemDataRole.BackgroundRole)
    assert background.color() == ROW_COLOURS[Verdict.FLAGGED]
    assert model.index(0, 0).data(Qt.ItemDataRole.ForegroundRole).color() == INK
    for row in (1, 2):
        assert model.index(row, 0).data(Qt.ItemDataRole.BackgroundRole) is None
        assert model.index(row, 0).data(Qt.ItemDataRole.ForegroundRole) is None
    shaded = RowTableModel(COLUMNS, background=lambda case: ROW_COLOURS[UNREADABLE] if case.score is None else None)
    shaded.set_rows([Case("a"), Case("b", 0.5)])
    assert shaded.index(0, 0).data(Qt.ItemDataRole.BackgroundRole).color() == ROW_COLOURS[UNREADABLE]
    assert shaded.index(1, 0).data(Qt.ItemDataRole.BackgroundRole) is None


def test_the_triage_model_speaks_the_engines_vocabulary(qtbot) -> None:
    assert DECISIONS == ("flagged", "not flagged", "not diagnosed", "unreadable")
    assert [value for _, value in DECISION_FILTERS] == ["", *DECISIONS]
    model = TriageTableModel()
    model.set_rows([TriageRow("a.dcm", probability=0.9, decision="flagged", threshold=0.5),
                    TriageRow("b.dcm", decision="unreadable", error="cannot read")])
    assert model.summary().line() == "2 images: 1 flagged, 0 not flagged, 0 not diagnosed, 1 unreadable"
    assert model.counts() == {"flagged": 1, "not flagged": 0, "not diagnosed": 0, "unreadable": 1}
