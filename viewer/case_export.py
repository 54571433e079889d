"""Export the current case: annotated PNG, HTML report, DICOM Secondary Capture or SR.

De-identified by default; an identified export must be chosen explicitly, with a warning."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtWidgets import QCheckBox, QFileDialog, QMessageBox, QWidget

from engine.diagnoser import DiagnosisResult
from engine.errors import PneumoError
from engine.export import export_html_report, export_png, export_secondary_capture, export_structured_report
from engine.ingest import LoadedImage
from viewer.error_dialog import show_error

KINDS = {
    "png": ("Annotated image", "PNG image (*.png)", ".png"),
    "html": ("Report", "HTML report (*.html)", ".html"),
    "sc": ("DICOM Secondary Capture", "DICOM (*.dcm)", ".dcm"),
    "sr": ("DICOM Structured Report", "DICOM (*.dcm)", ".dcm"),
}


def ask_identified(parent: QWidget | None) -> bool | None:
    """None = cancelled; False = de-identified (the default); True = the user chose identified, knowingly."""
    box = QMessageBox(parent)
    box.setWindowTitle("Export")
    box.setText("Exports are de-identified: patient name, ID, birth date, accession and institution are removed.")
    check = QCheckBox("Include patient identity (identified export)")
    box.setCheckBox(check)
    box.setStandardButtons(QMessageBox.StandardButton.Ok | QMessageBox.StandardButton.Cancel)
    if box.exec() != QMessageBox.StandardButton.Ok:
        return None
    if check.isChecked():
        confirm = QMessageBox.warning(parent, "Identified export",
                                      "The file will contain patient-identifying information. Store and send it "
                                      "only as your data-protection rules allow.",
                                      QMessageBox.StandardButton.Ok | QMessageBox.StandardButton.Cancel)
        if confirm != QMessageBox.StandardButton.Ok:
            return None
    return check.isChecked()


def write_export(kind: str, path: Path, image: LoadedImage, result: DiagnosisResult, meta: dict[str, Any],
                 identified: bool) -> Path:
    if kind == "png":
        return export_png(path, image, result)
    if kind == "html":
        return export_html_report(path, image, result, model_info=meta, identified=identified)
    if kind == "sc":
        return export_secondary_capture(path, image, result, identified=identified)
    if kind == "sr":
        return export_structured_report(path, image, result, identified=identified)
    raise ValueError(kind)


def export_current_case(parent: QWidget, kind: str, image: LoadedImage, result: DiagnosisResult,
                        meta: dict[str, Any]) -> Path | None:
    title, pattern, suffix = KINDS[kind]
    identified = False if kind == "png" else ask_identified(parent)
    if identified is None:
        return None
    name, _ = QFileDialog.getSaveFileName(parent, f"Export {title}", f"pneumollm_result{suffix}", pattern)
    if not name:
        return None
    try:
        path = write_export(kind, Path(name), image, result, meta, identified)
    except PneumoError as exc:
        show_error(parent, exc)
        return None
    parent.statusBar().showMessage(f"Exported {title.lower()} to {path}", 8000)  # type: ignore[attr-defined]
    return path
