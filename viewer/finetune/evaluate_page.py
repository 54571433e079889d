"""Page 4 of the fine-tune wizard: the new head's held-out metrics beside the installed head on the same data."""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QResizeEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWizardPage,
)

from engine.diagnoser import Diagnoser
from engine.errors import ModelLoadError, TrainingError
from engine.model.head_card import load_head_card
from engine.segment import LungSegmenter
from training.data import LabelledSet
from viewer.error_dialog import message_for
from viewer.finetune.canvases import RocCanvas
from viewer.finetune.common import BAD_STYLE, METRICS, PageContext, coloured, plural
from viewer.finetune.split_figures import Split, caution, metric_cells
from viewer.workers import Worker


def evaluate_installed(head: Path | None, dataset: LabelledSet, segmenter: Callable[[], LungSegmenter]
                       ) -> dict[str, Any]:
    """Worker: the installed head on the same data (refused when there is none or its classes differ)."""
    from training.evaluate import evaluate_head

    if head is None:
        raise ModelLoadError("No head is installed yet, so there is nothing to compare with.")
    card = load_head_card(head)
    if card.labels != tuple(dataset.classes):  # refuse before loading a large model
        raise TrainingError(f"The installed head cannot be compared on this data: its classes "
                            f"{list(card.labels)} differ from the data's {list(dataset.classes)}.")
    return evaluate_head(dataset, diagnoser=Diagnoser(head, segmenter=segmenter()))


def overlap_text(seen: int | None, n: int) -> str:
    """How many of the compared images the installed head was trained on, from its kept content hashes; a head
    without them is 'unknown', never 'not trained on'."""
    if seen is None:
        return ("whether it was trained on any of them is unknown: it keeps no content hashes of its training "
                "images")
    if seen:
        return (f"it was trained on {seen} of these {n}, so its row is optimistic — compare on images neither "
                "head has seen")
    return f"none of these {n} were among its training images (content hashes compared)"


def _operating_point(metrics: dict[str, float] | None) -> tuple[float, float] | None:
    if not metrics or any(math.isnan(metrics.get(k, float("nan"))) for k in ("sensitivity", "specificity")):
        return None
    return 1 - metrics["specificity"] / 100, metrics["sensitivity"] / 100


class EvaluatePage(QWizardPage):
    def __init__(self, context: PageContext) -> None:
        super().__init__()
        self.context = context
        self.setTitle("4 · Evaluate")
        self.setSubTitle("How the new head did on data it never saw during training, next to the installed head.")
        self._job: Worker | None = None
        self._evaluated_for: str | None = None
        self.installed_result: dict[str, Any] | None = None
        self.table = QTableWidget(0, len(METRICS) + 1)
        self.table.setHorizontalHeaderLabels([name for _, name in METRICS] + ["Threshold"])
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.ContiguousSelection)
        self.table.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.table.setWordWrap(False)
        # Each figure as wide as its text ("100.0 (18/20)" never elided); what is left goes to the last column.
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.horizontalHeader().setMinimumSectionSize(70)
        self.table.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        for column, (key, _) in enumerate(METRICS):
            self.table.horizontalHeaderItem(column).setToolTip(f"{key} in percent")
        self.caution = QLabel()  # when a split is too small for its percentages to mean much
        self.caution.setWordWrap(True)
        self.caution.setStyleSheet(BAD_STYLE)
        self.threshold_label = QLabel()
        self.threshold_label.setWordWrap(True)
        self.comparison = QLabel()
        self.comparison.setWordWrap(True)
        self.roc = RocCanvas()
        self.roc.setMinimumSize(340, 300)
        notes = QVBoxLayout()
        notes.addWidget(self.threshold_label)
        notes.addWidget(self.comparison)
        notes.addStretch(1)
        below = QHBoxLayout()
        below.addWidget(self.roc, 1)
        below.addLayout(notes, 1)
        layout = QVBoxLayout(self)
        layout.addWidget(self.table)
        layout.addWidget(self.caution)
        layout.addLayout(below, 1)

    def initializePage(self) -> None:
        report = self.context.state.report
        assert report is not None
        self._fill(report)
        if self._evaluated_for != report["model"]:
            self._evaluated_for = report["model"]
            self.installed_result = None
            self.comparison.setText("Evaluating the installed head on the same data…")
            check = self.context.state.check
            assert check is not None
            self._job = self.context.run_job(self, evaluate_installed, self.context.installed_head(), check.dataset,
                                             self.context.segmenter, model=True, finished=self._on_installed,
                                             failed=self._on_installed_failed)

    @property
    def is_evaluating(self) -> bool:
        return self._job is not None

    def _fill(self, report: dict[str, Any]) -> None:
        card = load_head_card(Path(report["model"]))
        self._classes = card.labels[card.positive_index], card.labels[1 - card.positive_index]
        cv = report.get("cross_validation")
        rows: list[tuple[str, list[tuple[str, str]]]] = []
        cautions: list[str] = []
        if cv:
            for fold in cv["folds"]:
                split = Split(int(fold["n_test"]), fold.get("n_test_positive"))
                rows.append((self._header(f"Fold {fold['fold']}", split),
                             metric_cells(fold["metrics"], split) + [(f"{fold['threshold']:.3f}", "")]))
            smallest = min(cv["folds"], key=lambda fold: fold["n_test"])
            cautions.append(caution(f"the test part of fold {smallest['fold']}",
                                    Split(int(smallest["n_test"]), smallest.get("n_test_positive")),
                                    smallest["metrics"], *self._classes))
            summary = cv["summary"]
            total = sum(int(fold["n_test"]) for fold in cv["folds"])
            rows.append((f"Mean ± std ({plural(total, 'image')} in {len(cv['folds'])} folds)",
                         [(f"{summary[key]['mean']:.1f} ± {summary[key]['std']:.1f}", "") for key, _ in METRICS]
                         + [("", "")]))
        else:
            validation = card.metrics.get("validation") or {}
            split = Split(int(card.training.get("n_val", 0)), card.training.get("n_val_positive"))
            rows.append((self._header("Validation split", split, "it also chose the threshold"),
                         metric_cells(validation, split) + [(f"{card.threshold:.3f}", "")]))
            cautions.append(caution("the validation split", split, validation, *self._classes))
        self._rows = rows
        self.caution.setText(" ".join(text for text in cautions if text))
        self._show_rows()
        self.threshold_label.setText(
            f"New head {card.model_id}: operating threshold <b>{card.threshold:.3f}</b> "
            f"({card.threshold_source or 'from the validation split'}), calibration temperature "
            f"{card.temperature:.2f}. Metrics in percent; AVG is the mean of the four, as in the paper.")
        self._draw_roc()

    def _header(self, name: str, split: Split, note: str = "") -> str:
        """'Fold 1 (n=6: 3 abnormal, 3 normal)', its notes on a second line ('too few to be reliable'): one line
        of it all left the metric columns a clipped sliver at the wizard's size."""
        notes = [text for text in (note, "too few to be reliable" if split.tiny else "") if text]
        return f"{name} ({split.describe(*self._classes)})" + ("\n" + " — ".join(notes) if notes else "")

    def _show_rows(self) -> None:
        rows = list(self._rows)
        if self.installed_result is not None:
            result = self.installed_result
            split = Split(int(result["n"]), result.get("n_positive"))
            rows.append((self._header(f"Installed head {result['model_id']}", split, "on all of this data"),
                         metric_cells(result["metrics"], split) + [(f"{result['threshold']:.3f}", "")]))
        self.table.setRowCount(len(rows))
        self.table.setVerticalHeaderLabels([name for name, _ in rows])
        for row, (_, values) in enumerate(rows):
            for column, (value, tip) in enumerate(values):
                item = QTableWidgetItem(value)
                item.setToolTip(tip)
                item.setTextAlignment(Qt.AlignmentFlag.AlignCenter)
                self.table.setItem(row, column, item)
        self.table.resizeRowsToContents()
        self._fit_table()

    def _fit_table(self) -> None:
        """Every row shown, plus room for the sideways scroll bar when the columns are wider than the page (else
        the bar covers the last row)."""
        table = self.table
        header = table.horizontalHeader()
        height = header.sizeHint().height() + 2 * table.frameWidth()
        height += sum(table.rowHeight(row) for row in range(table.rowCount()))
        widths = [max(header.sectionSizeHint(c), table.sizeHintForColumn(c)) for c in range(table.columnCount())]
        wide = table.verticalHeader().sizeHint().width() + sum(widths) + 2 * table.frameWidth()
        # Equal columns when the widest figure fits in an equal share, else each as wide as its text.
        share = (table.width() - table.verticalHeader().sizeHint().width() - 2 * table.frameWidth()) / len(widths)
        header.setSectionResizeMode(QHeaderView.ResizeMode.Stretch if max(widths) <= share
                                    else QHeaderView.ResizeMode.ResizeToContents)
        if wide > table.width():
            height += table.horizontalScrollBar().sizeHint().height()
        table.setFixedHeight(height)

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self._fit_table()

    def _draw_roc(self) -> None:
        report = self.context.state.report
        curves = []
        note = ""
        cv = report.get("cross_validation") if report else None
        if cv:
            mean = {key: value["mean"] for key, value in cv["summary"].items()}
            curves.append((f"new head, pooled {len(cv['folds'])}-fold CV", cv["pooled_roc"], _operating_point(mean)))
        else:
            note = "No held-out folds with a single\nvalidation split: see the table."
        if self.installed_result is not None:
            curves.append((f"installed head {self.installed_result['model_id']}", self.installed_result["roc"],
                           _operating_point(self.installed_result["metrics"])))
        self.roc.show_curves(curves, note)

    def _on_installed(self, job: Worker, result: dict[str, Any]) -> None:
        if job is not self._job:
            return
        self._job = None
        self.installed_result = result
        self.comparison.setText(f"Installed head {result['model_id']} on all {plural(result['n'], 'image')} of "
                                f"this data ({overlap_text(result.get('seen_in_training'), result['n'])}): see the "
                                "last row.")
        self._show_rows()
        self._draw_roc()

    def _on_installed_failed(self, job: Worker, exc: BaseException) -> None:
        if job is not self._job:
            return
        self._job = None
        self.comparison.setText(coloured(f"No comparison: {message_for(exc)}", BAD_STYLE))
