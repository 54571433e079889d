"""A signed ILO reading as a one-page PDF in the layout readers know from the paper form (reportlab).

Sections as on the ILO/NIOSH form: 1 radiograph quality; 2 parenchymal abnormalities (shape/size primary and
secondary, zones R/L x upper/middle/lower, the 12-point profusion grid, large opacities); 3 pleural
abnormalities (plaques by site with calcification, extent and width; costophrenic angles; diffuse thickening);
4 symbols and comments; then the reader and date. Chosen boxes are filled, so the page reads like a marked form;
a question left unanswered (profusion and large opacities under 2A "no") fills none. Text is wrapped whole, never
cut: a long report continues on a second page. The model's part, when given, is a separate, labelled section.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path

from engine.ilo.codes import DIFFUSE_SITES, LARGE_OPACITIES, PLAQUE_SITES, PROFUSION, QUALITY_REASONS, SYMBOLS, WIDTH
from engine.ilo.form import DiffuseThickening, IloReading, PleuralPlaques, Sides, validate
from engine.notices import DISCLAIMER
from engine.paths import write_atomic

BOX = 13  # side of one choice box, points
INK = (0.1, 0.1, 0.1)
MARK = (0.12, 0.32, 0.62)
BOTTOM = 44  # lowest baseline of the page's content, above the footer
TEXT_INDENT = 110  # where a text row's value starts, right of its label


class _Page:
    """A cursor over a reportlab canvas: rows of labelled choice boxes, top to bottom, onto a new page when full."""

    def __init__(self, canvas, width: float, height: float) -> None:
        self.c, self.width, self.height, self.y = canvas, width, height, height - 40
        self.left = 36
        self.pages = 1

    def footer(self, *, continued: bool = False) -> None:
        self.c.setFont("Helvetica-Oblique", 7.5)
        self.c.setFillColorRGB(*INK)
        self.c.drawString(self.left, 24, DISCLAIMER)
        if continued or self.pages > 1:  # page numbers only on a reading that takes more than one page
            self.c.drawRightString(self.width - self.left, 24,
                                   f"page {self.pages}" + (" - continued overleaf" if continued else ""))

    def need(self, height: float) -> bool:
        """Start a new page when ``height`` points do not fit above the footer; True when it did."""
        if self.y - height >= BOTTOM:
            return False
        self.footer(continued=True)
        self.c.showPage()
        self.pages += 1
        self.y = self.height - 40
        self.c.setFont("Helvetica-Oblique", 8)
        self.c.setFillColorRGB(*INK)
        self.c.drawString(self.left, self.y, "ILO classification of a chest radiograph - reading (continued)")
        self.y -= 18
        return True

    def title(self, text: str, size: int = 13) -> None:
        self.need(size + 6)
        self.c.setFont("Helvetica-Bold", size)
        self.c.drawString(self.left, self.y, text)
        self.y -= size + 6

    def section(self, text: str) -> None:
        self.need(24 + BOX + 5)  # a section title never ends a page alone
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
        if x is None:  # a row's first choices; a second group on the same row (``x``) shares its line
            self.need(BOX + 5)
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

    def text(self, label: str, value: str) -> None:
        """``label`` and the whole of ``value``, wrapped to the page's width (paragraphs kept), over as many pages
        as it takes."""
        lines = wrap(value, lambda line: self.c.stringWidth(line, "Helvetica", 8.5),
                     self.width - 2 * self.left - TEXT_INDENT)
        for index, row in enumerate(lines):
            if self.need(11) or index == 0:  # the label again at the top of a continued page
                self.c.setFont("Helvetica-Bold", 8.5)
                self.c.drawString(self.left, self.y, label if index == 0 else f"{label} (cont.)")
            self.c.setFont("Helvetica", 8.5)
            self.c.drawString(self.left + TEXT_INDENT, self.y, row)
            self.y -= 11
        self.y -= 2


def wrap(text: str, width_of: Callable[[str], float], width: float) -> list[str]:
    """``text`` as lines no wider than ``width`` (by ``width_of``), breaking at spaces, keeping its paragraphs; a
    word wider than a line is split. Every character of ``text`` but the whitespace is kept."""
    lines: list[str] = []
    for paragraph in text.splitlines() or [""]:
        line = ""
        for word in paragraph.split():
            while width_of(word) > width:  # a long token (a URL, a path): split it where it overflows
                cut = max(1, next((i for i in range(len(word), 0, -1) if width_of(word[:i]) <= width), 1))
                if line:
                    lines.append(line)
                    line = ""
                lines.append(word[:cut])
                word = word[cut:]
            candidate = f"{line} {word}" if line else word
            if line and width_of(candidate) > width:
                lines.append(line)
                line = word
            else:
                line = candidate
        lines.append(line)
    return lines


def _answer(value: object) -> set[str]:
    """The box to fill for an answer: none when the reader left the question unanswered."""
    if value is None:
        return set()
    if isinstance(value, bool):
        return {"yes" if value else "no"}
    return {str(value)}


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


def render_reading_pdf(reading: IloReading, *, source: str = "", report_text: str = "", model_note: str = "",
                       reader_id: str = "") -> bytes:
    """The form as PDF bytes: one page, a second when the texts need it. ``model_note`` is the model's part (its
    score against the operating point, or "not diagnosed" and why), printed apart from the reading; ``reader_id``
    the programme's id for the reader, printed under the name."""
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
    page.choices("Quality", ["1", "2", "3", "4"], _answer(reading.quality))
    if reading.quality_reasons:  # the NIOSH form's boxes, when the reader ticked any
        page.text("Quality reasons", ", ".join(QUALITY_REASONS[code] for code in reading.quality_reasons))
    page.text("Quality comment", reading.quality_comment or "-")

    small = reading.small
    page.section("2  PARENCHYMAL ABNORMALITIES")
    page.choices("2A Any consistent with pneumoconiosis?", ["yes", "no"], _answer(reading.parenchymal),
                 label_width=190)
    page.choices("2B Shape/size  primary", ["p", "q", "r", "s", "t", "u"], {small.primary}, advance=False)
    page.choices("secondary", ["p", "q", "r", "s", "t", "u"], {small.secondary}, x=page.left + 290, label_width=50)
    zones = set(small.zones)
    for level in ("upper", "middle", "lower"):
        page.choices(f"Zones - {level}", ["R", "L"], {s[0].upper() for s in ("right", "left")
                                                      if f"{s}_{level}" in zones}, label_width=150)
    for row in range(4):
        page.choices("Profusion" if row == 0 else "", list(PROFUSION[row * 3:row * 3 + 3]),
                     _answer(small.profusion))
    page.choices("2C Large opacities", list(LARGE_OPACITIES), _answer(reading.large))

    page.section("3  PLEURAL ABNORMALITIES")
    page.choices("3 Any consistent with pneumoconiosis?", ["yes", "no"], _answer(reading.pleural),
                 label_width=190)
    _pleural_rows(page, "3A Plaques", "Plaque", reading.plaques, PLAQUE_SITES)
    page.choices("3B Costophrenic angle obliteration", ["0", "R", "L"], _sides(reading.costophrenic),
                 label_width=190)
    _pleural_rows(page, "3C Diffuse thickening", "Diffuse", reading.diffuse, DIFFUSE_SITES)

    page.section("4  SYMBOLS AND COMMENTS")
    page.choices("4A Any other abnormalities?", ["yes", "no"], _answer(reading.other_abnormalities),
                 label_width=190)
    symbols = list(SYMBOLS)
    per_row = (len(symbols) + 1) // 2  # two rows, as on the paper form
    for row in range(0, len(symbols), per_row):
        page.choices("Symbols" if row == 0 else "", symbols[row:row + per_row], set(reading.symbols),
                     label_width=60)
    page.text("4C Comments", reading.comments or "-")
    if report_text.strip():
        page.text("Reader's report", report_text)

    page.section("READER")
    page.text("Reader", reading.reader)
    if reader_id.strip():
        page.text("Reader ID", reader_id.strip())
    page.text("Date of reading", reading.read_on)
    if model_note.strip():
        page.section("MODEL  (evidence and suggestions, not a reading)")
        page.text("Model", model_note)
    page.footer()
    canvas.showPage()
    canvas.save()
    return buffer.getvalue()


def export_reading_pdf(path: str | Path, reading: IloReading, *, source: str = "", report_text: str = "",
                       model_note: str = "", reader_id: str = "") -> Path:
    write_atomic(Path(path), render_reading_pdf(reading, source=source, report_text=report_text,
                                                model_note=model_note, reader_id=reader_id))
    return Path(path)
