"""Page 1 of the fine-tune wizard: choose labelled data; every image is decoded once in the background."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import (
    QAbstractItemView,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QListWidget,
    QProgressBar,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWizardPage,
)

from engine.errors import TrainingError
from engine.progress import Progress
from training.data import DataCheck, check_readable
from viewer.error_dialog import message_for
from viewer.finetune.common import BAD_STYLE, OK_STYLE, PageContext, coloured, plural
from viewer.workers import Worker


class DataPage(QWizardPage):
    def __init__(self, context: PageContext) -> None:
        super().__init__()
        self.context = context
        self.setTitle("1 · Training data")
        self.setSubTitle("A folder with one sub-folder per class (for example normal/ and pneumoconiosis/), "
                         "or a CSV file with the columns path,label[,patient_id].")
        self._job: Worker | None = None
        self._usable = False
        self.source_edit = QLineEdit()
        self.source_edit.setPlaceholderText("Folder or CSV with labelled radiographs")
        self.source_edit.returnPressed.connect(lambda: self.set_source(self.source_edit.text()))
        folder_button = QPushButton("Choose folder…")
        folder_button.clicked.connect(self._choose_folder)
        csv_button = QPushButton("Choose CSV…")
        csv_button.clicked.connect(self._choose_csv)
        self.progress = QProgressBar()
        self.progress.setVisible(False)
        self.counts = QTableWidget(0, 3)
        self.counts.setHorizontalHeaderLabels(["Class", "Readable images", "Patients"])
        self.counts.verticalHeader().setVisible(False)
        self.counts.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.counts.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.counts.setMaximumHeight(130)
        self.details = QLabel()
        self.details.setWordWrap(True)
        self.problems_title = QLabel("Files left out:")
        self.problems = QListWidget()
        self.problems.setMaximumHeight(150)
        self.verdict = QLabel()
        self.verdict.setWordWrap(True)
        row = QHBoxLayout()
        row.addWidget(self.source_edit, 1)
        row.addWidget(folder_button)
        row.addWidget(csv_button)
        layout = QVBoxLayout(self)
        layout.addLayout(row)
        layout.addWidget(self.progress)
        layout.addWidget(self.counts)
        layout.addWidget(self.details)
        layout.addWidget(self.problems_title)
        layout.addWidget(self.problems)
        layout.addWidget(self.verdict)
        layout.addStretch(1)
        self._show_check(None)

    def isComplete(self) -> bool:
        return self._usable and self._job is None

    @property
    def is_checking(self) -> bool:
        return self._job is not None

    def set_source(self, source: str | Path) -> None:
        """Check a folder or CSV in the background; Next stays disabled until it is usable."""
        text = str(source).strip()
        if not text:
            return
        self.source_edit.setText(text)
        if self._job is not None:
            self._job.cancel()
        self.context.state.check = None
        self._usable = False
        self.progress.setVisible(True)
        self.progress.setRange(0, 0)
        self.verdict.setText("Checking the images…")
        self._job = self.context.run_job(self, check_readable, Path(text).expanduser(), reporting=True,
                                         progress=self._on_progress, finished=self._on_checked,
                                         failed=self._on_failed, stopped=self._on_cancelled)
        self.completeChanged.emit()

    def _on_progress(self, job: Worker, progress: Progress) -> None:
        if job is self._job:
            self.progress.setRange(0, max(1, progress.total))
            self.progress.setValue(progress.done)
            self.verdict.setText(progress.describe())

    def _on_checked(self, job: Worker, check: DataCheck) -> None:
        if job is not self._job:
            return
        self._job = None
        self.progress.setVisible(False)
        self.context.state.check = check
        self._show_check(check)

    def _on_failed(self, job: Worker, exc: BaseException) -> None:
        if job is not self._job:
            return
        self._job = None
        self.progress.setVisible(False)
        self._show_check(None)
        self.verdict.setText(coloured(message_for(exc), BAD_STYLE))

    def _on_cancelled(self, job: Worker) -> None:
        if job is self._job:
            self._job = None
            self.progress.setVisible(False)
            self.completeChanged.emit()

    def _show_check(self, check: DataCheck | None) -> None:
        self.counts.setRowCount(0)
        self.problems.clear()
        self._usable = False
        if check is None:
            self.details.setText("")
            self.verdict.setText("")
            self.problems_title.setVisible(False)
            self.problems.setVisible(False)
            self.completeChanged.emit()
            return
        dataset = check.dataset
        images, patients = dataset.counts(), dataset.patients()
        for name in dataset.classes:
            row = self.counts.rowCount()
            self.counts.insertRow(row)
            for column, value in enumerate((name, str(images[name]), str(patients[name]))):
                self.counts.setItem(row, column, QTableWidgetItem(value))
        summary = dataset.summary()
        images_text = plural(summary["images"], "readable image")
        self.details.setText(f"{images_text} from {plural(summary['patients'], 'patient')} "
                             f"(patient ids: {summary['patient_id_source']}).")
        left_out = [(path, reason) for path, reason in dataset.skipped]
        for path, reason in left_out:
            self.problems.addItem(f"{_relative(path, check.source)} — {reason}")
        self.problems_title.setText(f"Files left out ({len(left_out)}), e.g. unreadable:")
        self.problems_title.setVisible(bool(left_out))
        self.problems.setVisible(bool(left_out))
        try:
            dataset.check_usable(1)
        except TrainingError as exc:
            self.verdict.setText(coloured(f"Cannot train on this data: {exc.user_message}", BAD_STYLE))
        else:
            self._usable = True
            self.verdict.setText(coloured("This data can be used for training.", OK_STYLE))
        self.completeChanged.emit()

    def _choose_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Folder with one sub-folder per class")
        if folder:
            self.set_source(folder)

    def _choose_csv(self) -> None:
        name, _ = QFileDialog.getOpenFileName(self, "CSV with path,label[,patient_id]", "", "CSV (*.csv)")
        if name:
            self.set_source(name)


def _relative(path: Path, source: Path) -> str:
    root = source if source.is_dir() else source.parent
    try:
        return Path(path).relative_to(root).as_posix()
    except ValueError:
        return Path(path).name
