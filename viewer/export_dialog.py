"""Export the current case: PNG of the view with overlays, HTML report, or DICOM (Secondary Capture, SR,
presentation state, segmentation).

De-identified is the default; an identified export needs a ticked checkbox and shows a warning. The source
image is only ever read. Writing runs on a worker; failures are shown as the engine's one-line message.

The dialog is modeless, so it says whose case it exports and follows the case on screen (``follow``): a case
opened while it stays open is never exported under the previous one's name (issue 25).
"""

from __future__ import annotations

import html
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QStandardPaths, Signal, SignalInstance
from PySide6.QtWidgets import (
    QButtonGroup,
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPushButton,
    QRadioButton,
    QVBoxLayout,
    QWidget,
)

from engine.errors import PneumoError
from engine.io import LoadedImage
from engine.io.identity import PatientIdentity
from engine.io.phi import hash_uid
from engine.model.head_card import HeadCard
from engine.notices import DISCLAIMER
from engine.result import DiagnosisResult
from viewer.error_dialog import message_for
from viewer.workers import Worker, WorkerSet

IDENTIFIED_WARNING = ("Identified export: the file will contain the patient's name, ID, birth date and other "
                      "identifying data from the source study. Store and share it only as protected health "
                      "information.")


@dataclass(frozen=True)
class ExportKind:
    key: str
    label: str
    suffix: str
    carries_identity: bool  # whether the identified/de-identified choice applies


KINDS = (
    ExportKind("png", "PNG image of the view (lung contour and crop rectangle)", ".png", False),
    ExportKind("html", "HTML report (single file, images embedded)", ".html", True),
    ExportKind("sc", "DICOM Secondary Capture (annotated image, new series in the study)", ".dcm", True),
    ExportKind("sr", "DICOM Structured Report, TID 1500 (finding, probability, decision, zones, model)", ".dcm", True),
    ExportKind("pr", "DICOM Presentation State (contour, zones, crop and caption over the original)", ".dcm", True),
    ExportKind("seg", "DICOM Segmentation (the lungs and their six zones)", ".dcm", True),
)
KIND_BY_KEY = {kind.key: kind for kind in KINDS}


@dataclass(frozen=True, eq=False)
class ExportCase:
    """One case as the window shows it: what an export writes, and whose it is."""

    image: LoadedImage
    result: DiagnosisResult  # as shown: the decision at the threshold in force
    identity: PatientIdentity | None = None
    identity_hidden: bool = False  # the de-identified display: the dialog does not show it either
    card: HeadCard | None = None

    def same_as(self, other: ExportCase | None) -> bool:
        """The same image, result and identity (objects, not look-alikes: two patients' results can be equal)."""
        return (other is not None and other.image is self.image and other.result is self.result
                and other.identity == self.identity and other.identity_hidden == self.identity_hidden)

    def whose(self) -> str:
        """One line naming the case: the patient as the window's header shows it, and the file's neutral token."""
        token = default_file_name(self.image, "png").split("-")[1]
        if self.identity_hidden:
            who = "identity hidden (de-identified display)"
        elif self.identity is None or self.identity.empty:
            who = "no patient identity in this file"
        else:
            who = self.identity.title()
        return f"{who} · case {token}"


def default_file_name(image: LoadedImage, kind: str) -> str:
    """A neutral name (source files are often named after the patient): ``pneumollm-<hash>-<kind><suffix>``."""
    token = hash_uid(image.meta.sop_instance_uid or str(image.meta.path)) or "case"
    return f"pneumollm-{token[:10]}-{kind}{KIND_BY_KEY[kind].suffix}"


def with_kind_suffix(path: Path, kind: ExportKind) -> Path:
    """``path`` with the extension of the chosen format (``report.png`` exported as HTML is ``report.html``)."""
    return path if path.suffix.lower() == kind.suffix else path.with_suffix(kind.suffix)


class ExportDialog(QDialog):
    """Choose what to export and where; ``exported(Path)`` fires after each successful export.

    Args:
        image: the case as loaded (``engine.ingest.load_image``).
        result: its diagnosis.
        card: the head's card (``Diagnoser.card``) for the HTML report.
        folder: where files go by default (the user's documents folder when None).
    """

    exported = Signal(Path)

    def __init__(self, image: LoadedImage, result: DiagnosisResult, parent: QWidget | None = None, *,
                 card: HeadCard | None = None, folder: str | Path | None = None,
                 identity: PatientIdentity | None = None, identity_hidden: bool = False) -> None:
        super().__init__(parent)
        self.setWindowTitle("Export case")
        self.case: ExportCase | None = ExportCase(image, result, identity, identity_hidden, card)
        self.image, self.result, self.card = image, result, card
        self._current: Callable[[], ExportCase | None] | None = None
        self.folder = Path(folder) if folder else Path(
            QStandardPaths.writableLocation(QStandardPaths.StandardLocation.DocumentsLocation) or Path.home())
        self._worker: Worker | None = None
        self._workers = WorkerSet(self)
        self.last_path: Path | None = None

        self.kind_buttons: dict[str, QRadioButton] = {}
        group = QButtonGroup(self)
        kinds_box = QVBoxLayout()
        for kind in KINDS:
            button = QRadioButton(kind.label)
            if kind.key == "sr" and image.meta.kind != "dicom":
                button.setToolTip("A DICOM SR needs a DICOM source image.")
            group.addButton(button)
            kinds_box.addWidget(button)
            self.kind_buttons[kind.key] = button
            button.toggled.connect(self._kind_changed)
        self.path_edit = QLineEdit()
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._browse)
        self.identified_box = QCheckBox("Include patient identity (identified export)")
        self.identified_box.setChecked(False)
        self.identified_box.toggled.connect(self._identity_changed)
        self.warning = QLabel(f"⚠ {IDENTIFIED_WARNING}")
        self.warning.setWordWrap(True)
        self.warning.setStyleSheet("color:#8a4b00; background:#fff4d6; padding:6px; border-radius:3px;")
        self.warning.setVisible(False)
        self.status = QLabel()
        self.status.setWordWrap(True)
        self.case_label = QLabel()  # whose case an export writes: the reader checks it against the screen
        self.case_label.setWordWrap(True)
        self.case_label.setStyleSheet("background:#eef3fb; color:#10243e; padding:6px; border-radius:3px;")
        disclaimer = QLabel(f"{DISCLAIMER} Exports carry this notice.")
        disclaimer.setWordWrap(True)
        disclaimer.setStyleSheet("color: palette(mid);")
        self.buttons = QDialogButtonBox()
        self.export_button = self.buttons.addButton("Export", QDialogButtonBox.ButtonRole.AcceptRole)
        self.buttons.addButton(QDialogButtonBox.StandardButton.Close)
        self.export_button.clicked.connect(self.export)
        self.buttons.rejected.connect(self.reject)

        path_row = QHBoxLayout()
        path_row.addWidget(QLabel("Save to:"))
        path_row.addWidget(self.path_edit, 1)
        path_row.addWidget(browse)
        layout = QVBoxLayout(self)
        layout.addWidget(self.case_label)
        layout.addWidget(QLabel("<b>What to export</b>"))
        layout.addLayout(kinds_box)
        layout.addLayout(path_row)
        layout.addWidget(self.identified_box)
        layout.addWidget(self.warning)
        layout.addWidget(self.status)
        layout.addWidget(disclaimer)
        layout.addWidget(self.buttons)
        self.kind_buttons["png"].setChecked(True)
        self._show_case()
        self.resize(640, self.sizeHint().height())

    # -- public ---------------------------------------------------------------------------------------
    @property
    def kind(self) -> str:
        return next(key for key, button in self.kind_buttons.items() if button.isChecked())

    def set_kind(self, kind: str) -> None:
        self.kind_buttons[kind].setChecked(True)

    @property
    def is_exporting(self) -> bool:
        return self._worker is not None

    def follow(self, current: Callable[[], ExportCase | None], changed: SignalInstance) -> None:
        """Bind to the case on screen: ``current()`` is it (None: no diagnosed case shown), ``changed`` fires
        whenever it may have changed. Export re-checks ``current()`` too, so a missed signal cannot export
        another patient's case."""
        self._current = current
        changed.connect(lambda *_args: self.set_case(current()))
        self.set_case(current())

    def set_case(self, case: ExportCase | None) -> None:
        """Export ``case`` from now on (None: nothing to export until a case is diagnosed and shown)."""
        if case is not None and case.same_as(self.case):
            return
        old = self.case
        self.case = case
        if case is not None:
            self.image, self.result, self.card = case.image, case.result, case.card or self.card
            current = self.path_edit.text().strip()
            if old is not None and current and Path(current).name == default_file_name(old.image, self.kind):
                self.path_edit.setText(str(Path(current).parent / default_file_name(case.image, self.kind)))
        self.status.setText("")
        self._show_case()

    def _show_case(self) -> None:
        case = self.case
        if case is None:
            self.case_label.setText("<b>Nothing to export:</b> the case on screen has no result shown yet — "
                                    "diagnose it (and show the AI result) to export it.")
        else:
            self.case_label.setText(f"<b>Exports the case on screen:</b> {html.escape(case.whose())}")
        self.export_button.setEnabled(case is not None and self._worker is None)

    def export(self) -> Worker | None:
        """Write the chosen export in the background; the dialog stays open for another one."""
        if self._worker is not None:
            return None
        if self._current is not None:  # the screen is the truth: never write a case the reader has left
            latest = self._current()
            if latest is None or not latest.same_as(self.case):
                self.set_case(latest)
                if latest is not None:
                    self._show("The case on screen changed: check whose case this is, then press Export again.",
                               ok=False)
                return None
        if self.case is None:
            return None
        text = self.path_edit.text().strip()
        if not text:
            self._show(message_for(PneumoError("Choose where to save the export.")), ok=False)
            return None
        target = with_kind_suffix(Path(text).expanduser(), KIND_BY_KEY[self.kind])
        if str(target) != text:
            self.path_edit.setText(str(target))  # the name says what the file is
        if target.exists() and not self.confirm_overwrite(target):
            self._show("Not exported: the file exists and was kept.", ok=False)
            return None
        identified = self.identified_box.isChecked() and self.identified_box.isEnabled()
        from engine.export import export_case  # Pillow and pydicom load on the first export, not with the window

        worker = Worker(export_case, self.kind, target, self.image, self.result,
                        identified=identified, card=self.card)
        worker.signals.finished.connect(self._on_exported)
        worker.signals.failed.connect(self._on_failed)
        self._worker = worker
        self.export_button.setEnabled(False)
        self.status.setText("Exporting…")
        self._workers.start(worker)
        return worker

    def confirm_overwrite(self, path: Path) -> bool:
        """Ask before replacing an existing file (tests replace this method)."""
        answer = QMessageBox.question(self, "Replace file?", f"{path.name} already exists in {path.parent}. "
                                      "Replace it?", QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
                                      QMessageBox.StandardButton.No)
        return answer == QMessageBox.StandardButton.Yes

    # -- internals ------------------------------------------------------------------------------------
    def _on_exported(self, path: Path) -> None:
        self._worker = None
        self.export_button.setEnabled(self.case is not None)
        self.last_path = Path(path)
        who = "identified" if self.identified_box.isChecked() and self.identified_box.isEnabled() else \
            "de-identified"
        self._show(f"Saved {path}" + (f" ({who})" if KIND_BY_KEY[self.kind].carries_identity else ""), ok=True)
        self.exported.emit(Path(path))

    def _on_failed(self, exc: BaseException) -> None:
        self._worker = None
        self.export_button.setEnabled(self.case is not None)
        self._show(message_for(exc), ok=False)

    def _show(self, text: str, *, ok: bool) -> None:
        colour = "#1b7a2b" if ok else "#b00020"
        self.status.setText(f"<span style='color:{colour}'>{html.escape(text)}</span>")

    def _kind_changed(self, checked: bool) -> None:
        if not checked:
            return
        kind = KIND_BY_KEY[self.kind]
        current = self.path_edit.text().strip()
        defaults = {default_file_name(self.image, k.key) for k in KINDS}
        if not current or Path(current).name in defaults:
            folder = Path(current).parent if current else self.folder
            self.path_edit.setText(str(folder / default_file_name(self.image, kind.key)))
        else:  # a name of the reader's own keeps its stem and takes the format's extension
            self.path_edit.setText(str(with_kind_suffix(Path(current), kind)))
        self.identified_box.setEnabled(kind.carries_identity)
        self.identified_box.setToolTip("" if kind.carries_identity else
                                       "A PNG holds only the picture; no patient data is written into it.")
        self._identity_changed(self.identified_box.isChecked())
        self.status.setText("")

    def _identity_changed(self, checked: bool) -> None:
        self.warning.setVisible(checked and self.identified_box.isEnabled())
        self.status.setText("")
        self._fit_height()

    def _fit_height(self) -> None:
        """Grow (never squash the choices) when the warning appears; keep the user's width."""
        self.layout().activate()
        self.resize(max(self.width(), 620), max(self.height(), self.sizeHint().height()))

    def _browse(self) -> None:
        kind = KIND_BY_KEY[self.kind]
        name, _ = QFileDialog.getSaveFileName(self, "Export to", self.path_edit.text(), f"*{kind.suffix}")
        if name:
            self.path_edit.setText(name if Path(name).suffix else name + kind.suffix)


def open_export_dialog(parent: QWidget | None, current: Callable[[], ExportCase | None], changed: SignalInstance,
                       *, on_exported: Callable[[Path], None] | None = None) -> ExportDialog | None:
    """For the main window: a modeless export dialog that follows the case on screen (``ExportDialog.follow``);
    None when no diagnosed case is shown."""
    case = current()
    if case is None:
        return None
    dialog = ExportDialog(case.image, case.result, parent, card=case.card, identity=case.identity,
                          identity_hidden=case.identity_hidden)
    dialog.follow(current, changed)
    if on_exported is not None:
        dialog.exported.connect(on_exported)
    dialog.show()
    return dialog


__all__ = ["IDENTIFIED_WARNING", "KINDS", "ExportCase", "ExportDialog", "default_file_name", "open_export_dialog"]
