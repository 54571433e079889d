"""One read-only table model for lists of records (triage rows, worklist items), driven by a column spec.

Each ``Column`` says what a cell shows, how it sorts and what its tooltip says; the model answers Qt's roles
from that. Rows are coloured by one rule, ``decision_colour``: what the engine decided about the case
(``engine.decision.Verdict``, or unreadable), the same in every table.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt
from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import QWidget

from engine.decision import Verdict
from engine.triage import UNREADABLE

R = TypeVar("R")
SORT_ROLE = Qt.ItemDataRole.UserRole + 1  # a cell's sort key (a QSortFilterProxyModel's sortRole)
RIGHT = Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter  # numbers
ROW_COLOURS = {Verdict.FLAGGED: QColor(255, 228, 220), Verdict.NOT_DIAGNOSED: QColor(255, 246, 214),
               UNREADABLE: QColor(236, 236, 236)}
INK = QColor(20, 20, 20)  # text on a coloured row: readable on the light row colours in dark themes too


def decision_colour(decision: str | None) -> QColor | None:
    """The row colour of a case the engine decided ``decision`` about (None: the table's own colour)."""
    return ROW_COLOURS.get(decision) if decision else None


def number(value: float | None) -> str:
    """A probability or threshold as the tables show it ('' when there is none)."""
    return "" if value is None else f"{value:.3f}"


@dataclass(frozen=True)
class Column(Generic[R]):
    """One column: its header and what it shows for a record."""

    header: str
    text: Callable[[R], str]
    sort_key: Callable[[R], Any] | None = None  # default: the text, case-folded
    tooltip: Callable[[R], str] | None = None  # default: the text (a cell cut short can be read in full)
    alignment: Qt.AlignmentFlag | None = None  # default: the view's


class RowTableModel(QAbstractTableModel, Generic[R]):
    """Records shown one per row, in the order given.

    Args:
        columns: what each column shows.
        key: when given, a record whose key is already in the table replaces that row instead of adding one.
        background: a record's row colour (default: ``decision_colour`` of its ``decision``); the text of a
            coloured row is dark.
    """

    def __init__(self, columns: Sequence[Column[R]], parent: QWidget | None = None, *,
                 key: Callable[[R], Hashable] | None = None,
                 background: Callable[[R], QColor | None] | None = None) -> None:
        super().__init__(parent)
        self.columns = tuple(columns)
        self._key = key
        self._background = background or (lambda record: decision_colour(getattr(record, "decision", None)))
        self._rows: list[R] = []
        self._index: dict[Hashable, int] = {}

    # -- Qt model API ---------------------------------------------------------------------------------
    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self.columns)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return self.columns[section].header
        return None

    def data(self, index: QModelIndex | QPersistentModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        record = self._rows[index.row()]
        column = self.columns[index.column()]
        if role == Qt.ItemDataRole.DisplayRole:
            return column.text(record)
        if role == SORT_ROLE:
            return column.sort_key(record) if column.sort_key else column.text(record).lower()
        if role == Qt.ItemDataRole.ToolTipRole:
            return (column.tooltip or column.text)(record)
        if role in (Qt.ItemDataRole.BackgroundRole, Qt.ItemDataRole.ForegroundRole):
            colour = self._background(record)
            if colour is None:
                return None
            return QBrush(colour if role == Qt.ItemDataRole.BackgroundRole else INK)
        if role == Qt.ItemDataRole.TextAlignmentRole and column.alignment is not None:
            return int(column.alignment)
        return None

    # -- the records ----------------------------------------------------------------------------------
    def rows(self) -> list[R]:
        return list(self._rows)

    def row_at(self, row: int) -> R:
        return self._rows[row]

    def clear(self) -> None:
        self.set_rows([])

    def set_rows(self, records: Iterable[R]) -> None:
        """Show ``records`` instead (an unchanged list keeps the view's selection and scroll position)."""
        rows, index = self._deduplicated(records)
        if rows == self._rows:
            return
        self.beginResetModel()
        self._rows, self._index = rows, index
        self.endResetModel()

    def add_rows(self, records: Iterable[R]) -> None:
        """Append ``records``; with a ``key``, one already shown replaces its row in place."""
        new: list[R] = []
        for record in records:
            key = self._key(record) if self._key is not None else None
            position = self._index.get(key) if self._key is not None else None
            if position is None:
                if self._key is not None:
                    self._index[key] = len(self._rows) + len(new)
                new.append(record)
            elif position >= len(self._rows):  # twice in this batch: the later one wins
                new[position - len(self._rows)] = record
            else:
                self._rows[position] = record
                self.dataChanged.emit(self.index(position, 0), self.index(position, len(self.columns) - 1))
        if new:
            first = len(self._rows)
            self.beginInsertRows(QModelIndex(), first, first + len(new) - 1)
            self._rows.extend(new)
            self.endInsertRows()

    def _deduplicated(self, records: Iterable[R]) -> tuple[list[R], dict[Hashable, int]]:
        rows: list[R] = []
        index: dict[Hashable, int] = {}
        for record in records:
            if self._key is None:
                rows.append(record)
                continue
            key = self._key(record)
            if key in index:
                rows[index[key]] = record
            else:
                index[key] = len(rows)
                rows.append(record)
        return rows, index
