"""The ILO reading panel: the zone chart, the form, the DRAFT report, signing, history and exports.

Layout and wiring only — engine code does the work: ``engine.ilo.zone_evidence`` (in the model worker),
``engine.ilo`` (form rules, the store, clues and the draft, SR/PDF/CSV). The model's suggestions stay
suggestions; what is signed, saved and exported is the reader's form and the reader's edited text.

Double reading: the form shows the reader's own reading (``viewer.reader_identity`` says who reads); a reader who
has not signed an image that another reader has reads it blind (``blind_changed``: the window holds the AI result
too) until they sign, and ``viewer.double_reading_status`` shows the image's state by the programme's rule.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import numpy as np
from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QFileDialog,
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from engine.errors import PneumoError
from engine.ilo.acquisition import check_acquisition
from engine.ilo.clues import EVIDENCE_MIN, ModelFacts, build_clues
from engine.ilo.double_reading import DiscordanceRule, load_rule
from engine.ilo.draft import DRAFT_LABEL, draft_report
from engine.ilo.form import IloReading, problems
from engine.ilo.store import ReadingStore, StoredReading, instance_key
from engine.ilo.suggestion import IloSuggestion
from engine.ilo.zone_evidence import ZoneEvidenceReport
from engine.ilo.zones import lung_zones
from engine.io import LoadedImage
from engine.io.phi import hash_uid
from engine.model_host import ModelClient
from engine.result import DiagnosisResult
from viewer.double_reading_status import CaseView, DoubleReadingStatus, case_view
from viewer.error_dialog import show_error
from viewer.ilo_form import IloForm
from viewer.ilo_suggestions import SuggestionBox, model_suggestion, suggestion_of
from viewer.reader_identity import ReaderFields
from viewer.workers import Worker, WorkerSet, bind
from viewer.zone_chart import ZoneChart
from viewer.zone_overlay import ZoneOverlay, zone_picture

SIGNED_LABEL = "Signed by the reader — this text is exported with the reading."


def measure_zone_evidence(client: ModelClient, result: DiagnosisResult,
                          saliency: np.ndarray | None) -> tuple[ZoneEvidenceReport | None, np.ndarray]:
    """Model worker: the six zones' evidence, measured by the model (reusing the Grad-CAM the reading already
    computed), and the zone overlay's picture, made here."""
    if result.lung_crop.fallback:
        raise PneumoError("The lungs were not found reliably (fallback crop) — no zones and no zone evidence.")
    if result.ilo is not None:  # an ILO head answers per zone itself (the chart shows it): no occlusion probe
        return None, zone_picture(lung_zones(result.lung_mask))
    report = client.run("zone_evidence", result, saliency)
    return report, zone_picture(lung_zones(result.lung_mask))


class IloPanel(QWidget):
    saved = Signal(object)  # StoredReading
    blind_changed = Signal(bool)  # whenever the readings are shown again: the reader reads the image blind or not

    def __init__(self, store: ReadingStore | None = None, overlay: ZoneOverlay | None = None) -> None:
        super().__init__()
        self._store = store
        self.overlay = overlay  # the zones drawn on the radiograph, when the panel sits beside a reading view
        self.image: LoadedImage | None = None
        self.result: DiagnosisResult | None = None
        self.evidence: ZoneEvidenceReport | None = None
        self.stored: StoredReading | None = None
        self._evidence_worker: Worker | None = None
        # How an amendment's reason is asked; tests replace it.
        self.ask_reason: Callable[[], str | None] = self._ask_reason
        # The model's answer recorded with a signed reading (the window adds a result held back from a blind reader).
        self.model_answer: Callable[[], DiagnosisResult | None] = lambda: self.result
        self.rule: Callable[[], DiscordanceRule] = load_rule  # the programme's discordance rule, read when needed
        self.blind = False
        self.setMinimumWidth(470)  # the form's widest rows (pleural sites) stay readable without scrolling sideways
        layout = QVBoxLayout(self)
        self.chart = ZoneChart()
        layout.addWidget(self.chart)
        self.show_zones = QCheckBox("Show the six &zones on the image")
        self.show_zones.setEnabled(overlay is not None)
        if overlay is not None:
            self.show_zones.toggled.connect(overlay.set_visible)
        layout.addWidget(self.show_zones)
        self.form = IloForm()
        self.suggestions = SuggestionBox(self.form)  # an ILO head's suggestion, amber, never filled in
        layout.addWidget(self.suggestions)
        scroll = QScrollArea()
        scroll.setWidget(self.form)
        scroll.setWidgetResizable(True)
        layout.addWidget(scroll, 3)

        self.draft_label = QLabel(DRAFT_LABEL)
        self.draft_label.setStyleSheet("background:#fff3e0; color:#8a4b00; font-weight:bold; padding:2px;")
        self.draft_label.setWordWrap(True)
        layout.addWidget(self.draft_label)
        self.report = QPlainTextEdit()
        self.report.setPlaceholderText("Report text: press Draft, then edit it; your signed text is what is exported.")
        self.report.setTabChangesFocus(True)
        self.report.setMaximumHeight(120)
        layout.addWidget(self.report)

        self.identity = ReaderFields()
        self.reader, self.reader_id = self.identity.name, self.identity.reader_id
        layout.addWidget(self.identity)
        self.double_reading = DoubleReadingStatus()
        layout.addWidget(self.double_reading)
        signing = QHBoxLayout()
        self.draft_button = QPushButton("&Draft from the clues")
        self.sign_button = QPushButton("&Sign and save")
        signing.addWidget(self.draft_button)
        signing.addWidget(self.sign_button)
        layout.addLayout(signing)
        exports = QHBoxLayout()
        self.sr_button, self.pdf_button, self.csv_button = (QPushButton("Export S&R…"), QPushButton("Export PD&F…"),
                                                            QPushButton("Export &CSV…"))
        self.niosh_button = QPushButton("NIOSH &2.8 PDF…")
        self.niosh_button.setToolTip("The signed reading on the CDC/NIOSH 2.8 layout (reader id, hashed image key)")
        for button in (self.sr_button, self.pdf_button, self.niosh_button, self.csv_button):
            exports.addWidget(button)
        layout.addLayout(exports)
        self.history = QLabel("No saved reading for this image.")
        self.history.setWordWrap(True)
        layout.addWidget(self.history)
        self.draft_button.clicked.connect(self.make_draft)
        self.sign_button.clicked.connect(self.sign_and_save)
        self.sr_button.clicked.connect(lambda: self.export_with_dialog("sr"))
        self.pdf_button.clicked.connect(lambda: self.export_with_dialog("pdf"))
        self.niosh_button.clicked.connect(lambda: self.export_with_dialog("niosh"))
        self.identity.changed.connect(self._reader_changed)
        self.csv_button.clicked.connect(lambda: self.export_with_dialog("csv"))
        self.form.changed.connect(self._update_buttons)
        self._update_buttons()

    @property
    def store(self) -> ReadingStore:
        if self._store is None:  # opened on first use, in the user's data folder
            self._store = ReadingStore()
        return self._store

    # -- the case --------------------------------------------------------------------------------------
    def set_image(self, image: LoadedImage | None) -> None:
        """A new image: its saved reading (if any) is shown, else an empty form."""
        self.image, self.result, self.evidence, self.stored = image, None, None, None
        self._evidence_worker = None  # a late answer for the previous image is dropped
        self.chart.set_report(None, "Diagnose the image to see the model's evidence in each zone.")
        if self.overlay is not None:
            self.overlay.set_picture(None)
        self._show_readings()

    def _show_readings(self) -> None:
        """The form as the reader at the workstation sees this image: their own reading, or empty (blind or new)."""
        self.stored = None
        self.form.clear()
        self.suggestions.show_suggestion(None)  # an ILO head's suggestion: shown again below unless read blind
        self.chart.set_suggestion(None)
        self.form.set_acquisition(None if self.image is None else check_acquisition(self.image.meta))
        self.report.clear()
        self.draft_label.setText(DRAFT_LABEL)  # "Signed by the reader" belongs to the image it was signed on
        self.double_reading.show_view(None)
        view = self._case_view() if self.image is not None else self._tell_blind(False)
        if view is not None and view.own is not None:  # the reader's own reading, never another's
            self.stored = view.own
            self.form.set_reading(self.stored.reading)
            self.report.setPlainText(self.stored.report_text)
            self.draft_label.setText(SIGNED_LABEL)
        if not self.blind:  # a blind reader sees none of the model's suggestions either
            self._show_suggestions()
        self._update_buttons()

    def _case_view(self) -> CaseView | None:
        """Read the image's readings again for the reader at the workstation: blind or not, its state, history."""
        try:
            history = self.store.history(instance_key(self.image.meta))
            rule = self.rule()
        except PneumoError as exc:  # an unusable database or rule must not stop the image from opening
            self.history.setText(exc.user_message)
            self.double_reading.show_view(None, exc.user_message)
            return self._tell_blind(False)
        view = case_view(instance_key(self.image.meta), history, self.identity.key(), rule)
        self.double_reading.show_view(view)
        self._show_history([] if view.blind else history, hidden=len(history) if view.blind else 0)
        self._tell_blind(view.blind)
        return view

    def _tell_blind(self, blind: bool) -> None:
        """Say it each time (a new image, a signature, another reader): the window holds or shows the result."""
        self.blind = blind
        self.blind_changed.emit(blind)

    def _reader_changed(self) -> None:
        """Another reader at the workstation: the open image is shown as theirs (blind, or their own reading) —
        unless the form holds entries not yet signed (a reader who types their name last): those stay, and only
        whose reading it would amend, the state and the history follow the new reader."""
        if self.image is None:
            return
        if not self._unsigned_entries():
            self._show_readings()
            return
        view = self._case_view()
        self.stored = None if view is None else view.own
        self._update_buttons()

    def _unsigned_entries(self) -> bool:
        """The form holds something the reader entered that is not the signed reading it shows."""
        shown = None if self.stored is None else replace(self.stored.reading, reader="", read_on="")
        return self.form.entered and self.form.reading() != shown

    def focus_form(self) -> None:
        """The keyboard on the reading form's first field (View > ILO reading form)."""
        self.form.focus_first()

    def set_result(self, result: DiagnosisResult | None) -> None:
        self.result = result
        self._show_suggestions()

    def forget_result(self, message: str) -> None:
        """A new head is active: drop the old one's result, its zone evidence and any measurement still running."""
        self.result, self._evidence_worker = None, None  # a late answer for the old head is dropped
        self.set_evidence(None, message)
        if self.overlay is not None:
            self.overlay.set_picture(None)

    def set_evidence(self, report: ZoneEvidenceReport | None, message: str = "") -> None:
        self.evidence = report
        self.chart.set_report(report, message)
        self._show_suggestions()

    def measure_evidence(self, client: ModelClient | None, result: DiagnosisResult | None,
                         saliency: np.ndarray | None, workers: WorkerSet) -> None:
        """Queue the zone evidence on the model worker; the chart fills in when it is done."""
        if client is None or result is None:
            return
        self.result = result
        self.chart.set_report(None, "Measuring the model's evidence in each zone…")
        worker = Worker(measure_zone_evidence, client, result, saliency)
        self._evidence_worker = worker
        bind(worker, self, finished=self._evidence_done, failed=self._evidence_failed)
        workers.start(worker, model=True)

    @property
    def measuring(self) -> bool:
        return self._evidence_worker is not None

    def _evidence_done(self, worker: Worker, measured: tuple[ZoneEvidenceReport, np.ndarray]) -> None:
        if worker is self._evidence_worker:
            self._evidence_worker = None
            report, picture = measured
            self.set_evidence(report)
            if self.overlay is not None:
                self.overlay.set_picture(picture)

    def _evidence_failed(self, worker: Worker, exc: BaseException) -> None:
        if worker is self._evidence_worker:
            self._evidence_worker = None
            message = exc.user_message if isinstance(exc, PneumoError) else "The zone evidence could not be measured."
            self.set_evidence(None, message)

    def _show_suggestions(self) -> None:
        suggestion = suggestion_of(self.result)  # an ILO head's own zones, else the zones with evidence
        zones = [z.name for z in self.evidence.strongest(min_evidence=EVIDENCE_MIN)] if self.evidence else []
        abnormal = bool(self.result is not None and self.result.decision.flagged)
        self.form.show_suggestions(list(suggestion.zones) if suggestion else zones, abnormal=abnormal)
        self.suggestions.show_suggestion(suggestion)
        self.chart.set_suggestion(suggestion)

    # -- draft, signing, history -------------------------------------------------------------------------
    def current_reading(self) -> IloReading:
        return self.form.reading().signed(self.reader.text(), dt.date.today())

    def make_draft(self) -> None:
        """Fill the report box with the planner's draft from the clues (the form, the model, the image checks)."""
        reading = self.form.reading()
        usable = self.form.entered and not problems(reading, require_signature=False)
        facts = ModelFacts.from_result(self.result) if self.result is not None else None
        if facts is None and not usable:
            show_error(self, PneumoError("Fill in the form consistently (or diagnose the image) before drafting."))
            return
        draft = draft_report(build_clues(facts, self.evidence, reading if usable else None))
        self.report.setPlainText(draft.text)
        self.draft_label.setText(DRAFT_LABEL + ("" if usable else " — no consistent reading entered: model "
                                                                  "suggestions only"))

    def sign_and_save(self) -> StoredReading | None:
        if self.image is None:
            show_error(self, PneumoError("Open an image before signing a reading."))
            return None
        if not self.identity.confirm_signer():
            return None  # someone else sits at the workstation: they type their own name first
        reason = ""
        if self.stored is not None:
            reason = self.ask_reason() or ""
            if not reason.strip():
                return None  # cancelled: the signed reading stays as it was
        model = self.model_answer()
        model = model if model is not None and model.decision.diagnosed else None  # "not diagnosed" suggests nothing
        try:
            stored = self.store.save(instance_key(self.image.meta), self.current_reading(), amendment_reason=reason,
                                     report_text=self.report.toPlainText(), reader_id=self.reader_id.text(),
                                     model_category=None if model is None else model.suggested_grade,
                                     model_flagged=None if model is None else model.decision.flagged,
                                     model_suggestion=model_suggestion(model))  # an ILO head's, apart
        except PneumoError as exc:
            show_error(self, exc)
            return None
        self.stored = stored
        self.identity.remember()
        self._case_view()  # no longer blind; the case's state by the rule (discordant: queued for adjudication)
        self.draft_label.setText(SIGNED_LABEL)
        self._update_buttons()
        self.saved.emit(stored)
        return stored

    def _ask_reason(self) -> str | None:
        text, ok = QInputDialog.getText(self, "Amend the signed reading", "Reason for the amendment:")
        return text if ok else None

    def _show_history(self, history: list[StoredReading], hidden: int = 0) -> None:
        if hidden:
            self.history.setText(f"History hidden while you read blind ({hidden} version{'s' if hidden > 1 else ''}).")
            return
        if not history:
            self.history.setText("No saved reading for this image.")
            return
        lines = [f"v{h.version} {h.saved_at} by {h.reader}" + (f" ({h.reader_id})" if h.reader_id else "")
                 + (f" — {h.amendment_reason}" if h.amendment_reason else "") for h in history]
        self.history.setText("History: " + "; ".join(lines))

    def _update_buttons(self) -> None:
        saved = self.stored is not None
        for button in (self.sr_button, self.pdf_button, self.niosh_button):
            button.setEnabled(saved)
            button.setToolTip("" if saved else "Sign and save the reading first: only a signed reading is exported.")
        self.csv_button.setEnabled(not self.blind)  # every stored reading, this image's first one too
        self.csv_button.setToolTip("Sign your reading first: you read this image blind." if self.blind else "")
        self.sign_button.setText("&Amend and save" if saved else "&Sign and save")

    # -- exports (only the signed reading) ----------------------------------------------------------------
    def export(self, kind: str, path: str | Path) -> Path:
        """Write the signed reading as ``sr``/``pdf``, or every stored reading as ``csv``."""
        if kind == "csv":
            from engine.ilo.csv_rows import write_csv

            if self.blind:
                raise PneumoError("Sign your reading first: the CSV holds every reading, and you read this image "
                                  "blind.")
            return write_csv(path, [s for key in self.store.instance_keys() for s in self.store.history(key)])
        if self.stored is None or self.image is None:
            raise PneumoError("Sign and save the reading first: only a signed reading is exported.")
        text = self.stored.report_text  # the signed text, never the box's unsigned edits
        facts = ModelFacts.from_result(self.result) if self.result is not None else None
        if kind == "sr":
            from engine.ilo.sr import export_reading_sr

            kept = self.stored.model_suggestion  # what the model suggested when the reading was signed
            return export_reading_sr(path, self.image, self.stored.reading, evidence=self.evidence, report_text=text,
                                     not_diagnosed=facts.note() if facts and not facts.diagnosed else "",
                                     suggestion=IloSuggestion.from_json(kept) if kept else None,
                                     reader_id=self.stored.reader_id)
        if kind == "pdf":
            from engine.ilo.pdf import export_reading_pdf

            source = f"image {hash_uid(str(self.image.meta.path))}"  # file names can identify patients
            return export_reading_pdf(path, self.stored.reading, source=source, report_text=text,
                                      model_note=facts.note() if facts else "", reader_id=self.stored.reader_id)
        if kind == "niosh":
            from engine.ilo.niosh_pdf import export_niosh_pdf

            return export_niosh_pdf(path, self.stored.reading, image_key=self.stored.instance_key,
                                    reader_id=self.stored.reader_id)
        raise ValueError(f"unknown export {kind!r}")

    def export_with_dialog(self, kind: str) -> None:
        """Ask where, then ``export``; problems are shown, not raised."""
        filters = {"sr": "DICOM SR (*.dcm)", "pdf": "PDF (*.pdf)", "niosh": "PDF (*.pdf)", "csv": "CSV (*.csv)"}
        name = {"sr": "ilo_reading.dcm", "niosh": "niosh_2_8.pdf"}.get(kind, f"ilo_reading.{kind}")
        path, _ = QFileDialog.getSaveFileName(self, "Export the reading", name, filters[kind])
        if not path:
            return
        try:
            self.export(kind, path)
        except PneumoError as exc:
            show_error(self, exc)
