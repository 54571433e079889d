"""The About box: what this software is, which model is loaded, what it was trained on and how well it did."""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

from PySide6.QtWidgets import QDialog, QDialogButtonBox, QTextBrowser, QVBoxLayout, QWidget

from engine.model.head_card import HeadCard
from engine.notices import DISCLAIMER

METRIC_NAMES = (("sensitivity", "Sensitivity"), ("specificity", "Specificity"), ("accuracy", "Accuracy"),
                ("auc", "AUC"), ("avg", "AVG"))


def _e(value: object) -> str:
    return html.escape(str(value))


def model_card_text(card: HeadCard, folder: Path | None) -> str:
    """The head's model card: ``card.model_card`` is either the text itself or a file name in the head folder."""
    text = card.model_card
    if not text:
        return ""
    if folder is not None and "\n" not in text and len(text) < 200:
        try:
            return (Path(folder) / text).read_text(encoding="utf-8")
        except OSError:
            return ""  # a name whose file is gone: say nothing rather than show a bare file name
    return text


def _metrics_row(label: str, values: dict[str, Any]) -> str:
    cells = []
    for key, _title in METRIC_NAMES:
        value = values.get(key)
        if isinstance(value, dict) and "mean" in value:
            cells.append(f"{value['mean']:.1f} ± {value.get('std', 0.0):.1f}")
        elif isinstance(value, (int, float)):
            cells.append(f"{value:.1f}")
        else:
            cells.append("—")
    return f"<tr><td>{_e(label)}</td>" + "".join(f"<td align='right'>{c}</td>" for c in cells) + "</tr>"


def about_html(card: HeadCard | None, load_error: str = "", folder: Path | None = None) -> str:
    """The About text (HTML) for a head's card (``Diagnoser.card``), or the reason none loaded."""
    parts = [f"<h3>PneumoLLM Viewer</h3><p><b style='color:#b00020'>{DISCLAIMER}</b> Every result must be "
             "reviewed by a qualified reader.</p>",
             "<p>Screens chest radiographs with PneumoLLM (Song et al., Medical Image Analysis 2024), rebuilt on "
             "pretrained backbones that install offline.</p>"]
    if card is None:
        parts.append(f"<p><b>Model:</b> {_e(load_error or 'not loaded yet')}</p>")
        return "".join(parts)
    training = card.training
    metrics = card.metrics
    intended = card.intended_use
    parts.append("<h4>Model</h4>"
                 f"<p><b>Profile:</b> {_e(card.profile)} ({_e(card.variant)})<br>"
                 f"<b>Head:</b> <code>{_e(card.model_id)}</code>"
                 + (f", trained {_e(card.created)}" if card.created else "") + "<br>"
                 f"<b>Classes:</b> {_e(', '.join(card.labels))} (positive: {_e(card.positive_label)})<br>"
                 f"<b>Operating threshold:</b> {card.threshold:.3f}"
                 + (f" ({_e(card.threshold_source)})" if card.threshold_source else "")
                 + f"; calibration temperature {card.temperature:.3f}<br>"
                 f"<b>Intended use:</b> {_e(intended.description or intended.population)}; views "
                 f"{_e(', '.join(intended.views))}; modalities {_e(', '.join(intended.modalities))}</p>")
    note = card.stand_in_note
    if note:
        parts.append(f"<p style='background:#fff3cd; padding:4px'><b>Note:</b> {_e(note)}</p>")
    parts.append("<h4>Training data</h4>")
    facts = []
    if training.get("note"):
        facts.append(_e(training["note"]))
    if training.get("data"):
        facts.append(_e(training["data"]))
    if training.get("images"):
        per_class = training.get("per_class")
        per_class_text = (", ".join(f"{_e(k)}: {_e(v)}" for k, v in per_class.items())
                          if isinstance(per_class, dict) else _e(per_class or ""))
        facts.append(f"{_e(training['images'])} images"
                     + (f", {_e(training['patients'])} patients" if training.get("patients") else "")
                     + (f" ({per_class_text})" if per_class_text else "")
                     + (f", {_e(training['epochs'])} epochs" if training.get("epochs") else ""))
    parts.append("<p>" + ("<br>".join(facts) if facts else "No training summary in this head.") + "</p>")
    rows = []
    if isinstance(metrics.get("cross_validation"), dict) and metrics["cross_validation"]:
        folds = metrics.get("cross_validation_folds") or "?"
        rows.append(_metrics_row(f"Cross-validation ({folds} folds, patient-level)", metrics["cross_validation"]))
    if isinstance(metrics.get("validation"), dict) and metrics["validation"]:
        rows.append(_metrics_row("Validation split (also chose the threshold)", metrics["validation"]))
    for name, values in metrics.items():
        if name not in ("cross_validation", "validation", "cross_validation_folds") and isinstance(values, dict):
            rows.append(_metrics_row(name.replace("_", " ").capitalize(), values))
    parts.append("<h4>Metrics (%)</h4>")
    if rows:
        header = "".join(f"<th>{title}</th>" for _key, title in METRIC_NAMES)
        parts.append(f"<table cellspacing='0' cellpadding='3' border='1'><tr><th></th>{header}</tr>"
                     + "".join(rows) + "</table>")
    else:
        parts.append("<p>This head carries no evaluation metrics.</p>")
    text = model_card_text(card, folder)
    if text:
        parts.append("<h4>Model card</h4><pre style='white-space:pre-wrap'>" + _e(text) + "</pre>")
    return "".join(parts)


class AboutDialog(QDialog):
    def __init__(self, parent: QWidget | None, card: HeadCard | None, load_error: str = "",
                 folder: Path | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("About PneumoLLM Viewer")
        self.resize(720, 640)
        layout = QVBoxLayout(self)
        self.text = QTextBrowser()
        self.text.setOpenExternalLinks(False)
        self.text.setHtml(about_html(card, load_error, folder))
        layout.addWidget(self.text)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        buttons.accepted.connect(self.accept)
        layout.addWidget(buttons)


def show_about(parent: QWidget | None, card: HeadCard | None, load_error: str = "",
               folder: Path | None = None) -> None:
    AboutDialog(parent, card, load_error, folder).exec()
