"""The diagnosis panel: busy state and cancel, calibrated confidence against the threshold, quality
warnings, the 224x224 model input, the t-SNE map, the emitter's attention — and the reader's verdict."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QRectF, Qt, Signal
from PySide6.QtGui import QColor, QFont, QLinearGradient, QPainter, QPen, QPixmap
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QSizePolicy,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from engine.diagnoser import DiagnosisResult
from engine.tsne_map import ReferenceMap
from viewer.plots import AttentionCanvas, MapCanvas
from viewer.reading_view import to_qimage_grey

ATTENTION_CAPTION = ("Each heatmap: how strongly one diagnosis token reads each encoder depth (columns) in each "
                     "LLM layer (rows), averaged over heads; each row sums to 1.")
ENGINE_CAPTION = "Engine map M_c: how each diagnosis token mixes the encoder depths before the LLM (columns sum to 1)."
MAP_CAPTION = "Where this case falls among the reference cases: neighbours are cases the model sees as similar."


class ConfidenceBar(QWidget):
    """0..1 bar with the operating threshold marked and the case's probability as a pointer."""

    def __init__(self) -> None:
        super().__init__()
        self.probability: float | None = None
        self.threshold = 0.5
        self.setMinimumHeight(34)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)

    def set_values(self, probability: float | None, threshold: float) -> None:
        self.probability, self.threshold = probability, threshold
        self.update()

    def paintEvent(self, _event) -> None:  # noqa: ANN001
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        bar = QRectF(8, 10, self.width() - 16, 12)
        gradient = QLinearGradient(bar.topLeft(), bar.topRight())
        gradient.setColorAt(0.0, QColor(60, 160, 90))
        gradient.setColorAt(max(0.01, min(0.99, self.threshold)), QColor(230, 200, 60))
        gradient.setColorAt(1.0, QColor(200, 50, 50))
        painter.fillRect(bar, gradient)
        x = bar.left() + bar.width() * self.threshold
        painter.setPen(QPen(QColor(20, 20, 20), 2))
        painter.drawLine(int(x), 4, int(x), 28)
        if self.probability is not None:
            px = bar.left() + bar.width() * self.probability
            painter.setBrush(QColor(255, 255, 255))
            painter.setPen(QPen(QColor(0, 0, 0), 1.5))
            painter.drawEllipse(QRectF(px - 6, 10, 12, 12))
        painter.end()


class DiagnosisPanel(QWidget):
    diagnose_requested = Signal(bool)  # allow_flagged
    cancel_requested = Signal()
    review_recorded = Signal(str)  # "accepted" | "overridden"

    def __init__(self) -> None:
        super().__init__()
        layout = QVBoxLayout(self)
        top = QHBoxLayout()
        self.status = QLabel("Open a radiograph to begin.")
        self.status.setWordWrap(True)
        top.addWidget(self.status, 1)
        self.diagnose_button = QPushButton("Diagnose")
        self.diagnose_button.clicked.connect(lambda: self.diagnose_requested.emit(False))
        self.anyway_button = QPushButton("Diagnose anyway")
        self.anyway_button.clicked.connect(lambda: self.diagnose_requested.emit(True))
        self.anyway_button.hide()
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.clicked.connect(self.cancel_requested.emit)
        self.cancel_button.hide()
        for button in (self.diagnose_button, self.anyway_button, self.cancel_button):
            top.addWidget(button)
        layout.addLayout(top)
        self.busy = QProgressBar()
        self.busy.setRange(0, 0)
        self.busy.setMaximumHeight(8)
        self.busy.setTextVisible(False)
        self.busy.hide()
        layout.addWidget(self.busy)

        result_row = QHBoxLayout()
        text_column = QVBoxLayout()
        self.headline = QLabel("—")
        font = QFont()
        font.setPointSize(15)
        font.setBold(True)
        self.headline.setFont(font)
        text_column.addWidget(self.headline)
        self.numbers = QLabel("")
        self.numbers.setWordWrap(True)
        text_column.addWidget(self.numbers)
        self.bar = ConfidenceBar()
        text_column.addWidget(self.bar)
        self.warnings = QLabel("")
        self.warnings.setWordWrap(True)
        self.warnings.setStyleSheet("color: #b35c00")
        text_column.addWidget(self.warnings)
        self.device = QLabel("")
        self.device.setStyleSheet("color: #666")
        text_column.addWidget(self.device)
        review = QHBoxLayout()
        self.accept_button = QPushButton("Accept result")
        self.override_button = QPushButton("Override")
        self.accept_button.clicked.connect(lambda: self.review_recorded.emit("accepted"))
        self.override_button.clicked.connect(lambda: self.review_recorded.emit("overridden"))
        review.addWidget(self.accept_button)
        review.addWidget(self.override_button)
        self.review_note = QLabel("")
        self.review_note.setStyleSheet("color: #2e7d32")
        review.addWidget(self.review_note, 1)
        text_column.addLayout(review)
        text_column.addStretch(1)
        result_row.addLayout(text_column, 1)
        crop_column = QVBoxLayout()
        self.crop = QLabel()
        self.crop.setFixedSize(224, 224)
        self.crop.setStyleSheet("background: #111; border: 1px solid #444")
        self.crop.setAlignment(Qt.AlignmentFlag.AlignCenter)
        crop_column.addWidget(self.crop)
        self.crop_caption = QLabel("Model input: 224×224 lung crop")
        self.crop_caption.setStyleSheet("color: #666")
        crop_column.addWidget(self.crop_caption)
        result_row.addLayout(crop_column)
        layout.addLayout(result_row)

        self.tabs = QTabWidget()
        map_page = QWidget()
        map_layout = QVBoxLayout(map_page)
        self.map = MapCanvas()
        map_layout.addWidget(self.map, 1)
        self.map_caption = QLabel(MAP_CAPTION)
        self.map_caption.setWordWrap(True)
        self.map.hover_text.connect(self.map_caption.setText)
        map_layout.addWidget(self.map_caption)
        self.tabs.addTab(map_page, "t-SNE map")
        attention_page = QWidget()
        attention_layout = QVBoxLayout(attention_page)
        self.attention = AttentionCanvas()
        attention_layout.addWidget(self.attention, 1)
        for caption in (ATTENTION_CAPTION, ENGINE_CAPTION):
            label = QLabel(caption)
            label.setWordWrap(True)
            label.setStyleSheet("color: #555")
            attention_layout.addWidget(label)
        self.tabs.addTab(attention_page, "Emitter attention")
        layout.addWidget(self.tabs, 1)
        self.result: DiagnosisResult | None = None
        self._set_review_enabled(False)

    # -- states -----------------------------------------------------------------------------------------
    def show_busy(self, text: str) -> None:
        self.status.setText(text)
        self.busy.show()
        self.cancel_button.show()
        self.diagnose_button.setEnabled(False)
        self.anyway_button.hide()

    def show_idle(self, text: str) -> None:
        self.status.setText(text)
        self.busy.hide()
        self.cancel_button.hide()
        self.diagnose_button.setEnabled(True)

    def clear(self) -> None:
        self.result = None
        self.headline.setText("—")
        self.numbers.setText("")
        self.warnings.setText("")
        self.device.setText("")
        self.bar.set_values(None, 0.5)
        self.crop.clear()
        self.map.show_message("No case yet")
        self.attention.show_message("No case yet")
        self.review_note.setText("")
        self._set_review_enabled(False)

    def show_problem(self, message: str, *, flagged: bool = False) -> None:
        """A plain message in place of a result (no head installed, unreadable image, flagged image)."""
        self.show_idle(message)
        self.headline.setText("No result")
        self.anyway_button.setVisible(flagged)

    def _set_review_enabled(self, enabled: bool) -> None:
        self.accept_button.setEnabled(enabled)
        self.override_button.setEnabled(enabled)

    # -- results ----------------------------------------------------------------------------------------
    def show_result(self, result: DiagnosisResult, threshold: float, source_names: list[str]) -> None:
        self.result = result
        decision = result.probability >= threshold
        positive = result.labels[result.positive_index]
        negative = next(label for i, label in enumerate(result.labels) if i != result.positive_index)
        self.show_idle("Diagnosis complete.")
        self.headline.setText(f"{positive if decision else negative} — {'flagged' if decision else 'not flagged'}")
        self.headline.setStyleSheet("color: #b71c1c" if decision else "color: #1b5e20")
        source = "the model's" if abs(threshold - result.threshold) < 1e-9 else "your override of the"
        self.numbers.setText(f"Calibrated probability of {positive}: {result.probability:.3f}   |   "
                             f"operating threshold {threshold:.3f} ({source} threshold)")
        self.bar.set_values(result.probability, threshold)
        warnings = [*result.image_flags, *result.quality_flags, *result.warnings]
        self.warnings.setText(("⚠ " + "\n⚠ ".join(warnings)) if warnings else "Lung crop quality: ok")
        self.device.setText(f"Ran on {result.device} · profile {result.profile} · head {result.model_id} · "
                            f"{sum(v for k, v in result.timings_ms.items() if k != 'segmentation_forward'):.0f} ms")
        self.crop.setPixmap(QPixmap.fromImage(to_qimage_grey(result.lung_crop.crop)))
        self.crop_caption.setText("Model input: 224×224 " + ("centred fallback crop" if result.lung_crop.fallback
                                                               else "lung crop"))
        self.attention.show_attention(result.emitter_attention, result.engine_map, source_names)
        self.review_note.setText("")
        self._set_review_enabled(True)

    def show_map(self, reference: ReferenceMap | None, point: np.ndarray | None, message: str = "") -> None:
        if reference is None:
            self.map.show_message(message or "This model has no reference map.")
        else:
            self.map.show_map(reference, point, self.result.embedding if self.result else None)
