"""The DICOM tag browser: the only place patient-identifying tags can be seen, and only when asked.

Rows come from ``engine.phi.tag_rows`` (read in a worker by ``read_tag_rows``); rows marked as PHI are left
out of the tree unless "Show identifying tags" is ticked. Nothing here is logged.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import QCheckBox, QLabel, QLineEdit, QTreeWidget, QTreeWidgetItem, QVBoxLayout, QWidget

from engine.io.phi import TagRow, tag_rows

PHI_BACKGROUND = QColor(255, 228, 225)
COLUMNS = ("Name", "Value", "VR", "Tag")  # name and value first: the dock is narrow


def read_tag_rows(path: Path) -> list[TagRow]:
    """All tags of a DICOM file (worker side). Non-DICOM or unreadable files have none."""
    import pydicom

    try:
        dataset = pydicom.dcmread(str(path), defer_size="64 KB")
        return tag_rows(dataset)
    except Exception:  # noqa: BLE001 - pydicom raises many types on damaged files; the image path reports them
        return []


class TagBrowser(QWidget):
    def __init__(self) -> None:
        super().__init__()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.show_phi = QCheckBox("Show identifying tags (patient, institution, staff)")
        self.show_phi.setToolTip("Identifying tags are shown only here, only while this is ticked, and never logged.")
        self.show_phi.toggled.connect(self._fill)
        layout.addWidget(self.show_phi)
        self.search = QLineEdit()
        self.search.setPlaceholderText("Filter by tag, name or value…")
        self.search.setClearButtonEnabled(True)
        self.search.textChanged.connect(self._fill)
        layout.addWidget(self.search)
        self.note = QLabel("No file open.")
        self.note.setWordWrap(True)
        layout.addWidget(self.note)
        self.tree = QTreeWidget()
        self.tree.setHeaderLabels(list(COLUMNS))
        self.tree.setAlternatingRowColors(True)
        layout.addWidget(self.tree)
        self.rows: list[TagRow] = []
        self.is_dicom = False

    def show_rows(self, rows: list[TagRow] | None, *, is_dicom: bool = True) -> None:
        """Rows read by ``read_tag_rows`` in a worker (None or [] = nothing to show)."""
        self.rows = list(rows or [])
        self.is_dicom = is_dicom
        self._fill()

    def show_file(self, path: Path | None) -> None:
        """Read and show ``path`` on the calling thread (small files, tests); the window uses ``show_rows``."""
        self.show_rows(read_tag_rows(path) if path is not None else [], is_dicom=path is not None)

    def _fill(self) -> None:
        self.tree.clear()
        show_phi = self.show_phi.isChecked()
        needle = self.search.text().strip().lower()
        hidden = 0
        parents: list[QTreeWidgetItem] = []
        skip_depth: int | None = None  # inside a hidden sequence: its items are hidden too
        for row in self.rows:
            if skip_depth is not None and row.depth > skip_depth:
                hidden += 1
                continue
            skip_depth = None
            if row.is_phi and not show_phi:
                hidden += 1
                if row.vr == "SQ":
                    skip_depth = row.depth
                continue
            if needle and row.depth == 0 and not any(needle in text.lower()
                                                     for text in (row.tag, row.keyword, row.value)):
                if row.vr == "SQ":
                    skip_depth = row.depth
                continue
            item = QTreeWidgetItem([row.keyword, row.value, row.vr, row.tag])
            item.setToolTip(0, f"{row.tag} {row.keyword} ({row.vr})" + (" — identifying tag" if row.is_phi else ""))
            item.setToolTip(1, row.value)
            if row.is_phi:
                for column in range(len(COLUMNS)):
                    item.setBackground(column, QBrush(PHI_BACKGROUND))
            del parents[row.depth:]
            if row.depth and parents:
                parents[-1].addChild(item)
            else:
                self.tree.addTopLevelItem(item)
            if row.vr == "SQ":
                parents.append(item)
                item.setExpanded(row.depth < 1)
        if not self.is_dicom:
            self.note.setText("No DICOM tags: this is not a DICOM file.")
        elif not self.rows:
            self.note.setText("No tags could be read from this file.")
        elif hidden and not show_phi:
            self.note.setText(f"{hidden} identifying tag(s) hidden.")
        elif show_phi:
            self.note.setText("Identifying tags are shown (highlighted). Untick to hide them.")
        else:
            self.note.setText("")
        self.tree.setColumnWidth(0, min(190, max(110, self.tree.sizeHintForColumn(0))))
        self.tree.setColumnWidth(1, min(260, max(80, self.tree.sizeHintForColumn(1))))
        self.tree.resizeColumnToContents(2)
        self.tree.resizeColumnToContents(3)

    def visible_text(self) -> str:
        """Every cell currently in the tree (tests check that hidden values are really absent)."""
        lines: list[str] = []

        def walk(item: QTreeWidgetItem) -> None:
            lines.append(" ".join(item.text(column) for column in range(len(COLUMNS))))
            for index in range(item.childCount()):
                walk(item.child(index))

        for index in range(self.tree.topLevelItemCount()):
            walk(self.tree.topLevelItem(index))
        return "\n".join(lines)
