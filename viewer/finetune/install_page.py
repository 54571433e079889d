"""Page 5 of the fine-tune wizard: install the new head (atomic, the previous one kept) or roll back."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFormLayout, QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWizardPage

from engine.errors import ModelLoadError
from engine.model.head_card import load_head_card
from engine.model.store import ModelStore
from viewer.error_dialog import message_for
from viewer.finetune.common import BAD_STYLE, OK_STYLE, PageContext, coloured, describe_head
from viewer.workers import Worker


def install_head(store: ModelStore, head: Path) -> Path:
    return store.install(head)


def roll_back(store: ModelStore) -> Path | None:
    store.rollback()
    return store.active()


def _model_id(folder: Path | None) -> str | None:
    if folder is None:
        return None
    try:
        return load_head_card(folder).model_id
    except ModelLoadError:
        return None


class InstallPage(QWizardPage):
    def __init__(self, context: PageContext) -> None:
        super().__init__()
        self.context = context
        self.setTitle("5 · Install")
        self.setSubTitle("Make the new head the one the viewer uses. The current head is kept, so one click rolls "
                         "back.")
        self._job: Worker | None = None
        self.active_label = QLabel()
        self.active_label.setWordWrap(True)
        self.active_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.previous_label = QLabel()
        self.previous_label.setWordWrap(True)
        self.new_label = QLabel()
        self.new_label.setWordWrap(True)
        self.install_button = QPushButton("Install the new head")
        self.install_button.clicked.connect(self.install)
        self.rollback_button = QPushButton("Roll back to the previous head")
        self.rollback_button.clicked.connect(self.rollback)
        self.message = QLabel()
        self.message.setWordWrap(True)
        buttons = QHBoxLayout()
        buttons.addWidget(self.install_button)
        buttons.addWidget(self.rollback_button)
        buttons.addStretch(1)
        form = QFormLayout()
        form.addRow("New head:", self.new_label)
        form.addRow("Active head:", self.active_label)
        form.addRow("Previous head:", self.previous_label)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addLayout(buttons)
        layout.addWidget(self.message)
        layout.addStretch(1)

    def initializePage(self) -> None:
        self.message.setText("")
        self.refresh()

    def refresh(self) -> None:
        store = self.context.store
        state = self.context.state
        active = store.active()
        if active is None:
            default = self.context.installed_head()
            self.active_label.setText(f"the shipped default head ({describe_head(default)})" if default
                                      else "none installed")
        else:
            self.active_label.setText(describe_head(active))
        self.previous_label.setText(describe_head(store.previous()) if store.previous() else "none")
        new = Path(state.report["model"]) if state.report else None
        self.new_label.setText(describe_head(new, f"run {new.parent.name}") if new else
                               "no trained head (train one on page 3)")
        busy = self._job is not None
        # Offered whenever the trained head is not the active one: after a roll back too, but not once a second
        # roll back has made it active again (the store keeps a copy, so compare model ids, not folders).
        self.install_button.setEnabled(new is not None and not busy and _model_id(new) != _model_id(active))
        can_roll_back = active is not None or store.previous() is not None
        self.rollback_button.setEnabled(can_roll_back and not busy)

    def install(self) -> Worker | None:
        report = self.context.state.report
        if report is None or self._job is not None:
            return None
        self.message.setText("Installing…")
        self._job = self.context.run_job(self, install_head, self.context.store, Path(report["model"]),
                                         finished=self._on_installed, failed=self._on_failed)
        self.refresh()
        return self._job

    def rollback(self) -> Worker | None:
        if self._job is not None:
            return None
        self._job = self.context.run_job(self, roll_back, self.context.store, finished=self._on_rolled_back,
                                         failed=self._on_failed)
        self.refresh()
        return self._job

    def _on_installed(self, _job: Worker, target: Path) -> None:
        self._job = None
        self.context.state.installed = target
        self.message.setText(coloured("Installed — the viewer uses the new head from the next diagnosis on.",
                                       OK_STYLE))
        self.refresh()
        self.context.head_changed(target)

    def _on_rolled_back(self, _job: Worker, active: Path | None) -> None:
        self._job = None
        if self.context.state.installed is not None and active != self.context.state.installed:
            self.context.state.installed = None  # the new head is no longer active
        now = describe_head(active) if active else "the shipped default"
        self.message.setText(coloured(f"Rolled back — active head: {now}.", OK_STYLE))
        self.refresh()
        self.context.head_changed(active)

    def _on_failed(self, _job: Worker, exc: BaseException) -> None:
        self._job = None
        self.message.setText(coloured(message_for(exc), BAD_STYLE))
        self.refresh()
