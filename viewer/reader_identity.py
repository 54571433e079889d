"""Who is reading: the reader's name and the optional reader id a programme gives its readers (a B reader number).

A reading belongs to its reader (``engine.ilo.store.reader_key``), so the workstation remembers the last reader
who signed (in Settings, beside the other B reader entries) and a reopened image is shown to them as theirs; another
name or id is another reader, who reads an image someone else has signed blind (``engine.ilo.double_reading``).

There is no login, so a remembered name is only a guess at who sits at the workstation: the first signature under a
name the workstation filled in (not typed or confirmed since the program started) asks "Sign as …?" once, so a
second reader cannot sign under the first one's name by not looking at the field.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QHBoxLayout, QLineEdit, QMessageBox, QWidget

from engine.ilo.store import reader_key
from viewer.settings import settings_store

NAME_KEY, ID_KEY = "breader/reader_name", "breader/reader_id"
_CONFIRMED: set[str] = set()  # readers who typed, confirmed or signed under their name since the program started


def ask_sign_as(parent: QWidget, who: str) -> bool:
    answer = QMessageBox.question(
        parent, "Sign as this reader?",
        f"Sign this reading as {who}?\n\nThe workstation filled in the last reader who signed here. If you are "
        "someone else, choose No and type your own name (and reader id).")
    return answer == QMessageBox.StandardButton.Yes


class ReaderFields(QWidget):
    """The reader's name (signs the reading) and reader id, one row; ``changed`` when either is edited."""

    changed = Signal()

    def __init__(self) -> None:
        super().__init__()
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        self.name = QLineEdit()
        self.name.setPlaceholderText("reader's name (signs the reading)")
        self.reader_id = QLineEdit()
        self.reader_id.setPlaceholderText("reader id (optional)")
        self.reader_id.setToolTip("The programme's id for you, e.g. your B reader number: the agreement table names "
                                  "you by it (or by a pseudonym of your name without one)")
        row.addWidget(self.name, 3)
        row.addWidget(self.reader_id, 2)
        store = settings_store()
        self.name.setText(str(store.value(NAME_KEY, "")))
        self.reader_id.setText(str(store.value(ID_KEY, "")))
        self._key = self.key()
        self._remembered = self.key() if self.name.text().strip() else ""  # filled in, not typed
        self.ask: Callable[[QWidget, str], bool] = ask_sign_as
        for edit in (self.name, self.reader_id):
            edit.editingFinished.connect(self._edited)

    def confirm_signer(self) -> bool:
        """True when the reader in the fields may sign: typed or confirmed since start, else asked once now."""
        key = self.key()
        if key != self._remembered or key in _CONFIRMED:
            return True
        who = self.name.text().strip() + (f" ({self.reader_id.text().strip()})" if self.reader_id.text().strip()
                                          else "")
        if not self.ask(self, who):
            self.name.setFocus()
            self.name.selectAll()
            return False
        _CONFIRMED.add(key)
        return True

    def key(self) -> str:
        """The reader, as the store tells readers apart."""
        return reader_key(self.name.text(), self.reader_id.text())

    def remember(self) -> None:
        """This reader signed: the workstation opens the next image for them."""
        store = settings_store()
        store.setValue(NAME_KEY, self.name.text().strip())
        store.setValue(ID_KEY, self.reader_id.text().strip())
        _CONFIRMED.add(self.key())

    def _edited(self) -> None:
        if self.key() != self._key:  # Tab through the fields without a change is no new reader
            self._key = self.key()
            self.changed.emit()
