"""Page 5 of the fine-tune wizard: install the new head (atomic, the previous one kept) or roll back."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFormLayout, QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWizardPage

from engine.errors import ModelLoadError
from engine.model.head_card import load_head_card
from engine.model.store import ModelStore
from training.metrics import describe_split
from viewer.error_dialog import message_for
from viewer.finetune.common import BAD_STYLE, OK_STYLE, PageContext, coloured, describe_head, intended_use_of
from viewer.finetune.intended_use_choice import describe_use
from viewer.workers import Worker

INSTALL_MIN_PER_CLASS = 10  # validation images of each class behind the threshold a new head decides at


def install_head(store: ModelStore, head: Path) -> Path:
    return store.install(head)


def roll_back(store: ModelStore) -> Path | None:
    store.rollback()
    return store.active()


def validation_warning(folder: Path) -> str:
    """'' when the new head's threshold and calibration rest on enough validation images; else a plain warning.

    Stricter than the evaluate page's caution: installing puts the threshold chosen on that split into use."""
    try:
        card = load_head_card(folder)
    except ModelLoadError as exc:
        return exc.user_message
    n = int(card.training.get("n_val", 0) or 0)
    positives = card.training.get("n_val_positive")
    smallest = n // 2 if positives is None else min(int(positives), n - int(positives))
    if smallest >= INSTALL_MIN_PER_CLASS:
        return ""
    positive, negative = card.labels[card.positive_index], card.labels[1 - card.positive_index]
    return (f"Caution: the new head's threshold and calibration were chosen on a validation split of only "
            f"{describe_split(n, positives, positive, negative)} — fewer than {INSTALL_MIN_PER_CLASS} of each "
            "class, so its decisions may be far off. Label more images before relying on it; install it only to "
            "try it out.")


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
        self.use_label = QLabel()  # what the new head is for, and whether that is the active head's
        self.use_label.setWordWrap(True)
        self.warning = QLabel()
        self.warning.setWordWrap(True)
        self.warning.setStyleSheet(BAD_STYLE)
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
        form.addRow("Intended use:", self.use_label)
        form.addRow("Active head:", self.active_label)
        form.addRow("Previous head:", self.previous_label)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.warning)
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
        default = self.context.installed_head() if active is None else None
        self.previous_label.setText(self._previous_text(active))
        new = Path(state.report["model"]) if state.report else None
        self.new_label.setText(describe_head(new, f"run {new.parent.name}") if new else
                               "no trained head (train one on page 3)")
        self._show_use(new, active or default)
        self.warning.setText(validation_warning(new) if new else "")
        busy = self._job is not None
        # Offered whenever the trained head is not the active one: after a roll back too, but not once a second
        # roll back has made it active again (the store keeps a copy, so compare model ids, not folders).
        self.install_button.setEnabled(new is not None and not busy and _model_id(new) != _model_id(active))
        can_roll_back = active is not None or store.previous() is not None
        self.rollback_button.setEnabled(can_roll_back and not busy)

    def _previous_text(self, active: Path | None) -> str:
        """What Roll back returns to: the store's previous head, or the shipped default a first install replaced."""
        previous = self.context.store.previous()
        if previous is not None:
            return describe_head(previous)
        shipped = self.context.shipped_head()
        if active is not None and shipped is not None:
            return f"the shipped default head ({describe_head(shipped)})"
        return "none"

    def _show_use(self, new: Path | None, active: Path | None) -> None:
        use = intended_use_of(new)
        if use is None:
            self.use_label.setText("")
            return
        same = use == intended_use_of(active)
        self.use_label.setText(describe_use(use) + (" — the same as the active head's" if same else
                                                    " — differs from the active head's"))

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
