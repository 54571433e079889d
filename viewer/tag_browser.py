"""The DICOM tag browser: the only place patient-identifying tags can be seen, and only when asked."""

from __future__ import annotations

from pathlib import Path

import pydicom
from PySide6.QtWidgets import QCheckBox, QLabel, QTreeWidget, QTreeWidgetItem, QVBoxLayout, QWidget

from engine.phi import TagRow, tag_rows


class TagBrowser(QWidget):
    def __init__(self) -> None:
        super().__init__()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.show_phi = QCheckBox("Show identifying tags (patient, institution, staff)")
        self.show_phi.toggled.connect(self._fill)
        layout.addWidget(self.show_phi)
        self.note = QLabel("")
        layout.addWidget(self.note)
        self.tree = QTreeWidget()
        self.tree.setHeaderLabels(["Tag", "Name", "VR", "Value"])
        layout.addWidget(self.tree)
        self.rows: list[TagRow] = []

    def show_file(self, path: Path | None) -> None:
        self.rows = []
        if path is not None:
            try:
                ds = pydicom.dcmread(str(path), stop_before_pixels=False)
                self.rows = tag_rows(ds)
            except Exception:  # noqa: BLE001 - non-DICOM files simply have no tags
                self.rows = []
        self._fill()

    def _fill(self) -> None:
        self.tree.clear()
        hidden = 0
        for row in self.rows:
            if row.is_phi and not self.show_phi.isChecked():
                hidden += 1
                continue
            item = QTreeWidgetItem([row.tag, "  " * row.depth + row.keyword, row.vr, row.value])
            self.tree.addTopLevelItem(item)
        self.note.setText("No DICOM tags (not a DICOM file)." if not self.rows else
                          f"{hidden} identifying tag(s) hidden." if hidden else "")
        for column in range(3):
            self.tree.resizeColumnToContents(column)

    def visible_text(self) -> str:
        return "\n".join(" ".join(self.tree.topLevelItem(i).text(c) for c in range(4))
                         for i in range(self.tree.topLevelItemCount()))

