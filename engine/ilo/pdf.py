"""A signed ILO reading as a one-page PDF in the layout readers know from the paper form (reportlab).

Sections as on the ILO/NIOSH form: 1 radiograph quality; 2 parenchymal abnormalities (shape/size primary and
secondary, zones R/L x upper/middle/lower, the 12-point profusion grid, large opacities); 3 pleural
abnormalities (plaques by site with calcification, extent and width; costophrenic angles; diffuse thickening);
4 symbols and comments; then the reader and date. Chosen boxes are filled, so the page reads like a marked form.
"""

from __future__ import annotations

import io
from pathlib import Path

from engine.ilo.codes import DIFFUSE_SITES, LARGE_OPACITIES, PLAQUE_SITES, PROFUSION, SYMBOLS, WIDTH
from engine.ilo.form import DiffuseThickening, IloReading, PleuralPlaques, Sides, validate
from engine.notices import DISCLAIMER
from engine.paths import write_atomic

BOX = 13  # side of one choice box, points
INK = (0.1, 0.1, 0.1)
MARK = (0.12, 0.32, 0.62)


class _Page:
    """A cursor over a reportlab canvas: rows of labelled choice boxes, top to bottom."""

    def __init__(self, canvas, width: float, height: float) -> None:
        self.c, self.width, self.y = canvas, width, height - 40
        self.left = 36

    def title(self, text: str, size: int = 13) -> None:
        self.c.setFont("Helvetica-Bold", size)
        self.c.drawString(self.left, self.y, text)
        self.y -= size + 6

    def section(self, text: str) -> None:
        self.y -= 4
        self.c.setFillColorRGB(0.88, 0.9, 0.94)
        self.c.rect(self.left - 4, self.y - 4, self.width - 2 * self.left + 8, 16, stroke=0, fill=1)
        self.c.setFillColorRGB(*INK)
        self.c.setFont("Helvetica-Bold", 10)
        self.c.drawString(self.left, self.y, text)
        self.y -= 20

    def choices(self, label: str, options: list[str], chosen: set[str], *, x: float | None = None,
                label_width: float = 150, advance: bool = True) -> None:
        """``label`` then one box per option, filled when chosen."""
        c = self.c
        x = self.left if x is None else x
        c.setFont("Helvetica", 8.5)
        c.drawString(x, self.y, label)
        cx = x + label_width
        for option in options:
            width = max(BOX, c.stringWidth(option, "Helvetica", 8) + 6)
            if option in chosen:
                c.setFillColorRGB(*MARK)
                c.rect(cx, self.y - 3, width, BOX, stroke=1, fill=1)
                c.setFillColorRGB(1, 1, 1)
            else:
                c.setFillColorRGB(*INK)
                c.rect(cx, self.y - 3, width, BOX, stroke=1, fill=0)
            c.setFont("Helvetica", 8)
            c.drawCentredString(cx + width / 2, self.y, option)
            c.setFillColorRGB(*INK)
            cx += width + 3
        if advance:
            self.y -= BOX + 5

    def text(self, label: str, value: str, *, width_chars: int = 110) -> None:
        self.c.setFont("Helvetica-Bold", 8.5)
        self.c.drawString(self.left, self.y, label)
        self.c.setFont("Helvetica", 8.5)
        words, line, lines = value.split(), "", []
        for word in words:
            if len(line) + len(word) + 1 > width_chars:
                lines.append(line)
                line = word
            else:
                line = f"{line} {word}".strip()
        lines.append(line)
        for row in lines[:6] or [""]:
            self.c.drawString(self.left + 110, self.y, row)
            self.y -= 11
        self.y -= 2


def _sides(value: Sides) -> set[str]:
    return {side for side, on in (("R", value.right), ("L", value.left)) if on} or {"0"}


def _pleural_rows(page: _Page, title: str, short: str, record: PleuralPlaques | DiffuseThickening,
                  sites: dict[str, str]) -> None:
    """Sites with their calcification, then extent and width per side (3A plaques, 3C diffuse thickening)."""
    for site, words in sites.items():
        page.choices(f"{title}: {words.split(' (')[0]}", ["0", "R", "L"], _sides(record.sites.get(site, Sides())),
                     label_width=190, advance=False)
        page.choices("calcified", ["0", "R", "L"], _sides(record.calcification.get(site, Sides())),
                     x=page.left + 290, label_width=50)
    for name, options, right, left in (("extent", ["0", "1", "2", "3"], str(record.extent_right),
                                        str(record.extent_left)),
                                       ("width", ["-", *WIDTH], record.width_right or "-", record.width_left or "-")):
        page.choices(f"{short} {name}  R", options, {right}, advance=False)
        page.choices("L", options, {left}, x=page.left + 290, label_width=20)


def render_reading_pdf(reading: IloReading, *, source: str = "", report_text: str = "") -> bytes:
    """The one-page form as PDF bytes."""
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfgen.canvas import Canvas

    validate(reading)
    buffer = io.BytesIO()
    width, height = A4
    canvas = Canvas(buffer, pagesize=A4, pageCompression=1)
    canvas.setTitle("ILO classification of a chest radiograph")
    page = _Page(canvas, width, height)
    page.title("ILO International Classification of Radiographs of Pneumoconioses (2022) - reading")
    if source:
        page.text("Radiograph", source)

    page.section("1  RADIOGRAPH QUALITY")
    page.choices("Quality", ["1", "2", "3", "4"], {str(reading.quality)}, advance=False)
    page.c.setFont("Helvetica", 8.5)
    page.c.drawString(page.left + 260, page.y, f"Comment: {reading.quality_comment or '-'}"[:70])
    page.y -= BOX + 5

    small = reading.small
    page.section("2  PARENCHYMAL ABNORMALITIES")
    page.choices("2A Any consistent with pneumoconiosis?", ["yes", "no"], {"yes" if reading.parenchymal else "no"},
                 label_width=190)
    page.choices("2B Shape/size  primary", ["p", "q", "r", "s", "t", "u"], {small.primary}, advance=False)
    page.choices("secondary", ["p", "q", "r", "s", "t", "u"], {small.secondary}, x=page.left + 290, label_width=50)
    zones = set(small.zones)
    for level in ("upper", "middle", "lower"):
        page.choices(f"Zones - {level}", ["R", "L"], {s[0].upper() for s in ("right", "left")
                                                      if f"{s}_{level}" in zones}, label_width=150)
    for row in range(4):
        page.choices("Profusion" if row == 0 else "", list(PROFUSION[row * 3:row * 3 + 3]), {small.profusion})
    page.choices("2C Large opacities", list(LARGE_OPACITIES), {reading.large})

    page.section("3  PLEURAL ABNORMALITIES")
    page.choices("3 Any consistent with pneumoconiosis?", ["yes", "no"], {"yes" if reading.pleural else "no"},
                 label_width=190)
    _pleural_rows(page, "3A Plaques", "Plaque", reading.plaques, PLAQUE_SITES)
    page.choices("3B Costophrenic angle obliteration", ["0", "R", "L"], _sides(reading.costophrenic),
                 label_width=190)
    _pleural_rows(page, "3C Diffuse thickening", "Diffuse", reading.diffuse, DIFFUSE_SITES)

    page.section("4  SYMBOLS AND COMMENTS")
    page.choices("4A Any other abnormalities?", ["yes", "no"], {"yes" if reading.other_abnormalities else "no"},
                 label_width=190)
    symbols = list(SYMBOLS)
    for row in range(0, len(symbols), 14):
        page.choices("Symbols" if row == 0 else "", symbols[row:row + 14], set(reading.symbols), label_width=60)
    page.text("4C Comments", reading.comments or "-")
    if report_text.strip():
        page.text("Reader's report", report_text)

    page.section("READER")
    page.text("Reader", reading.reader)
    page.text("Date of reading", reading.read_on)
    canvas.setFont("Helvetica-Oblique", 7.5)
    canvas.drawString(page.left, 24, DISCLAIMER)
    canvas.showPage()
    canvas.save()
    return buffer.getvalue()


def export_reading_pdf(path: str | Path, reading: IloReading, *, source: str = "", report_text: str = "") -> Path:
    write_atomic(Path(path), render_reading_pdf(reading, source=source, report_text=report_text))
    return Path(path)
