"""The About box: what this software is, which model is loaded, what it was trained on and how well it did."""

from __future__ import annotations

import html
from typing import Any

from PySide6.QtWidgets import QMessageBox, QWidget

DISCLAIMER = "Not for diagnostic use — research software."


def about_html(meta: dict[str, Any] | None, load_error: str = "") -> str:
    parts = [f"<h3>PneumoLLM Viewer</h3><p><b style='color:#b00020'>{DISCLAIMER}</b></p>",
             "<p>Screens chest radiographs with PneumoLLM (Song et al., Medical Image Analysis 2024), rebuilt on "
             "pretrained backbones that install offline.</p>"]
    if meta is None:
        parts.append(f"<p><b>Model:</b> {html.escape(load_error or 'not loaded yet')}</p>")
        return "".join(parts)
    training = meta.get("training", {})
    metrics = meta.get("metrics", {}) or {}
    cv = metrics.get("cross_validation") or {}
    parts.append(f"<p><b>Model profile:</b> {html.escape(str(meta.get('profile')))} "
                 f"({html.escape(str(meta.get('variant', 'pneumollm')))}), head <code>{meta.get('model_id', '')}</code>"
                 f"<br><b>Classes:</b> {html.escape(', '.join(meta.get('labels', [])))}; "
                 f"operating threshold {float(meta.get('threshold', 0.5)):.3f}, "
                 f"calibration temperature {float(meta.get('temperature', 1.0)):.3f}</p>")
    note = meta.get("stand_in_note") or training.get("note")
    if note:
        parts.append(f"<p><b>Training data:</b> {html.escape(str(note))}</p>")
    if training.get("images"):
        parts.append(f"<p>{training['images']} images, {training.get('patients', '?')} patients "
                     f"({html.escape(str(training.get('per_class', '')))}), {training.get('epochs', '?')} epochs.</p>")
    if cv:
        cells = ", ".join(f"{name} {cv[name]['mean']:.1f} ± {cv[name]['std']:.1f}"
                          for name in ("sensitivity", "specificity", "accuracy", "auc", "avg") if name in cv)
        parts.append(f"<p><b>Cross-validation</b> ({metrics.get('cross_validation_folds', '?')} folds, %): {cells}</p>")
    return "".join(parts)


def show_about(parent: QWidget | None, meta: dict[str, Any] | None, load_error: str = "") -> None:
    box = QMessageBox(parent)
    box.setWindowTitle("About PneumoLLM Viewer")
    box.setTextFormat(box.textFormat().RichText)
    box.setText(about_html(meta, load_error))
    box.exec()
