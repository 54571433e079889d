"""The 2x3 zone chart: the model's evidence in each ILO lung zone, laid out as on the film (the patient's right on
the left; upper zones on top). Colour: occlusion evidence (orange: the zone pushes the score up, blue: down);
text: the probability change and the Grad-CAM share. Titled as model evidence, never as findings.

With an ILO head's suggestion (``engine.ilo.suggestion``) the cells show that head's own answer per zone instead:
the suggested profusion there and the probability of small opacities (>= 1/0), amber by major category, suggested
zones outlined — titled as the model's suggestion, never as a reading.
"""

from __future__ import annotations

from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QColor, QPainter, QPen
from PySide6.QtWidgets import QSizePolicy, QWidget

from engine.ilo.codes import profusion_category
from engine.ilo.suggestion import ZONE_PRESENT, IloSuggestion
from engine.ilo.zone_evidence import ZoneEvidenceReport

TITLE = "Model evidence by zone (not a reading)"
SUGGESTION_TITLE = "Model's suggested profusion by zone (not a reading)"
EVIDENCE_TIP = ("Occlusion evidence: how much the model's probability drops when the zone is blurred out. "
                "Grad-CAM: the zone's share of the saliency map. Model evidence, not a reading.")
SUGGESTION_TIP = ("The ILO head's own answer per zone: its suggested profusion there and the probability of small "
                  "opacities (1/0 or more); suggested zones outlined. A suggestion, not a reading.")
AMBER = ((255, 255, 255), (255, 236, 179), (255, 202, 40), (230, 149, 0))  # by major category 0-3
LEVELS = ("upper", "middle", "lower")


def evidence_colour(value: float, scale: float) -> QColor:
    """White at 0, orange for evidence up to ``scale``, blue for counter-evidence."""
    share = max(-1.0, min(1.0, value / scale)) if scale > 0 else 0.0
    target = (230, 120, 20) if share >= 0 else (40, 110, 220)
    strength = abs(share)
    return QColor(*(round(255 + (t - 255) * strength) for t in target))


class ZoneChart(QWidget):
    def __init__(self) -> None:
        super().__init__()
        self.report: ZoneEvidenceReport | None = None
        self.suggestion: IloSuggestion | None = None
        self.message = "Diagnose the image to see the model's evidence in each zone."
        self.setMinimumSize(220, 170)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.setToolTip(EVIDENCE_TIP)

    def set_report(self, report: ZoneEvidenceReport | None, message: str = "") -> None:
        self.report = report
        self.message = message
        self.update()

    def set_suggestion(self, suggestion: IloSuggestion | None) -> None:
        """An ILO head's per-zone answers (drawn in place of occlusion evidence); None: back to the evidence."""
        self.suggestion = suggestion
        self.setToolTip(SUGGESTION_TIP if suggestion is not None else EVIDENCE_TIP)
        self.update()

    def cell_text(self, name: str) -> str:
        if self.suggestion is not None:
            chance = self.suggestion.zone_probability[name]
            return f"{name.split('_')[1]}\n{self.suggestion.zone_profusion[name]}\nP {chance:.2f}"
        assert self.report is not None
        zone = self.report[name]
        mass = "" if zone.gradcam_mass is None else f"\nGrad-CAM {zone.gradcam_mass:.0%}"
        return f"{name.split('_')[1]}\nΔp {zone.occlusion_evidence:+.3f}{mass}"

    def paintEvent(self, _event) -> None:
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        suggestion = self.suggestion
        painter.drawText(QRectF(0, 0, self.width(), 18), Qt.AlignmentFlag.AlignCenter,
                         SUGGESTION_TITLE if suggestion is not None else TITLE)
        if self.report is None and suggestion is None:
            painter.drawText(QRectF(0, 20, self.width(), self.height() - 20),
                             Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap, self.message)
            return
        scale = 0.0 if self.report is None else max(0.02, max(abs(z.occlusion_evidence) for z in self.report.zones))
        width, height = (self.width() - 12) / 2, (self.height() - 40) / 3
        for column, side in enumerate(("right", "left")):
            painter.drawText(QRectF(4 + column * (width + 4), 20, width, 16), Qt.AlignmentFlag.AlignCenter,
                             f"patient's {side}")
            for row, level in enumerate(LEVELS):
                name = f"{side}_{level}"
                rect = QRectF(4 + column * (width + 4), 38 + row * height, width, height - 3)
                if suggestion is not None:
                    painter.setBrush(QColor(*AMBER[profusion_category(suggestion.zone_profusion[name])]))
                    present = suggestion.zone_probability[name] >= ZONE_PRESENT
                    painter.setPen(QPen(QColor(230, 149, 0), 3) if present else QPen(QColor(90, 90, 90)))
                else:
                    assert self.report is not None
                    painter.setBrush(evidence_colour(self.report[name].occlusion_evidence, scale))
                    painter.setPen(QPen(QColor(90, 90, 90)))
                painter.drawRoundedRect(rect, 4, 4)
                painter.setPen(QColor(20, 20, 20))
                painter.drawText(rect, Qt.AlignmentFlag.AlignCenter, self.cell_text(name))
