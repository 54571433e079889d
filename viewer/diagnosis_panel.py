"""The diagnosis panel: busy state and cancel, calibrated confidence against the operating threshold, quality
warnings, the 224x224 model input, the t-SNE map, the emitter's attention — and the reader's verdict.

Layout only: the main window runs the model in a worker and hands the results here.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QRectF, Qt, Signal
from PySide6.QtGui import QColor, QFont, QLinearGradient, QPainter, QPen, QPixmap
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QSplitter,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from engine.decision import ThresholdSource
from engine.flags import can_diagnose_anyway, messages
from engine.reference_map import ReferenceMap
from engine.result import DiagnosisResult
from viewer.plots import AttentionCanvas, MapCanvas
from viewer.reading_view import to_qimage_grey

ATTENTION_CAPTION = ("Heatmaps: how strongly each diagnosis token reads each encoder depth (columns) in each LLM "
                     "layer (rows), averaged over heads; with the information-emitter mask each row sums to 1.")
ENGINE_CAPTION = ("Token-engine map M_c: how much of each encoder depth (rows) each diagnosis token is made of "
                  "before the LLM; each column sums to 1.")
MAP_CAPTION = ("Where this case falls among the model's reference cases; neighbours are cases the model "
               "represents alike. Hover the star for its nearest reference cases.")
CROP_SIDE = 200
# Warnings are as loud as the verdict: same weight, a filled background.
MAP_MIN_HEIGHT = 240  # the t-SNE map / attention tabs keep at least this much when a result needs room
CAUTION_STYLE = "background:#fff3e0; color:#8a4b00; font-weight:bold; padding:3px;"


def crop_caption(result: DiagnosisResult) -> str:
    """What the thumbnail is: the crop the model read, or (an ILO head reads the six zones of the full film) where."""
    if result.ilo is not None:
        return ("Lungs found (fallback: centred box)" if result.lung_crop.fallback else "Lungs found") + \
            " · model input: the six zones at full resolution"
    side = result.lung_crop.crop.shape[0]
    return f"Model input: {side}×{side} " + ("centred fallback crop (lungs not found)" if result.lung_crop.fallback
                                             else "lung crop")


class ConfidenceBar(QWidget):
    """0..1 scale with the operating threshold marked and the case's calibrated probability as a pointer."""

    def __init__(self) -> None:
        super().__init__()
        self.probability: float | None = None
        self.threshold = 0.5
        self.setMinimumHeight(46)
        self.setMinimumWidth(180)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)

    def set_values(self, probability: float | None, threshold: float) -> None:
        self.probability, self.threshold = probability, threshold
        self.setToolTip("" if probability is None else
                        f"probability {probability:.3f}; threshold {threshold:.3f}; at or above the threshold the "
                        "case is flagged")
        self.update()

    def paintEvent(self, _event) -> None:
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        bar = QRectF(10, 12, self.width() - 20, 10)
        gradient = QLinearGradient(bar.topLeft(), bar.topRight())
        gradient.setColorAt(0.0, QColor(60, 160, 90))
        gradient.setColorAt(max(0.01, min(0.99, self.threshold)), QColor(230, 200, 60))
        gradient.setColorAt(1.0, QColor(200, 50, 50))
        painter.fillRect(bar, gradient)
        font = QFont()
        font.setPointSize(7)
        painter.setFont(font)
        painter.setPen(QColor(90, 90, 90))
        painter.drawText(QRectF(bar.left() - 10, 26, 30, 14), Qt.AlignmentFlag.AlignCenter, "0")
        painter.drawText(QRectF(bar.right() - 20, 26, 30, 14), Qt.AlignmentFlag.AlignCenter, "1")
        x = bar.left() + bar.width() * self.threshold
        painter.setPen(QPen(QColor(20, 20, 20), 2))
        painter.drawLine(int(x), 6, int(x), 28)
        painter.drawText(QRectF(x - 60, 28, 120, 14), Qt.AlignmentFlag.AlignCenter, f"threshold {self.threshold:.3f}")
        if self.probability is not None:
            px = bar.left() + bar.width() * min(1.0, max(0.0, self.probability))
            painter.setBrush(QColor(255, 255, 255))
            painter.setPen(QPen(QColor(0, 0, 0), 1.5))
            painter.drawEllipse(QRectF(px - 6, 11, 12, 12))
        painter.end()


class DiagnosisPanel(QWidget):
    diagnose_requested = Signal(bool)  # allow_flagged
    cancel_requested = Signal()
    review_recorded = Signal(str)  # "accepted" | "overridden"
    reveal_requested = Signal()  # read first: the reader asks for the held result
    result_changed = Signal()  # the result shown changed (cleared, new, decided again): exports follow it

    def __init__(self) -> None:
        super().__init__()
        self.setMinimumWidth(430)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 4, 6, 4)
        top = QHBoxLayout()
        self.status = QLabel("Open a radiograph to begin.")
        self.status.setWordWrap(True)
        self.status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        top.addWidget(self.status, 1)
        self.diagnose_button = QPushButton("Diagnose")
        self.diagnose_button.setToolTip("Run the model on this image (Ctrl+D)")
        self.diagnose_button.clicked.connect(lambda: self.diagnose_requested.emit(False))
        self.anyway_button = QPushButton("Diagnose anyway")
        self.anyway_button.setToolTip("Have the model read this held-back case at your request; the result says "
                                      "it was forced and the reason stays on it")
        self.anyway_button.clicked.connect(self.diagnose_anyway)
        self.anyway_button.hide()
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.clicked.connect(self.cancel_requested.emit)
        self.cancel_button.hide()
        self.reveal_button = QPushButton("Show AI result (A)")
        self.reveal_button.setToolTip("Read first: the model has run; its result is shown when you ask (key A)")
        self.reveal_button.clicked.connect(self.reveal_requested.emit)
        self.reveal_button.hide()
        self.has_image = False  # Diagnose stays disabled until an image is open
        self.blind_note = ""  # a blind double reading: why the result waits (for a signature, not a key)
        for button in (self.reveal_button, self.diagnose_button, self.anyway_button, self.cancel_button):
            top.addWidget(button, 0, Qt.AlignmentFlag.AlignTop)
        layout.addLayout(top)
        self.busy = QProgressBar()
        self.busy.setRange(0, 0)
        self.busy.setMaximumHeight(6)
        self.busy.setTextVisible(False)
        self.busy.hide()
        layout.addWidget(self.busy)

        result_row = QHBoxLayout()
        text_column = QVBoxLayout()
        text_column.setSpacing(3)
        self.headline = QLabel("—")
        font = QFont()
        font.setPointSize(14)
        font.setBold(True)
        self.headline.setFont(font)
        self.headline.setWordWrap(True)
        text_column.addWidget(self.headline)
        self.numbers = QLabel("")
        self.numbers.setWordWrap(True)
        self.numbers.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        text_column.addWidget(self.numbers)
        self.bar = ConfidenceBar()
        text_column.addWidget(self.bar)
        self.intended_use = QLabel("")  # the head's classes are only meaningful for the use it was made for
        self.intended_use.setWordWrap(True)
        self.intended_use.setStyleSheet("color: #555")
        text_column.addWidget(self.intended_use)
        self.warnings = QLabel("")
        self.warnings.setWordWrap(True)
        self.domain = QLabel("")  # filled when the case is placed among the reference cases
        self.domain.setWordWrap(True)
        self.device = QLabel("")
        self.device.setWordWrap(True)
        self.device.setStyleSheet("color: #666")
        review = QHBoxLayout()
        self.accept_button = QPushButton("Accept result")
        self.override_button = QPushButton("Override")
        self.accept_button.setToolTip("Record that you agree with the decision (audit log, no patient data)")
        self.override_button.setToolTip("Record that you reverse the decision (audit log, no patient data)")
        self.accept_button.clicked.connect(lambda: self.review_recorded.emit("accepted"))
        self.override_button.clicked.connect(lambda: self.review_recorded.emit("overridden"))
        review.addWidget(self.accept_button)
        review.addWidget(self.override_button)
        review.addStretch(1)
        self.review_note = QLabel("")
        self.review_note.setWordWrap(True)
        self.review_note.setStyleSheet("color: #2e7d32")
        text_column.addStretch(1)
        result_row.addLayout(text_column, 1)
        crop_column = QVBoxLayout()
        crop_column.setSpacing(2)
        self.crop = QLabel()
        self.crop.setFixedSize(CROP_SIDE, CROP_SIDE)
        self.crop.setFrameShape(QFrame.Shape.Box)
        self.crop.setStyleSheet("background: #111; color: #999")
        self.crop.setAlignment(Qt.AlignmentFlag.AlignCenter)
        crop_column.addWidget(self.crop)
        self.crop_caption = QLabel("Model input (lung crop)")
        self.crop_caption.setStyleSheet("color: #666")
        self.crop_caption.setWordWrap(True)
        self.crop_caption.setMaximumWidth(CROP_SIDE)
        crop_column.addWidget(self.crop_caption)
        crop_column.addStretch(1)
        result_row.addLayout(crop_column)
        # The warnings span the panel's width (beside the crop they were twice as tall), and the result scrolls
        # rather than clips: two warnings set as large as the headline can outgrow the panel.
        result_area = QWidget()
        result_layout = QVBoxLayout(result_area)
        result_layout.setContentsMargins(0, 0, 0, 0)
        result_layout.setSpacing(3)
        result_layout.addLayout(result_row)
        for widget in (self.warnings, self.domain, self.device):
            result_layout.addWidget(widget)
        result_layout.addLayout(review)
        result_layout.addWidget(self.review_note)
        result_layout.addStretch(1)
        self.result_scroll = QScrollArea()
        self.result_scroll.setWidget(result_area)
        self.result_scroll.setWidgetResizable(True)
        self.result_scroll.setFrameShape(QFrame.Shape.NoFrame)
        self.result_scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)

        self.tabs = QTabWidget()
        map_page = QWidget()
        map_layout = QVBoxLayout(map_page)
        map_layout.setContentsMargins(4, 4, 4, 4)
        self.map = MapCanvas()
        map_layout.addWidget(self.map, 1)
        self.map_caption = QLabel(MAP_CAPTION)
        self.map_caption.setWordWrap(True)
        self.map_caption.setStyleSheet("color: #555")
        self.map.hover_text.connect(self.map_caption.setText)
        map_layout.addWidget(self.map_caption)
        self.tabs.addTab(map_page, "t-SNE map")
        attention_page = QWidget()
        attention_layout = QVBoxLayout(attention_page)
        attention_layout.setContentsMargins(4, 4, 4, 4)
        self.attention = AttentionCanvas()
        attention_layout.addWidget(self.attention, 1)
        self.attention_captions = []
        for caption in (ATTENTION_CAPTION, ENGINE_CAPTION):
            label = QLabel(caption)
            label.setWordWrap(True)
            label.setStyleSheet("color: #555")
            attention_layout.addWidget(label)
            self.attention_captions.append(label)
        self.tabs.addTab(attention_page, "Emitter attention")
        self.split = QSplitter(Qt.Orientation.Vertical)  # the reader can give the map or the result more room
        self.split.addWidget(self.result_scroll)
        self.split.addWidget(self.tabs)
        self.split.setChildrenCollapsible(False)
        self.split.setStretchFactor(0, 1)
        self.split.setStretchFactor(1, 1)
        layout.addWidget(self.split, 1)
        self.result: DiagnosisResult | None = None
        self.threshold: float | None = None
        self.source_names: list[str] = []
        self._set_review_enabled(False)
        self.clear()

    # -- states -----------------------------------------------------------------------------------------
    def show_busy(self, text: str) -> None:
        self.status.setText(text)
        self.status.setStyleSheet("")
        self.busy.show()
        self.cancel_button.show()
        self.diagnose_button.setEnabled(False)
        self.anyway_button.hide()

    def show_idle(self, text: str) -> None:
        self.status.setText(text)
        self.status.setStyleSheet("")
        self.busy.hide()
        self.cancel_button.hide()
        self.diagnose_button.setEnabled(self.has_image)
        if self.result is not None:  # a held-back result keeps its way out once the map and saliency are in
            decision = self.result.decision
            self.anyway_button.setVisible(not decision.diagnosed and can_diagnose_anyway(decision.reasons))

    def diagnose_anyway(self) -> None:
        """The reader asks for a verdict on a held-back case: the old "Not diagnosed" leaves the panel at once."""
        self.clear()
        self.headline.setText("Diagnosing at the reader's request…")
        self.headline.setStyleSheet("color: #555")
        self.diagnose_requested.emit(True)

    def done_text(self) -> str:
        """The status line once a diagnosis has finished."""
        if self.result is None:
            return "Done."
        if not self.result.decision.diagnosed:
            return ("Held back: no score is shown (the reason is below)." + (
                " Press Diagnose anyway to have the model read it at your request."
                if can_diagnose_anyway(self.result.decision.reasons) else ""))
        return "Diagnosis complete — review the image and the result."

    def show_held(self) -> None:
        """Read first: the result is in but not shown until the reader asks."""
        self.show_idle(self.blind_note
                       or "The AI result is ready. Read the image first, then press Show AI result (A).")
        self.headline.setText("AI result held back — read the image first")
        self.headline.setStyleSheet("color: #555")
        self.reveal_button.setVisible(not self.blind_note)

    def set_blind_note(self, text: str) -> None:
        """A blind double reading: why a held result waits (for the reader's signature, so no Show AI result button);
        "" when the reading is not blind."""
        self.blind_note = text

    def hide_reveal(self) -> None:
        """Read first: the reader has asked for the result; the Show AI result button goes."""
        self.reveal_button.hide()

    def show_review_note(self, text: str) -> None:
        """Under the review buttons: what was recorded (cleared with each new result)."""
        self.review_note.setText(text)

    def clear(self) -> None:
        """No result (a new image is opening)."""
        self.result = None
        self.headline.setText("—")
        self.headline.setStyleSheet("")
        self.numbers.setText("")
        for box in (self.warnings, self.domain):  # no empty amber boxes while nothing is shown
            _say(box, "")
        self.device.setText("")
        self.bar.set_values(None, 0.5)
        self.bar.hide()
        self.crop.clear()
        self.crop.setText("no crop yet")
        self.crop_caption.setText("Model input (lung crop)")
        self.map.show_message("No case yet")
        self.map_caption.setText(MAP_CAPTION)
        self.attention.show_message("No case yet")
        self.review_note.setText("")
        self.anyway_button.hide()
        self.reveal_button.hide()
        self.diagnose_button.setEnabled(self.has_image)
        self._set_review_enabled(False)
        self.result_changed.emit()

    def show_problem(self, message: str, *, flagged: bool = False) -> None:
        """A plain message in place of a result (no head installed, unreadable image, flagged image).

        No numbers are shown: nothing is made up when the model could not run.
        """
        self.show_idle(message)
        self.status.setStyleSheet("color: #b00020")
        self.headline.setText("Not diagnosed" if flagged else "No result")
        self.headline.setStyleSheet("color: #555")
        self.anyway_button.setVisible(flagged)
        if self.result is None:
            self.map.show_message("No result to place on the map.")
            self.map_caption.setText("")
            self.attention.show_message("No result.")

    def _set_review_enabled(self, enabled: bool) -> None:
        self.accept_button.setEnabled(enabled)
        self.override_button.setEnabled(enabled)

    # -- results ----------------------------------------------------------------------------------------
    def show_result(self, result: DiagnosisResult, source_names: list[str]) -> None:
        """The model's output, with the decision it carries (``engine.decision``; the threshold in force)."""
        self.source_names = list(source_names)
        self.show_decision(result)
        self.show_idle(self.done_text())
        model_ms = sum(v for k, v in result.timings_ms.items() if k != "segmentation_forward")
        self.device.setText(f"Ran on {result.device} · profile {result.profile} · head {result.model_id[:12]} · "
                            f"{model_ms:.0f} ms")
        crop = QPixmap.fromImage(to_qimage_grey(result.lung_crop.crop))
        self.crop.setPixmap(crop.scaled(CROP_SIDE - 2, CROP_SIDE - 2, Qt.AspectRatioMode.KeepAspectRatio,
                                        Qt.TransformationMode.SmoothTransformation))
        self.crop_caption.setText(crop_caption(result))
        self.attention.show_attention(result.emitter_attention, result.token_mixing, self.source_names)
        self.review_note.setText("")
        self._set_review_enabled(result.decision.diagnosed)

    def show_decision(self, result: DiagnosisResult) -> None:
        """Headline, numbers, bar and warnings for ``result`` (e.g. again after a threshold change)."""
        self.result = result
        decision = result.decision
        self.threshold = decision.threshold
        positive = result.positive_label
        self.headline.setText(headline(result))
        # What the software knows is a score against a threshold: said in plain colours, no alarm red.
        self.headline.setStyleSheet("color: #555" if not decision.diagnosed else
                                    "color: #8a1c1c" if decision.flagged else "color: #1d4f2a")
        source = {
            ThresholdSource.OVERRIDE: f"your override; the model's is {result.model_threshold:.3f}",
            ThresholdSource.OPERATING_POINT: f"the operating point chosen in Settings; the model's default is "
                                             f"{result.model_threshold:.3f}",
        }.get(decision.threshold_source, "the model's")
        numbers = (f"Calibrated probability of {positive}: <b>{result.probability:.3f}</b><br>"
                   f"Operating threshold: <b>{decision.threshold:.3f}</b> ({source})")
        anyway = not decision.diagnosed and can_diagnose_anyway(decision.reasons)
        self.anyway_button.setVisible(anyway)
        if not decision.diagnosed:  # held back: no score, no gauge, until the reader asks for a verdict
            numbers = "No score is shown for a case held back." + (
                " <b>Diagnose anyway</b> has the model read it at your request." if anyway else "")
        elif result.grades and result.grade_probabilities:  # an ordinal head: its suggested grade and distribution
            spread = ", ".join(f"{grade}: {p:.0%}" for grade, p in zip(result.grades, result.grade_probabilities,
                                                                        strict=True))
            numbers += f"<br>Suggested grade: <b>{result.suggested_grade}</b> ({spread})"
        self.numbers.setText(numbers)
        self.bar.set_values(result.probability if decision.diagnosed else None, decision.threshold)
        self.bar.setVisible(decision.diagnosed)
        flags = [flag for flag in result.flags if flag.code != "out_of_domain"]
        if not decision.diagnosed:
            _say(self.warnings, "⚠ " + decision.describe(), CAUTION_STYLE, self.headline.font())
        elif flags:
            _say(self.warnings, "⚠ " + "\n⚠ ".join(messages(flags)), CAUTION_STYLE, self.headline.font())
        else:
            _say(self.warnings, "✓ Lung crop quality check passed", "color: #2e7d32")
        domain = [flag for flag in result.flags if flag.code == "out_of_domain"]
        if domain:  # as prominent as the verdict (same font): the score may mean little here
            _say(self.domain, "⚠ " + domain[0].message[0].upper() + domain[0].message[1:], CAUTION_STYLE,
                 self.headline.font())
            self.domain.setToolTip("Nearest-neighbour distance in the model's embedding space, ranked against the "
                                   "reference cases' own. A hint, not a guarantee either way.")
        else:
            _say(self.domain, "")
            self.domain.setToolTip("")
        self.fit_result()
        self.result_changed.emit()

    def fit_result(self) -> None:
        """Give the result all the height it needs (the map keeps ``MAP_MIN_HEIGHT``): warnings hidden below a
        scroll would be no warnings at all."""
        total = sum(self.split.sizes())
        layout = self.result_scroll.widget().layout()
        if total <= 0 or layout is None:
            return
        width = self.result_scroll.viewport().width()
        needed = layout.totalHeightForWidth(width) if layout.hasHeightForWidth() else layout.sizeHint().height()
        top = min(max(needed, 1), max(total - MAP_MIN_HEIGHT, total // 3))
        self.split.setSizes([top, total - top])

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        if self.result is not None:
            self.fit_result()

    def set_intended_use(self, text: str) -> None:
        """The installed head's intended use, shown under every result."""
        self.intended_use.setText(f"Intended use of this head: {text}" if text else "")

    def show_map(self, reference: ReferenceMap | None, point: np.ndarray | None, message: str = "",
                 nearest: np.ndarray | None = None) -> None:
        if reference is None:
            self.map.show_message(message or "No reference map: this model has no t-SNE map of reference cases.")
            self.map_caption.setText("")
        else:
            self.map.show_map(reference, point, nearest)
            self.map_caption.setText(self.map.nearest_text() or MAP_CAPTION)


def headline(result: DiagnosisResult) -> str:
    """The panel's first line: ``Decision.headline`` with the head's own class name."""
    return result.decision.headline(result.positive_label, result.probability)


def _say(box: QLabel, text: str, style: str = "", font: QFont | None = None) -> None:
    """A warning line: shown with its text and style, or hidden when it has nothing to say (an empty label
    with the amber style was an empty amber box)."""
    box.setText(text)
    box.setStyleSheet(style if text else "")
    box.setFont(font if font is not None and text else QFont())
    box.setVisible(bool(text))
