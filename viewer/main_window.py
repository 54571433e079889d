"""The main window: reading view + diagnosis panel, study and tag browsers, overlays, menus, and the worker
plumbing that keeps decoding, segmentation and inference off the GUI thread.

Seams for other tabs: ``add_tab(widget, title)`` adds a tab beside "Reading"; ``open_in_reading_view(path)``
shows one image in the reading view (e.g. a triage double-click). The model runs in its own process
(``engine.model_process``; the window never imports torch); tabs send it requests through ``window.model``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from PySide6.QtCore import Qt, QThreadPool, QTimer
from PySide6.QtGui import (
    QCloseEvent,
    QDragEnterEvent,
    QDropEvent,
    QImage,
    QShowEvent,
)
from PySide6.QtWidgets import (
    QFileDialog,
    QLabel,
    QMainWindow,
    QProgressDialog,
    QSplitter,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from engine.errors import ModelLoadError, PneumoError, UnsupportedImageError
from engine.flags import can_diagnose_anyway, messages
from engine.io import LoadedImage
from engine.io.identity import PatientIdentity
from engine.io.phi import TagRow
from engine.model.local_weights import smollm_is_prepared
from engine.model_host import LocalModel, ModelClient, ModelInfo
from engine.model_process import ModelProcess
from engine.notices import RESEARCH_USE
from engine.read_first import ReadFirstSession
from engine.reading import MapReady, ModelSession, ResultReady, SaliencyReady, StageStarted
from engine.result import DiagnosisResult
from viewer.about import show_about
from viewer.breader_tools import BReaderTools
from viewer.diagnosis_panel import DiagnosisPanel
from viewer.error_dialog import message_for, show_error
from viewer.export_dialog import ExportCase, ExportDialog, open_export_dialog
from viewer.head_banner import HeadBanner
from viewer.head_choice import HeadChoice
from viewer.ilo_panel import IloPanel
from viewer.image_loading import load_for_reading, read_case_for_screen
from viewer.menu_actions import MainMenus, MenuSlots
from viewer.model_client import UnavailableModel, model_spec, retire
from viewer.overlay_controls import OverlayControls
from viewer.reading_docks import ReadingDocks, add_dock
from viewer.reading_view import ReadingView
from viewer.settings import SettingsDialog, ViewerSettings
from viewer.study_browser import StudyBrowser
from viewer.tag_browser import TagBrowser
from viewer.triage_tab import TriageTab
from viewer.wizard_launcher import WizardLauncher
from viewer.workers import Worker, WorkerSet, bind, model_pool
from viewer.worklist_tab import WorklistTab
from viewer.zone_overlay import ZoneOverlay

if TYPE_CHECKING:
    from engine.diagnoser import Diagnoser
    from viewer.finetune import FinetuneWizard
    from viewer.query_dialog import QueryPacsDialog
    from viewer.wizard_process import WizardProcess

log = logging.getLogger(__name__)
DiagnoserFactory = Callable[[ViewerSettings, Callable[[str], None]], "Diagnoser"]
APP_TITLE = f"PneumoLLM Viewer — {RESEARCH_USE}"


class MainWindow(QMainWindow):
    def __init__(self, *, settings: ViewerSettings | None = None, diagnoser_factory: DiagnoserFactory | None = None,
                 preload_model: bool = True) -> None:
        """``diagnoser_factory``: build the model in this process with it (tests, benchmarks); default: the model
        of the Settings in its own process."""
        super().__init__()
        self.settings = settings or ViewerSettings.load()
        self.diagnoser_factory = diagnoser_factory
        self.model: ModelClient = self._new_model()
        self.model_info: ModelInfo | None = None
        self.diagnoser_error = ""
        self.current_path: Path | None = None
        self.current_image: LoadedImage | None = None
        self.saliency: np.ndarray | None = None
        self.workers = WorkerSet(self)
        self._diagnosis_worker: Worker | None = None
        self._load_token = 0
        self._loading_model = False
        self._closing = False
        self._sized = False
        self._prepare_dialog: QProgressDialog | None = None
        self.identity: PatientIdentity | None = None
        self.step_order = "studies"  # next/previous follow the study browser, or the triage table's order
        self.read_first_session = ReadFirstSession(self.settings.read_first)  # which events count, which wait
        self.setWindowTitle(APP_TITLE)
        self.resize(1500, 950)
        self.setAcceptDrops(True)
        self.wizards = WizardLauncher(self, lambda: self.settings, in_process=diagnoser_factory is not None)
        self.wizards.head_changed.connect(self._head_changed)
        self.wizards.status.connect(lambda text, ms: self.statusBar().showMessage(text, ms))
        self.export_dialog: ExportDialog | None = None
        self._build_ui()
        self.triage_tab = TriageTab(self.model, self)
        self.triage_tab.open_image_requested.connect(self.open_from_triage)
        self.add_tab(self.triage_tab, "Triage")
        self.worklist_tab = WorklistTab(self.model, self, deidentified=lambda: self.settings.deidentified_display)
        self.worklist_tab.open_image_requested.connect(self.open_in_reading_view)
        self.worklist_tab.node_status.connect(lambda text: self.statusBar().showMessage(text, 10_000))
        self.add_tab(self.worklist_tab, "Worklist")
        self.menus = MainMenus(self, self._menu_slots(), self.view, self.overlay_controls,
                               (self.study_dock, self.tag_dock, self.overlay_dock))
        self.breader = BReaderTools(self)  # the B reader menu: standards side by side, true size, ruler, gauge
        self.head_choice = HeadChoice(self)  # Model > Use a head folder… (e.g. the ILO phantom head)
        if preload_model:
            self.ensure_diagnoser()

    # -- layout ----------------------------------------------------------------------------------------
    def _build_ui(self) -> None:
        central = QWidget()
        layout = QVBoxLayout(central)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.setSpacing(4)
        self.banner = HeadBanner()  # SIMULATION first while a head trained on simulated films is active
        layout.addWidget(self.banner)
        self.tabs = QTabWidget()
        self.tabs.setDocumentMode(True)
        layout.addWidget(self.tabs, 1)
        self.reading = QSplitter(Qt.Orientation.Horizontal)
        self.view = ReadingView()
        self.reading.addWidget(self.view)
        self.panel = DiagnosisPanel()
        self.reading.addWidget(self.panel)
        self.reading.setStretchFactor(0, 3)
        self.reading.setStretchFactor(1, 2)
        self.reading.setChildrenCollapsible(False)
        self.tabs.addTab(self.reading, "Reading")
        self.tabs.tabBar().setVisible(False)  # shown once a second tab (triage, fine-tune) is added
        self.setCentralWidget(central)

        self.studies = StudyBrowser()
        self.studies.image_selected.connect(self._browser_selected)
        self.studies.scanned.connect(self._first_image_of_scan)
        self.studies.scan_failed.connect(lambda exc: self.panel.show_problem(message_for(exc)))
        self.study_dock = add_dock(self, "Studies", self.studies, Qt.DockWidgetArea.LeftDockWidgetArea)
        self.tags = TagBrowser()
        self.tag_dock = add_dock(self, "DICOM tags", self.tags, Qt.DockWidgetArea.LeftDockWidgetArea)
        self.tabifyDockWidget(self.study_dock, self.tag_dock)
        self.study_dock.raise_()
        self.overlay_controls = OverlayControls(self.view)
        self.overlay_checks = self.overlay_controls.checks  # the dock's boxes, by overlay name
        self.overlay_dock = add_dock(self, "Overlays", self.overlay_controls, Qt.DockWidgetArea.LeftDockWidgetArea)
        self.ilo = IloPanel(overlay=ZoneOverlay(self.view))  # hidden until asked for (View > ILO reading form)
        self.ilo_dock = add_dock(self, "ILO reading", self.ilo, Qt.DockWidgetArea.RightDockWidgetArea)
        self.ilo_dock.hide()

        self.pixel_label = QLabel("")
        self.device_label = QLabel("Model: loading…")
        self.statusBar().addWidget(self.pixel_label, 1)
        self.statusBar().addPermanentWidget(self.device_label)
        self.view.pixel_info.connect(self.pixel_label.setText)
        self.view.step_requested.connect(self.step_image)
        self.panel.diagnose_requested.connect(self.diagnose)
        self.panel.cancel_requested.connect(self.cancel_by_reader)
        self.panel.review_recorded.connect(self._record_review)
        self.panel.reveal_requested.connect(self.reveal_result)
        self.reading_docks = ReadingDocks(self.tabs, self.reading, (self.study_dock, self.tag_dock, self.overlay_dock))

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        if not self._sized:  # the image gets most of the width; the panel keeps enough for its plots
            self._sized = True
            self.resizeDocks([self.study_dock], [340], Qt.Orientation.Horizontal)
            total = max(self.width() - 340 - 16, 800)
            panel = max(self.panel.minimumWidth(), int(total * 0.42))
            self.reading.setSizes([total - panel, panel])

    def _menu_slots(self) -> MenuSlots:
        return MenuSlots(
            open_file=self.choose_file, open_folder=self.choose_folder, export_case=self.export_case,
            show_triage=self.show_triage_tab, query_pacs=self.query_pacs, quit=self.close,
            reset_view=self.reset_view, show_ilo_form=self.show_ilo_form, next_image=lambda: self.step_image(1),
            previous_image=lambda: self.step_image(-1), diagnose=lambda: self.diagnose(False),
            cancel_diagnosis=self.cancel_by_reader, reveal_result=self.reveal_result, open_settings=self.open_settings,
            open_finetune_wizard=self.open_finetune_wizard, show_about=self.show_about)

    def query_pacs(self) -> QueryPacsDialog:
        """File > Query PACS…: find and retrieve a study; the retrieved folder opens in the reading view."""
        from viewer.query_dialog import QueryPacsDialog  # pynetdicom and pydicom load when a query is made

        dialog = QueryPacsDialog(self)
        dialog.study_retrieved.connect(self.open_path)
        dialog.show()
        return dialog

    # -- seams for other tabs ---------------------------------------------------------------------------
    def add_tab(self, widget: QWidget, title: str) -> int:
        """Add a tab beside "Reading" (triage, fine-tune); the tab bar appears with the second tab."""
        index = self.tabs.addTab(widget, title)
        self.tabs.tabBar().setVisible(self.tabs.count() > 1)
        return index

    def open_in_reading_view(self, path: Path) -> None:
        """Show one image in the reading view (switching to it), e.g. from a triage list."""
        path = Path(path)
        self.tabs.setCurrentWidget(self.reading)
        if path in self.studies.paths:
            self.studies.select(path)
        else:
            self.studies.show_single(path)
        self.open_image(path)

    def show_triage_tab(self) -> None:
        """File > Triage a folder…: the triage tab, where the folder is chosen."""
        self.tabs.setCurrentWidget(self.triage_tab)

    def open_from_triage(self, path: Path) -> None:
        """A triage row opened: next/previous now walk the triage table in its shown order."""
        self.open_in_reading_view(path)
        self.step_order = "triage"

    @property
    def diagnoser(self) -> Diagnoser | None:
        """The in-process model when one was asked for and is built (tests); None for the model process."""
        return self.model.session.current if isinstance(self.model, LocalModel) else None

    def _new_model(self) -> ModelClient:
        if self.diagnoser_factory is not None:
            factory = self.diagnoser_factory
            session = ModelSession(lambda progress: factory(self.settings, progress))
            session.choose_threshold(self.settings.threshold_choice())  # checked when the model is built
            return LocalModel(session)
        try:
            return ModelProcess(model_spec(self.settings))
        except PneumoError as exc:
            return UnavailableModel(exc)

    def _replace_model(self) -> None:
        """New settings or a new head: a new model (process) from the next request on; the old one is stopped."""
        old, self.model, self.model_info, self.diagnoser_error = self.model, self._new_model(), None, ""
        self._loading_model = False  # the new model is loaded anew (ensure_diagnoser)
        retire(old)
        self.triage_tab.set_model_client(self.model)
        self.worklist_tab.set_model_client(self.model)

    def threshold_in_force(self) -> tuple[float, Any] | None:
        """The loaded head's threshold for the Settings' choice (None before the model is described).

        Raises:
            ModelLoadError: the chosen operating point is not one the head offers.
        """
        if self.model_info is None:
            return None
        card = self.model_info.card
        return self.settings.threshold_choice().resolve(card.threshold, card.operating_points)

    # -- opening ---------------------------------------------------------------------------------------
    def choose_file(self) -> None:
        """File > Open image…: a file dialog; the chosen radiograph opens in the reading view."""
        patterns = ("Radiographs (*.dcm *.dicom *.dic *.png *.jpg *.jpeg *.tif *.tiff *.mha *.mhd *.nrrd *.nhdr *.nii "
                    "*.nii.gz);;All files (*)")
        name, _ = QFileDialog.getOpenFileName(self, "Open radiograph", "", patterns)
        if name:
            self.open_path(Path(name))

    def choose_folder(self) -> None:
        """File > Open folder…: a folder dialog; the folder is scanned into studies."""
        name = QFileDialog.getExistingDirectory(self, "Open study folder")
        if name:
            self.open_path(Path(name))

    def open_path(self, path: Path) -> None:
        """Open a file (shown at once) or a folder (scanned into studies; its first image is shown)."""
        path = Path(path)
        self.tabs.setCurrentWidget(self.reading)
        self.step_order = "studies"
        if path.is_dir():
            self.studies.open_folder(path)
        else:
            self.studies.show_single(path)
            self.open_image(path)

    def _first_image_of_scan(self, result: Any) -> None:
        if self.studies.paths:
            self.studies.select(self.studies.paths[0])
            self.open_image(self.studies.paths[0])
        else:
            skipped = f" ({len(result.skipped)} files skipped — see the Studies list)" if result.skipped else ""
            self.panel.show_problem(f"No radiographs found in this folder{skipped}.")

    def _browser_selected(self, path: Path) -> None:
        self.step_order = "studies"
        if path != self.current_path:
            self.open_image(path)

    def step_image(self, offset: int) -> None:
        """The next (+1) or previous (-1) image, in the study browser's or the triage table's order."""
        if self.step_order == "triage" and self.current_path is not None:
            path = self.triage_tab.neighbour(self.current_path, offset)
            if path is not None and path != self.current_path:
                self.open_in_reading_view(path)
            return
        path = self.studies.step(offset, self.current_path)
        if path is not None and path != self.current_path:
            self.open_image(path)

    def open_image(self, path: Path) -> None:
        """Decode (and read the tags) in a worker; results for an image the user has left are dropped."""
        self._load_token += 1
        token = self._load_token
        self.cancel_diagnosis()
        self.current_path = Path(path)
        self.current_image = None
        self.read_first_session.new_image(self.settings.read_first)
        self.panel.has_image = False
        self.panel.clear()
        self.panel.show_busy(f"Opening {Path(path).name}…")
        worker = Worker(load_for_reading, Path(path))
        worker.signals.finished.connect(lambda loaded: self._image_loaded(token, *loaded))
        worker.signals.failed.connect(lambda exc: self._image_failed(token, exc))
        self.workers.start(worker)

    def _image_loaded(self, token: int, image: LoadedImage, rows: list[TagRow] | None,
                      identity: PatientIdentity | None = None, shown: np.ndarray | None = None,
                      picture: QImage | None = None) -> None:
        if self._closing or token != self._load_token:
            return
        self.current_image = image
        self.panel.has_image = True
        self.saliency = None
        self.view.set_image(image, shown, picture)
        self.show_identity(identity)
        self.menus.invert.setChecked(False)
        self.tags.show_rows(rows, is_dicom=image.meta.kind == "dicom")
        self.ilo.set_image(image)
        meta = image.meta
        flags = "; ".join(messages(meta.flags))
        self.panel.show_idle(f"{meta.path.name}: {meta.columns}×{meta.rows}"
                             + (f" {meta.modality}" if meta.modality else "")
                             + (f" — flagged: {flags}" if flags else ""))
        if self.settings.auto_diagnose:
            self.diagnose(False)

    def _image_failed(self, token: int, exc: BaseException) -> None:
        if self._closing or token != self._load_token:
            return
        self.current_image = None
        self.view.clear()
        self.show_identity(None)
        self.tags.show_rows([], is_dicom=False)
        self.panel.show_problem(message_for(exc))

    # -- the model ------------------------------------------------------------------------------------
    def ensure_diagnoser(self) -> None:
        """Build the diagnoser in the model worker (first start prepares the LLM, with a progress dialog)."""
        if self.model_info is not None or self._loading_model:
            return
        self._loading_model = True
        self.device_label.setText("Model: loading…")
        if self.settings.profile == "embedded" and not smollm_is_prepared():
            self._prepare_dialog = QProgressDialog(
                "Preparing the embedded language model (first start only, about 30 seconds)…\n"
                "You can open and read images meanwhile.", "", 0, 0, self)
            self._prepare_dialog.setCancelButton(None)
            self._prepare_dialog.setWindowTitle("PneumoLLM Viewer — first start")
            self._prepare_dialog.setWindowModality(Qt.WindowModality.NonModal)
            self._prepare_dialog.setMinimumDuration(0)
            self._prepare_dialog.show()

        model = self.model  # a load that answers after the head changed is the old head's: dropped
        worker = Worker.reporting(model.run, "load")
        worker.signals.progress.connect(self._model_progress)
        bind(worker, self, finished=lambda _worker, info: model is self.model and self._diagnoser_ready(info),
             failed=lambda _worker, exc: model is self.model and self._diagnoser_failed(exc))  # while self lives
        self.workers.start(worker, model=True)

    def _model_progress(self, text: object) -> None:
        if self._closing:
            return
        if isinstance(text, tuple):  # ("status", line) from the model's loading
            text = text[-1]
        self.device_label.setText(str(text))
        if self._prepare_dialog is not None:
            self._prepare_dialog.setLabelText(str(text))

    def _close_prepare_dialog(self) -> None:
        self._loading_model = False
        if self._prepare_dialog is not None:
            self._prepare_dialog.close()
            self._prepare_dialog = None

    def _diagnoser_ready(self, info: ModelInfo) -> None:
        if self._closing:
            return
        self._close_prepare_dialog()
        self.model_info, self.diagnoser_error = info, ""
        self.device_label.setText(f"Model: {info.profile} on {info.device}")
        self.device_label.setToolTip("")
        self.banner.show_head(info.card, self.panel)

    def _diagnoser_failed(self, exc: BaseException) -> None:
        if self._closing:
            return
        self._close_prepare_dialog()
        self.diagnoser_error = message_for(exc)
        self.device_label.setText("Model: not available")
        self.device_label.setToolTip(self.diagnoser_error)
        if self.current_image is None and self.current_path is None:
            self.panel.show_idle(f"Open a radiograph to read it. The model is not available: {self.diagnoser_error}")
        elif self.current_image is not None and self.panel.result is None and self._diagnosis_worker is None:
            self.panel.show_problem(self.diagnoser_error)

    def diagnose(self, allow_flagged: bool = False) -> None:
        """Segment, run PneumoLLM, place the case on the map and compute Grad-CAM — all in the model worker
        (``engine.reading.read_case``); this window only draws the events it yields."""
        if self.current_image is None:
            return
        self.ensure_diagnoser()  # queued first on the model's thread: the window learns which model answers
        self.cancel_diagnosis()
        token = self.read_first_session.start_diagnosis()
        self.panel.show_busy("Diagnosing: lung segmentation and PneumoLLM…")
        # The model process decodes the file itself (cheaper than sending the pixels); in-process, the image as is.
        image = self.current_image if isinstance(self.model, LocalModel) else self.current_image.meta.path
        worker = Worker.reporting(read_case_for_screen, self.model, image, allow_flagged=allow_flagged)
        worker.signals.progress.connect(lambda event: self._diagnosis_event(token, event))
        worker.signals.finished.connect(lambda _event: self._diagnosis_done(token))
        worker.signals.failed.connect(lambda exc: self._diagnosis_failed(token, exc))
        self._diagnosis_worker = worker
        self.workers.start(worker, model=True)

    def _diagnosis_event(self, token: int, event: object) -> None:
        if self._closing or not self.read_first_session.is_current(token):
            return
        if self.read_first_session.hold(event):  # read first: kept, not drawn, until the reader asks
            if isinstance(event, ResultReady):
                self.panel.show_held()
            return
        self._draw_event(event)

    def _draw_event(self, event: object) -> None:
        if isinstance(event, StageStarted):
            self.panel.show_busy(event.text)
        elif isinstance(event, ResultReady):
            result = event.result
            self.device_label.setText(f"Model: {result.profile} on {result.device}")
            self.panel.show_result(result, list(event.source_names))
            self.ilo.set_result(result)
            if self.model_info is not None:
                self.banner.show_head(self.model_info.card, self.panel)
            # The film's overlays on the next turn of the event loop: painted in one go with the panel's new
            # text, a result stalled the window ~50 ms (benchmarks/bench_gui.py).
            image = self.current_image
            QTimer.singleShot(0, lambda: self._draw_lung_overlay(image, event))
        elif isinstance(event, MapReady):
            placement = event.placement
            self.panel.show_map(placement.reference, placement.point, placement.message, placement.nearest)
        elif isinstance(event, SaliencyReady) and event.saliency is not None:
            self.saliency = event.saliency
            self.view.set_saliency(event.saliency, getattr(event, "picture", None))

    def _draw_lung_overlay(self, image: LoadedImage | None, event: ResultReady) -> None:
        if self._closing or image is None or self.current_image is not image:
            return  # another image is open by now
        crop = event.result.lung_crop
        self.view.set_lung_overlay(crop.mask, crop.box, crop.fallback, event.outline, getattr(event, "contour", None))

    def _diagnosis_done(self, token: int) -> None:
        if self._closing or not self.read_first_session.is_current(token):
            return
        self._diagnosis_worker = None
        if self.read_first_session.held:
            self.panel.show_held()
            return
        self._measure_zones_if_shown()
        self.panel.show_idle(self.panel.done_text())

    def _measure_zones_if_shown(self) -> None:
        if self.ilo_dock.isVisible():  # seven more forward passes: only when someone looks at them
            self.ilo.measure_evidence(self.model, self.panel.result, self.saliency, self.workers)

    def _diagnosis_failed(self, token: int, exc: BaseException) -> None:
        if self._closing or not self.read_first_session.is_current(token):
            return
        self._diagnosis_worker = None
        if isinstance(exc, ModelLoadError):
            self.diagnoser_error = exc.user_message
            self.device_label.setText("Model: not available")
            self.device_label.setToolTip(exc.user_message)
        flagged = isinstance(exc, UnsupportedImageError) and can_diagnose_anyway(exc.flags)
        if self.panel.result is None:
            self.panel.show_problem(message_for(exc), flagged=flagged)
        else:  # the result is in; only an aid (map, saliency) failed
            self.panel.show_idle(f"Diagnosis complete; {message_for(exc)}")

    def cancel_diagnosis(self) -> None:
        """Stop listening to the running diagnosis; its worker stops at the next stage."""
        if self._diagnosis_worker is not None:
            self._diagnosis_worker.cancel()
            self._diagnosis_worker = None
        self.read_first_session.cancel()

    def cancel_by_reader(self) -> None:
        """Model > Cancel diagnosis (Esc) or the panel's Cancel: stop, and say what is left on screen."""
        if self._diagnosis_worker is None:
            return
        self.cancel_diagnosis()
        if self.panel.result is None:
            self.panel.show_idle("Diagnosis cancelled — press Diagnose to run it again.")
        else:
            self.panel.show_idle("Cancelled: the result is shown; the map or saliency may be missing.")

    def reveal_result(self) -> None:
        """Read first: draw the held result, map and saliency now (the reader has looked at the image)."""
        if self.current_image is None:
            return
        held = self.read_first_session.reveal()
        for event in held:
            self._draw_event(event)
        self.panel.hide_reveal()
        if held and self._diagnosis_worker is None:  # else the diagnosis' end measures them
            self._measure_zones_if_shown()
            self.panel.show_idle(self.panel.done_text())

    @property
    def result_held(self) -> bool:
        """True when a result is in but kept back until the reader asks (read-first mode)."""
        return self.read_first_session.held

    def show_identity(self, identity: PatientIdentity | None) -> None:
        """The patient header over the image and in the window title (unless the display is de-identified)."""
        self.identity = identity
        hidden = self.settings.deidentified_display
        self.view.set_identity(identity, hidden=hidden)
        if identity is None or identity.empty or hidden:
            self.setWindowTitle(APP_TITLE)
        else:
            self.setWindowTitle(f"{identity.title()} — {APP_TITLE}")

    @property
    def diagnosis_running(self) -> bool:
        """True from Diagnose until the worker's last stage (result, map, saliency) has been handled."""
        return self._diagnosis_worker is not None

    @property
    def result(self) -> DiagnosisResult | None:
        return self.panel.result

    # -- actions ---------------------------------------------------------------------------------------
    def _record_review(self, action: str) -> None:
        from engine.audit import AuditLog

        if self.panel.result is None or self.current_image is None:
            return
        result = self.panel.result  # the result as shown: its decision and the threshold it used
        try:
            entry = AuditLog().record(self.current_image.meta, result, action)
        except OSError as exc:
            show_error(self, PneumoError(f"The audit log could not be written ({exc.strerror})."))
            return
        self.panel.show_review_note(f"Recorded: {action} — final decision {entry['final_decision']}.")

    def export_case(self) -> None:
        """A modeless export dialog that follows the case on screen; the export itself runs in a worker."""
        if self.export_dialog is not None and self.export_dialog.isVisible():
            self.export_dialog.set_case(self.case_to_export())
            self.export_dialog.raise_()
            return
        self.export_dialog = open_export_dialog(self, self.case_to_export, self.panel.result_changed)
        if self.export_dialog is None:
            show_error(self, PneumoError("Diagnose a case before exporting it."))

    def case_to_export(self) -> ExportCase | None:
        """The case on screen with its result as shown (None until one is diagnosed and shown)."""
        if self.panel.result is None or self.current_image is None:
            return None
        return ExportCase(self.current_image, self.panel.result, self.identity, self.settings.deidentified_display,
                          self.model_info.card if self.model_info else None)

    def show_ilo_form(self) -> None:
        self.ilo_dock.show()
        self.ilo_dock.raise_()
        self.ilo.focus_form()
        if (self.ilo.evidence is None and self.panel.result is not None and not self.diagnosis_running
                and not self.ilo.measuring):
            self.ilo.measure_evidence(self.model, self.panel.result, self.saliency, self.workers)

    def open_finetune_wizard(self) -> FinetuneWizard | WizardProcess:
        """One wizard at a time (``viewer.wizard_launcher``); installing or rolling back a head reloads the model."""
        return self.wizards.open()

    def _head_changed(self, _folder: object) -> None:
        """A head was installed or rolled back: the old head's result leaves the screen with it."""
        self.cancel_diagnosis()
        self._replace_model()
        self.ensure_diagnoser()
        had_held = self.read_first_session.forget()
        had_result = self.panel.result is not None or had_held
        self.saliency = None
        self.view.clear_overlays()
        self.panel.clear()
        self.ilo.forget_result("A new head is active: diagnose again to see its evidence in each zone.")
        if self.current_image is not None and had_result:
            self.panel.show_idle("A new head is active — press Diagnose to run it.")

    def reset_view(self) -> None:
        """View > Reset view: the file's own window, no inversion, fitted."""
        self.view.reset()
        self.menus.invert.setChecked(False)

    def open_settings(self) -> None:
        """Model > Settings…: a modal dialog; accepted settings are saved and applied."""
        before = self.settings.copy()
        dialog = SettingsDialog(self.settings, self, card=self.model_info.card if self.model_info else None)
        if not dialog.exec():
            return
        self.apply_settings(before)

    def apply_settings(self, before: ViewerSettings) -> None:
        """Save the settings; reload the model only when a model setting changed, else redraw the decision."""
        self.settings.save()
        self.show_identity(self.identity)  # the de-identified display may have changed
        if not self.settings.read_first and not self.read_first_session.revealed:
            self.reveal_result()
        if self.settings.model_differs(before):
            self.cancel_diagnosis()
            self._replace_model()
            self.ensure_diagnoser()
            if self.panel.result is not None:
                self.panel.show_idle("Model settings changed — press Diagnose to run the new model.")
            return
        try:
            in_force = self.threshold_in_force()
        except ModelLoadError as exc:  # an operating point the loaded head does not offer
            self.panel.show_idle(exc.user_message)
            return
        # The model decides later results at the new choice (queued before any later diagnosis on its thread).
        self.workers.start(Worker(self.model.run, "choose_threshold", self.settings.threshold_choice()), model=True)
        result = self.panel.result
        if result is not None and in_force is not None:  # the shown result, decided again at the new threshold
            self.panel.show_decision(result.at_threshold(*in_force))

    def show_about(self) -> None:
        info = self.model_info
        show_about(self, info.card if info else None, self.diagnoser_error, Path(info.folder) if info else None)

    # -- plumbing ---------------------------------------------------------------------------------------
    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if event.mimeData().hasUrls():
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:
        local = [url.toLocalFile() for url in event.mimeData().urls() if url.isLocalFile()]
        if local:
            event.acceptProposedAction()
            self.open_path(Path(local[0]))

    def closeEvent(self, event: QCloseEvent) -> None:
        """Stop workers at their next yield and give them a moment, so none reports to a closed window."""
        self._closing = True
        self.wizards.close()
        self.triage_tab.cancel()
        self.worklist_tab.shutdown()
        self.workers.cancel_all()
        self.studies.shutdown()
        self._close_prepare_dialog()
        QThreadPool.globalInstance().waitForDone(3000)
        model_pool().waitForDone(3000)
        self.model.close()
        super().closeEvent(event)

