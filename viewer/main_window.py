"""The main window: reading view + diagnosis panel, study and tag browsers, menus, and the worker plumbing
that keeps decoding, segmentation and inference off the GUI thread."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QActionGroup, QDragEnterEvent, QDropEvent, QKeySequence
from PySide6.QtWidgets import (
    QCheckBox,
    QDockWidget,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QMainWindow,
    QProgressDialog,
    QSlider,
    QSplitter,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from engine.diagnoser import Diagnoser, DiagnosisResult
from engine.errors import ModelLoadError, PneumoError, UnsupportedImageError
from engine.ingest import LoadedImage, load_image
from engine.llm import smollm_is_prepared
from engine.segment import LungSegmenter
from engine.tsne_map import ReferenceMap
from viewer.about import DISCLAIMER, show_about
from viewer.diagnosis_panel import DiagnosisPanel
from viewer.error_dialog import message_for, show_error
from viewer.reading_view import PRESETS, ReadingView
from viewer.settings import SettingsDialog, ViewerSettings
from viewer.study_browser import StudyBrowser
from viewer.tag_browser import TagBrowser
from viewer.workers import Worker, start

log = logging.getLogger(__name__)
DiagnoserFactory = Callable[[ViewerSettings, Callable[[str], None]], Diagnoser]


def default_diagnoser_factory(settings: ViewerSettings, progress: Callable[[str], None]) -> Diagnoser:
    return Diagnoser(None, vision_weights=settings.vision_weights or None, llm_path=settings.llm_path or None,
                     device=settings.device, progress=progress)


@dataclass
class CaseOutcome:
    """Everything one diagnosis run produces, handed from the model worker to the GUI thread."""

    result: DiagnosisResult
    reference: ReferenceMap | None
    point: np.ndarray | None
    map_message: str
    saliency: np.ndarray | None


class MainWindow(QMainWindow):
    def __init__(self, *, settings: ViewerSettings | None = None, diagnoser_factory: DiagnoserFactory | None = None,
                 preload_model: bool = True) -> None:
        super().__init__()
        self.settings = settings or ViewerSettings.load()
        self.diagnoser_factory = diagnoser_factory or default_diagnoser_factory
        self.diagnoser: Diagnoser | None = None
        self.diagnoser_error: str = ""
        self.reference: ReferenceMap | None = None
        self.reference_error = ""
        self.current_path: Path | None = None
        self.current_image: LoadedImage | None = None
        self._workers: set[Worker] = set()
        self._diagnosis_worker: Worker | None = None
        self._load_token = 0
        self._prepare_dialog: QProgressDialog | None = None
        self.setWindowTitle("PneumoLLM Viewer — research software, not for diagnostic use")
        self.resize(1500, 950)
        self.setAcceptDrops(True)
        self._build_ui()
        self._build_menus()
        if preload_model:
            self.ensure_diagnoser()

    # -- layout ----------------------------------------------------------------------------------------
    def _build_ui(self) -> None:
        central = QWidget()
        layout = QVBoxLayout(central)
        layout.setContentsMargins(4, 4, 4, 4)
        self.banner = QLabel(f"⚠ {DISCLAIMER} Results must be reviewed by a qualified reader.")
        self.banner.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.banner.setStyleSheet("background:#8b0000; color:white; font-weight:bold; padding:5px;")
        layout.addWidget(self.banner)
        self.tabs = QTabWidget()
        layout.addWidget(self.tabs, 1)
        reading = QSplitter(Qt.Orientation.Horizontal)
        self.view = ReadingView()
        reading.addWidget(self.view)
        self.panel = DiagnosisPanel()
        reading.addWidget(self.panel)
        reading.setStretchFactor(0, 3)
        reading.setStretchFactor(1, 2)
        reading.setSizes([900, 600])
        self.tabs.addTab(reading, "Reading")
        self.setCentralWidget(central)

        self.studies = StudyBrowser()
        self.studies.image_selected.connect(self.open_image)
        self.studies.scanned.connect(self._first_image_of_scan)
        self.study_dock = self._dock("Studies", self.studies, Qt.DockWidgetArea.LeftDockWidgetArea)
        self.tags = TagBrowser()
        self.tag_dock = self._dock("DICOM tags", self.tags, Qt.DockWidgetArea.LeftDockWidgetArea)
        self.tabifyDockWidget(self.study_dock, self.tag_dock)
        self.study_dock.raise_()
        self.overlay_controls = self._overlay_box()
        self._dock("Overlays", self.overlay_controls, Qt.DockWidgetArea.LeftDockWidgetArea)

        self.pixel_label = QLabel("")
        self.device_label = QLabel("Model: loading…")
        self.statusBar().addWidget(self.pixel_label, 1)
        self.statusBar().addPermanentWidget(self.device_label)
        self.view.pixel_info.connect(self.pixel_label.setText)
        self.panel.diagnose_requested.connect(self.diagnose)
        self.panel.cancel_requested.connect(self.cancel_diagnosis)
        self.panel.review_recorded.connect(self._record_review)

    def _dock(self, title: str, widget: QWidget, area: Qt.DockWidgetArea) -> QDockWidget:
        dock = QDockWidget(title, self)
        dock.setObjectName(title)
        dock.setWidget(widget)
        self.addDockWidget(area, dock)
        return dock

    def _overlay_box(self) -> QWidget:
        box = QWidget()
        layout = QVBoxLayout(box)
        self.overlay_checks: dict[str, QCheckBox] = {}
        names = (("contour", "Lung contour"), ("box", "Crop rectangle"), ("saliency", "Saliency (Grad-CAM)"))
        for name, label in names:
            row = QHBoxLayout()
            check = QCheckBox(label)
            check.setChecked(self.view.overlay_visible[name])
            check.toggled.connect(lambda on, n=name: self.view.set_overlay(n, visible=on))
            slider = QSlider(Qt.Orientation.Horizontal)
            slider.setRange(0, 100)
            slider.setValue(int(self.view.overlay_opacity[name] * 100))
            slider.setToolTip("opacity")
            slider.valueChanged.connect(lambda v, n=name: self.view.set_overlay(n, opacity=v / 100))
            row.addWidget(check)
            row.addWidget(slider)
            layout.addLayout(row)
            self.overlay_checks[name] = check
        layout.addStretch(1)
        return box

    def _build_menus(self) -> None:
        def action(menu: Any, text: str, slot: Callable[[], Any], shortcut: Any = None, checkable: bool = False
                   ) -> QAction:
            item = QAction(text, self)
            if shortcut is not None:
                item.setShortcut(QKeySequence(shortcut))
            item.setCheckable(checkable)
            item.triggered.connect(slot)
            menu.addAction(item)
            return item

        file_menu = self.menuBar().addMenu("&File")
        action(file_menu, "&Open image…", self._choose_file, QKeySequence.StandardKey.Open)
        action(file_menu, "Open &folder…", self._choose_folder, "Ctrl+Shift+O")
        file_menu.addSeparator()
        self.export_menu = file_menu.addMenu("&Export current case")
        action(self.export_menu, "Annotated image (PNG)…", lambda: self.export_case("png"), "Ctrl+E")
        action(self.export_menu, "Report (HTML)…", lambda: self.export_case("html"))
        action(self.export_menu, "DICOM Secondary Capture…", lambda: self.export_case("sc"))
        action(self.export_menu, "DICOM Structured Report…", lambda: self.export_case("sr"))
        file_menu.addSeparator()
        action(file_menu, "&Quit", self.close, QKeySequence.StandardKey.Quit)

        view_menu = self.menuBar().addMenu("&View")
        action(view_menu, "&Fit to window", self.view.fit, "F")
        action(view_menu, "Zoom &in", lambda: self.view.zoom(1.25), "+")
        action(view_menu, "Zoom &out", lambda: self.view.zoom(0.8), "-")
        self.invert_action = action(view_menu, "&Invert",
                                    lambda: self.view.set_inverted(self.invert_action.isChecked()), "I", checkable=True)
        action(view_menu, "&Reset view", self._reset_view, "R")
        presets = view_menu.addMenu("Window &presets")
        group = QActionGroup(self)
        for index, name in enumerate(PRESETS, start=1):
            item = action(presets, name.capitalize(), lambda n=name: self.view.apply_preset(n), str(index))
            group.addAction(item)
        view_menu.addSeparator()
        for name, key in (("contour", "C"), ("box", "B"), ("saliency", "S")):
            check = self.overlay_checks[name]
            action(view_menu, f"Toggle {check.text().lower()}", check.toggle, key)
        view_menu.addSeparator()
        action(view_menu, "&Next image", lambda: self._step(1), "PgDown")
        action(view_menu, "&Previous image", lambda: self._step(-1), "PgUp")
        view_menu.addAction(self.study_dock.toggleViewAction())
        view_menu.addAction(self.tag_dock.toggleViewAction())

        model_menu = self.menuBar().addMenu("&Model")
        action(model_menu, "&Diagnose", lambda: self.diagnose(False), "Ctrl+D")
        action(model_menu, "&Settings…", self._open_settings, "Ctrl+,")
        self.model_menu = model_menu
        help_menu = self.menuBar().addMenu("&Help")
        action(help_menu, "&About", self.show_about, "F1")

    # -- opening ---------------------------------------------------------------------------------------
    def _choose_file(self) -> None:
        patterns = "Radiographs (*.dcm *.dicom *.png *.jpg *.jpeg *.tif *.tiff);;All files (*)"
        name, _ = QFileDialog.getOpenFileName(self, "Open radiograph", "", patterns)
        if name:
            self.open_path(Path(name))

    def _choose_folder(self) -> None:
        name = QFileDialog.getExistingDirectory(self, "Open study folder")
        if name:
            self.open_path(Path(name))

    def open_path(self, path: Path) -> None:
        path = Path(path)
        if path.is_dir():
            self.track(self.studies.open_folder(path))
        else:
            self.studies.show_single(path)
            self.open_image(path)

    def _first_image_of_scan(self, result: Any) -> None:
        if self.studies.paths:
            self.open_image(self.studies.paths[0])
        elif result.skipped:
            self.panel.show_problem(f"No radiographs in this folder ({len(result.skipped)} files skipped).")

    def _step(self, offset: int) -> None:
        path = self.studies.step(offset, self.current_path)
        if path is not None and path != self.current_path:
            self.open_image(path)

    def open_image(self, path: Path) -> None:
        """Decode in a worker; stale results (the user moved on) are dropped."""
        self._load_token += 1
        token = self._load_token
        self.cancel_diagnosis()
        self.current_path = Path(path)
        self.panel.clear()
        self.panel.show_busy(f"Opening {Path(path).name}…")
        worker = Worker(load_image, Path(path))
        worker.signals.finished.connect(lambda image: self._image_loaded(token, image))
        worker.signals.failed.connect(lambda exc: self._image_failed(token, exc))
        self.track(worker)

    def _image_loaded(self, token: int, image: LoadedImage) -> None:
        if token != self._load_token:
            return
        self.current_image = image
        self.view.set_image(image)
        self.invert_action.setChecked(False)
        self.tags.show_file(image.meta.path if image.meta.source == "dicom" else None)
        flags = "; ".join(image.meta.flags)
        self.panel.show_idle(f"{image.meta.path.name}: {image.meta.columns}×{image.meta.rows}"
                             + (f" — flagged: {flags}" if flags else ""))
        if self.settings.auto_diagnose:
            self.diagnose(False)

    def _image_failed(self, token: int, exc: BaseException) -> None:
        if token != self._load_token:
            return
        self.current_image = None
        self.panel.show_problem(message_for(exc))

    # -- the model ------------------------------------------------------------------------------------
    def ensure_diagnoser(self) -> None:
        """Build the diagnoser in the model worker (first start prepares the LLM with a progress dialog)."""
        if self.diagnoser is not None or getattr(self, "_loading_model", False):
            return
        self._loading_model = True
        if not smollm_is_prepared():
            self._prepare_dialog = QProgressDialog(
                "Preparing the embedded language model (first start only, about 30 seconds)…", "", 0, 0, self)
            self._prepare_dialog.setCancelButton(None)
            self._prepare_dialog.setWindowTitle("PneumoLLM Viewer")
            self._prepare_dialog.setWindowModality(Qt.WindowModality.NonModal)
            self._prepare_dialog.show()

        def build(worker: Worker) -> Diagnoser:
            diagnoser = self.diagnoser_factory(self.settings, worker.signals.progress.emit)
            self.diagnoser = diagnoser  # set here too: a queued diagnosis on the same pool must not build another
            return diagnoser

        worker = Worker(build)
        worker.signals.progress.connect(lambda text: self.device_label.setText(str(text)))
        worker.signals.finished.connect(self._diagnoser_ready)
        worker.signals.failed.connect(self._diagnoser_failed)
        self.track(worker, model=True)

    def _close_prepare_dialog(self) -> None:
        self._loading_model = False
        if self._prepare_dialog is not None:
            self._prepare_dialog.close()
            self._prepare_dialog = None

    def _diagnoser_ready(self, diagnoser: Diagnoser) -> None:
        self._close_prepare_dialog()
        self.diagnoser = diagnoser
        self.diagnoser_error = ""
        self.device_label.setText(f"Model: {diagnoser.profile} on {diagnoser.runtime.label}")

    def _diagnoser_failed(self, exc: BaseException) -> None:
        self._close_prepare_dialog()
        self.diagnoser_error = message_for(exc)
        self.device_label.setText("Model: not available")
        if self.current_image is not None:
            self.panel.show_problem(self.diagnoser_error)

    def diagnose(self, allow_flagged: bool = False) -> None:
        if self.current_image is None:
            return
        self.cancel_diagnosis()
        image, token = self.current_image, self._load_token
        self.panel.show_busy("Diagnosing: lung segmentation, PneumoLLM, map and saliency…")

        def run(worker: Worker):  # noqa: ANN202 - a generator: cancellable between stages
            if self.diagnoser is None:
                yield "Loading the model…"
                self.diagnoser = self.diagnoser_factory(self.settings, worker.signals.progress.emit)
            diagnoser = self.diagnoser
            yield "Running the model…"
            result = diagnoser.predict(image, allow_flagged=allow_flagged)
            yield "Placing the case on the reference map…"
            reference, point, message = self._place_on_map(diagnoser, result)
            yield "Computing the saliency map…"
            from engine.saliency import grad_cam

            try:
                saliency = grad_cam(diagnoser, result)
            except Exception:  # noqa: BLE001 - a missing overlay must not lose the result
                log.warning("Grad-CAM failed", exc_info=True)
                saliency = None
            yield CaseOutcome(result, reference, point, message, saliency)

        worker = Worker(run)
        worker.signals.progress.connect(lambda value: self._diagnosis_progress(token, value))
        worker.signals.failed.connect(lambda exc: self._diagnosis_failed(token, exc))
        worker.signals.cancelled.connect(lambda: self.panel.show_idle("Diagnosis cancelled."))
        self._diagnosis_worker = worker
        self.track(worker, model=True)

    def _place_on_map(self, diagnoser: Diagnoser, result: DiagnosisResult
                      ) -> tuple[ReferenceMap | None, np.ndarray | None, str]:
        if self.reference is None and not self.reference_error:
            try:
                self.reference = ReferenceMap.load(diagnoser.checkpoint.folder)
            except ModelLoadError as exc:
                self.reference_error = exc.user_message
        if self.reference is None:
            return None, None, self.reference_error
        return self.reference, self.reference.place(result.embedding)[0], ""

    def _diagnosis_progress(self, token: int, value: Any) -> None:
        if token != self._load_token:
            return
        if isinstance(value, CaseOutcome):
            self._show_outcome(value)
        else:
            self.panel.show_busy(str(value))

    def _show_outcome(self, outcome: CaseOutcome) -> None:
        result = outcome.result
        if self.diagnoser is not None:
            self.device_label.setText(f"Model: {self.diagnoser.profile} on {result.device}")
        threshold = self.settings.threshold_override if self.settings.threshold_override is not None \
            else result.threshold
        self.panel.show_result(result, threshold, self.diagnoser.source_names if self.diagnoser else [])
        self.panel.show_map(outcome.reference, outcome.point, outcome.map_message)
        self.view.set_lung_overlay(result.lung_crop.mask, result.lung_crop.box, result.lung_crop.fallback)
        if outcome.saliency is not None:
            self.view.set_saliency(outcome.saliency)

    def _diagnosis_failed(self, token: int, exc: BaseException) -> None:
        if token != self._load_token:
            return
        if isinstance(exc, ModelLoadError):
            self.diagnoser_error = exc.user_message
        flagged = isinstance(exc, UnsupportedImageError) and exc.user_message.startswith("Not diagnosed")
        self.panel.show_problem(message_for(exc), flagged=flagged)

    def cancel_diagnosis(self) -> None:
        if self._diagnosis_worker is not None:
            self._diagnosis_worker.cancel()
            self._diagnosis_worker = None

    @property
    def result(self) -> DiagnosisResult | None:
        return self.panel.result

    # -- actions ---------------------------------------------------------------------------------------
    def _record_review(self, action: str) -> None:
        from engine.audit import AuditLog

        if self.panel.result is None or self.current_image is None:
            return
        result = self.panel.result
        threshold = self.settings.threshold_override
        decision = result.probability >= (result.threshold if threshold is None else threshold)
        try:
            entry = AuditLog().record(self.current_image.meta, result, action, threshold=threshold,
                                      final_decision=(not decision) if action == "overridden" else decision)
        except OSError as exc:
            show_error(self, PneumoError(f"The audit log could not be written ({exc.strerror})."))
            return
        self.panel.review_note.setText(f"Recorded: {action} — final decision {entry['final_decision']}.")

    def export_case(self, kind: str) -> None:
        from viewer.case_export import export_current_case

        if self.panel.result is None or self.current_image is None:
            show_error(self, PneumoError("Diagnose a case before exporting it."))
            return
        meta = self.diagnoser.checkpoint.meta if self.diagnoser else {}
        export_current_case(self, kind, self.current_image, self.panel.result, meta)

    def _reset_view(self) -> None:
        self.view.reset()
        self.invert_action.setChecked(False)

    def _open_settings(self) -> None:
        dialog = SettingsDialog(self.settings, self)
        if dialog.exec():
            self.settings.save()
            self.diagnoser, self.reference, self.reference_error = None, None, ""
            self.ensure_diagnoser()

    def show_about(self) -> None:
        meta = self.diagnoser.checkpoint.meta if self.diagnoser else None
        show_about(self, meta, self.diagnoser_error)

    # -- plumbing ---------------------------------------------------------------------------------------
    def track(self, worker: Worker, *, model: bool = False) -> Worker:
        """Keep a reference while the worker runs (Qt does not own it) and start it."""
        self._workers.add(worker)
        for signal in (worker.signals.finished, worker.signals.failed, worker.signals.cancelled):
            signal.connect(lambda *_: self._workers.discard(worker))
        return start(worker, model=model)

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if event.mimeData().hasUrls():
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:
        urls = event.mimeData().urls()
        if urls:
            self.open_path(Path(urls[0].toLocalFile()))

    def segmenter(self) -> LungSegmenter | None:
        return self.diagnoser.segmenter if self.diagnoser else None

