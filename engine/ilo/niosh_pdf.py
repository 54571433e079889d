"""A signed ILO reading on a page laid out like form CDC/NIOSH 2.8, the US "Roentgenographic Interpretation" form
that B readers know (reportlab; US Letter).

Sections as on that form: 1 image quality (1 2 3 U/R); 2A parenchymal abnormality, 2B small opacities (shape/size
primary and secondary in the p s / q t / r u grid, zones R/L x upper/middle/lower, the 12 profusion boxes in four
rows), 2C large opacities; 3A pleural abnormality, 3B the pleural plaques table (sites x 0 R L, calcification, extent
and width per side), 3C costophrenic angle obliteration, 3D diffuse pleural thickening; 4A other abnormalities, 4B
the symbols row, 4D comments; then the reader's name, reader id and date. It is the reading on a familiar layout, not
the official NIOSH form (no worker or facility fields: nothing identifying is printed; the image is named by its
hashed key). The one-page summary (``engine.ilo.pdf``) stays the product's own export; this is the extra one.

``render_niosh_form`` returns the PDF and where every box is and whether it is ticked, so a test can look for each
mark on the rendered page; ``render_niosh_pdf`` returns only the bytes.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

from engine.ilo.codes import DIFFUSE_SITES, PLAQUE_SITES, PROFUSION, SYMBOLS
from engine.ilo.form import DiffuseThickening, IloReading, PleuralPlaques, Sides, validate
from engine.ilo.pdf import wrap
from engine.notices import DISCLAIMER
from engine.paths import write_atomic

BOX = 14  # side of a box, points
INK = (0.08, 0.08, 0.08)
RULE = (0.35, 0.35, 0.35)
MARK = (0.12, 0.32, 0.62)  # a ticked box: filled, its label in white
BAND = (0.86, 0.88, 0.92)
MARGIN = 36
COMMENT_LINES = 4  # lines of comments on the page; more continue on a second page
# The form's "if not grade 1, mark all boxes that apply" (``QUALITY_REASONS``), short enough for a box.
REASON_MARKS = {"overexposed": "overexp.", "underexposed": "underexp.", "artifacts": "artifacts",
                "improper_position": "position", "poor_contrast": "contrast", "poor_processing": "processing",
                "underinflation": "underinfl.", "mottle": "mottle", "edge_enhancement": "edge enh.",
                "scapula_overlay": "scapula", "other": "other"}


@dataclass(frozen=True)
class Box:
    """One box of the form, in PDF points (origin bottom left)."""

    group: str  # e.g. "1 quality", "2B profusion", "3B plaques chest wall in profile site"
    option: str  # the box's label: "2", "1/1", "R", "yes", "em"
    x: float
    y: float
    width: float
    height: float
    ticked: bool


@dataclass(frozen=True)
class NioshForm:
    pdf: bytes
    boxes: tuple[Box, ...]
    pages: int

    def ticked(self, group: str) -> list[str]:
        """The options ticked in ``group`` (tests and callers read the form back)."""
        return [box.option for box in self.boxes if box.group == group and box.ticked]


class _Sheet:
    """Boxes, labels and section bands at absolute positions on one canvas; every box is recorded."""

    def __init__(self, canvas, width: float, height: float) -> None:
        self.c, self.width, self.height = canvas, width, height
        self.boxes: list[Box] = []
        self.page = 1

    def label(self, x: float, y: float, text: str, size: float = 7.5, bold: bool = False) -> None:
        self.c.setFillColorRGB(*INK)
        self.c.setFont("Helvetica-Bold" if bold else "Helvetica", size)
        self.c.drawString(x, y, text)

    def band(self, y: float, text: str) -> None:
        """A section's title band across the page (its top at ``y``)."""
        self.c.setFillColorRGB(*BAND)
        self.c.rect(MARGIN, y - 13, self.width - 2 * MARGIN, 13, stroke=0, fill=1)
        self.label(MARGIN + 4, y - 9.5, text, size=8.5, bold=True)

    def box(self, group: str, option: str, x: float, y: float, ticked: bool, width: float = BOX) -> float:
        """A box with ``option`` inside, filled when ticked; returns the x after it."""
        c = self.c
        c.setStrokeColorRGB(*INK)
        c.setLineWidth(0.7)
        if ticked:
            c.setFillColorRGB(*MARK)
            c.rect(x, y, width, BOX, stroke=1, fill=1)
            c.setFillColorRGB(1, 1, 1)
        else:
            c.setFillColorRGB(1, 1, 1)
            c.rect(x, y, width, BOX, stroke=1, fill=1)
            c.setFillColorRGB(*INK)
        c.setFont("Helvetica-Bold" if ticked else "Helvetica", 7)
        c.drawCentredString(x + width / 2, y + 4, option)
        self.boxes.append(Box(group, option, x, y, width, BOX, ticked))
        return x + width + 2

    def row(self, group: str, options: list[str], chosen: set[str], x: float, y: float, width: float = BOX) -> float:
        for option in options:
            x = self.box(group, option, x, y, option in chosen, width)
        return x

    def frame(self, x: float, y: float, width: float, height: float) -> None:
        self.c.setStrokeColorRGB(*RULE)
        self.c.setLineWidth(0.5)
        self.c.rect(x, y, width, height, stroke=1, fill=0)

    def footer(self, pages: int) -> None:
        self.c.setFont("Helvetica-Oblique", 6.5)
        self.c.setFillColorRGB(*INK)
        self.c.drawString(MARGIN, 20, DISCLAIMER)
        self.c.drawRightString(self.width - MARGIN, 20, f"page {self.page} of {pages}")


def _sides(value: Sides) -> set[str]:
    return {side for side, on in (("R", value.right), ("L", value.left)) if on} or {"0"}


def _yes_no(value: bool | None) -> set[str]:
    return set() if value is None else {"YES" if value else "NO"}


def _quality_box(quality: object) -> set[str]:
    """The form's quality boxes are 1, 2, 3 and U/R (unreadable): grade 4 of the ILO scale is U/R."""
    if quality is None:
        return set()
    text = str(quality).upper().replace(" ", "")
    return {"U/R"} if text in ("4", "U/R", "UR", "U") else {text}


def _fitted(canvas, text: str, width: float, lines: int) -> tuple[str, list[str] | None]:
    """``text`` in at most ``lines`` lines of ``width``, and None when it fits; else the lines shown, the last saying
    where the rest is, and the whole text's lines (printed on a later page)."""
    wrapped = wrap(text, lambda line: canvas.stringWidth(line, "Helvetica", 7.5), width)
    if len(wrapped) <= lines:
        return "\n".join(wrapped), None
    return "\n".join([*wrapped[:lines - 1], "(continued on page 2)"]), wrapped


def _pleural_table(sheet: _Sheet, top: float, title: str, short: str, record: PleuralPlaques | DiffuseThickening,
                   sites: dict[str, str]) -> float:
    """Sites x (0 R L) with calcification, then extent and width per side; returns the y below it."""
    x0 = MARGIN + 8
    sheet.label(x0, top - 10, title, size=8, bold=True)
    sheet.label(x0 + 190, top - 22, "Site", bold=True)
    sheet.label(x0 + 260, top - 22, "Calcification", bold=True)
    sheet.label(x0 + 360, top - 22, "Extent (chest wall; in profile and face on combined)", size=6.5)
    y = top - 40
    for site, words in sites.items():
        name = words.split(" (")[0]
        sheet.label(x0 + 10, y + 4, name[0].upper() + name[1:])
        sheet.row(f"{short} {name} site", ["0", "R", "L"], _sides(record.sites.get(site, Sides())), x0 + 190, y)
        sheet.row(f"{short} {name} calcification", ["0", "R", "L"], _sides(record.calcification.get(site, Sides())),
                  x0 + 260, y)
        y -= BOX + 4
    extent_y = top - 40
    for side, right in (("R", True), ("L", False)):
        extent = str(record.extent_right if right else record.extent_left)
        width = record.width_right if right else record.width_left
        sheet.label(x0 + 360, extent_y + 4, side, bold=True)
        sheet.row(f"{short} extent {side}", ["0", "1", "2", "3"], {extent}, x0 + 372, extent_y)
        extent_y -= BOX + 4
    sheet.label(x0 + 360, extent_y + 4, "Width (in profile only)", size=6.5)
    extent_y -= BOX + 2
    for side, right in (("R", True), ("L", False)):
        width = record.width_right if right else record.width_left
        sheet.label(x0 + 360, extent_y + 4, side, bold=True)
        sheet.row(f"{short} width {side}", ["a", "b", "c"], {width}, x0 + 372, extent_y)
        extent_y -= BOX + 4
    bottom = min(y, extent_y)
    sheet.frame(MARGIN + 4, bottom + 6, sheet.width - 2 * MARGIN - 8, top - bottom - 8)
    return bottom


def render_niosh_form(reading: IloReading, *, image_key: str = "", reader_id: str = "") -> NioshForm:
    """The reading on the CDC/NIOSH 2.8 layout, with every box's place and mark."""
    from reportlab.lib.pagesizes import letter
    from reportlab.pdfgen.canvas import Canvas

    validate(reading)
    buffer = io.BytesIO()
    width, height = letter
    canvas = Canvas(buffer, pagesize=letter, pageCompression=1)
    canvas.setTitle("Roentgenographic interpretation (CDC/NIOSH 2.8 layout)")
    sheet = _Sheet(canvas, width, height)
    left = MARGIN + 8

    y = height - 40
    sheet.label(MARGIN, y, "ROENTGENOGRAPHIC INTERPRETATION", size=13, bold=True)
    sheet.label(width - MARGIN - 196, y, "CDC/NIOSH 2.8 layout - ILO (2022) classification", size=7)
    y -= 14
    sheet.label(MARGIN, y, f"Image: {image_key or '-'}    Reader ID: {reader_id or '-'}    Date of reading: "
                           f"{reading.read_on}", size=8)
    y -= 10

    sheet.band(y, "1. IMAGE QUALITY")
    sheet.row("1 quality", ["1", "2", "3", "U/R"], _quality_box(reading.quality), left + 90, y - 33, width=22)
    overflow: list[tuple[str, list[str]]] = []  # texts too long for their place, printed whole on later pages
    comment = _fitted(canvas, reading.quality_comment or "-", width - MARGIN - left - 250, 1)
    sheet.label(left + 200, y - 29, "Comment: " + comment[0])
    if comment[1] is not None:
        overflow.append(("1. IMAGE QUALITY - comment", comment[1]))
    sheet.label(left, y - 45, "If not 1, mark", size=6.5)
    sheet.label(left, y - 52, "all that apply:", size=6.5)
    reason_width = (width - MARGIN - left - 58 - 2 * (len(REASON_MARKS) - 1)) / len(REASON_MARKS)
    sheet.row("1 quality reasons", list(REASON_MARKS.values()), {REASON_MARKS[c] for c in reading.quality_reasons},
              left + 50, y - 52, width=reason_width)
    y -= 58

    sheet.band(y, "2A. ANY PARENCHYMAL ABNORMALITIES CONSISTENT WITH PNEUMOCONIOSIS?")
    sheet.row("2A parenchymal", ["YES", "NO"], _yes_no(reading.parenchymal), left + 330, y - 32, width=28)
    sheet.label(left + 400, y - 28, "If NO, proceed to Section 3", size=6.5)
    y -= 40

    sheet.band(y, "2B. SMALL OPACITIES            2C. LARGE OPACITIES")
    top = y - 16
    small = reading.small
    sheet.label(left, top - 8, "a. SHAPE/SIZE", bold=True)
    sheet.label(left + 8, top - 20, "PRIMARY")
    sheet.label(left + 58, top - 20, "SECONDARY")
    for index, (rounded, irregular) in enumerate((("p", "s"), ("q", "t"), ("r", "u"))):
        row_y = top - 40 - index * (BOX + 3)
        sheet.row("2B shape primary", [rounded, irregular], {small.primary}, left + 8, row_y)
        sheet.row("2B shape secondary", [rounded, irregular], {small.secondary}, left + 62, row_y)
    sheet.label(left + 130, top - 8, "b. ZONES", bold=True)
    sheet.label(left + 153, top - 20, "R")
    sheet.label(left + 171, top - 20, "L")
    for index, level in enumerate(("upper", "middle", "lower")):
        row_y = top - 40 - index * (BOX + 3)
        sheet.label(left + 114, row_y + 4, level.capitalize(), size=6.5)
        for column, side in enumerate(("right", "left")):
            sheet.box(f"2B zones {level}", side[0].upper(), left + 148 + column * 18, row_y,
                      f"{side}_{level}" in small.zones)
    sheet.label(left + 215, top - 8, "c. PROFUSION", bold=True)
    for index in range(4):
        row_y = top - 28 - index * (BOX + 3)
        sheet.row("2B profusion", list(PROFUSION[index * 3:index * 3 + 3]),
                  set() if small.profusion is None else {small.profusion}, left + 215, row_y, width=22)
    sheet.label(left + 330, top - 8, "SIZE", bold=True)
    sheet.row("2C large opacities", ["0", "A", "B", "C"], set() if reading.large is None else {reading.large},
              left + 330, top - 30)
    sheet.label(left + 330, top - 48, "A: over 10 up to 50 mm; B: over 50 mm, up to the", size=6)
    sheet.label(left + 330, top - 56, "right upper zone; C: exceeding it", size=6)
    y = top - 28 - 3 * (BOX + 3) - 6  # 6 points under the lowest profusion row
    sheet.frame(MARGIN + 4, y, width - 2 * MARGIN - 8, top - y + 2)
    y -= 6

    sheet.band(y, "3A. ANY PLEURAL ABNORMALITIES CONSISTENT WITH PNEUMOCONIOSIS?")
    sheet.row("3A pleural", ["YES", "NO"], _yes_no(reading.pleural), left + 330, y - 32, width=28)
    sheet.label(left + 400, y - 28, "If NO, proceed to Section 4", size=6.5)
    y -= 40
    y = _pleural_table(sheet, y, "3B. PLEURAL PLAQUES (mark site, calcification, extent and width)", "3B plaques",
                       reading.plaques, PLAQUE_SITES)
    y -= 4
    sheet.label(left, y - 10, "3C. COSTOPHRENIC ANGLE OBLITERATION", size=8, bold=True)
    sheet.row("3C costophrenic", ["0", "R", "L"], _sides(reading.costophrenic), left + 190, y - 14)
    y -= 24
    y = _pleural_table(sheet, y, "3D. DIFFUSE PLEURAL THICKENING (mark site, calcification, extent and width)",
                       "3D diffuse", reading.diffuse, DIFFUSE_SITES)
    y -= 4

    sheet.band(y, "4A. ANY OTHER ABNORMALITIES?")
    sheet.row("4A other", ["YES", "NO"], _yes_no(reading.other_abnormalities), left + 330, y - 32, width=28)
    sheet.label(left + 400, y - 28, "If NO, proceed to the signature", size=6.5)
    y -= 40
    sheet.label(left, y - 8, "4B. OTHER SYMBOLS (OBLIGATORY)", size=8, bold=True)
    symbols = list(SYMBOLS)
    box_width = (width - 2 * MARGIN - 16 - 2 * (len(symbols) - 1)) / len(symbols)
    sheet.row("4B symbols", symbols, set(reading.symbols), left, y - 28, width=box_width)
    y -= 38

    sheet.label(left, y - 8, "4D. OTHER COMMENTS", size=8, bold=True)
    comments = _fitted(canvas, reading.comments or "-", width - 2 * MARGIN - 120, COMMENT_LINES)
    for index, line in enumerate(comments[0].split("\n")):
        sheet.label(left + 110, y - 8 - index * 10, line, bold=line.startswith("(continued"))
    if comments[1] is not None:
        overflow.append(("4D. OTHER COMMENTS", comments[1]))
    y -= 6 + COMMENT_LINES * 10

    sheet.band(y, "READER")
    sheet.label(left, y - 28, "Reader's name:", bold=True)
    sheet.label(left + 70, y - 28, reading.reader, size=8.5)
    sheet.label(left + 260, y - 28, "Reader ID:", bold=True)
    sheet.label(left + 310, y - 28, reader_id or "-", size=8.5)
    sheet.label(left + 390, y - 28, "Date of reading:", bold=True)
    sheet.label(left + 460, y - 28, reading.read_on, size=8.5)
    sheet.label(left, y - 42, "Signed electronically in the PneumoLLM Viewer by the reader named above.", size=6.5)

    per_page = int((height - 40 - 34 - 40) // 10)  # lines of text on a continuation page
    lines = [line for heading, text in overflow for line in (f"\f{heading} (whole text)", *text, "")]
    pages = 1 + -(-len(lines) // per_page)
    sheet.footer(pages)
    canvas.showPage()
    for start in range(0, len(lines), per_page):  # the whole of every text, never cut
        sheet.page += 1
        y = height - 40
        sheet.label(MARGIN, y, "ROENTGENOGRAPHIC INTERPRETATION (continued)", size=11, bold=True)
        y -= 24
        for line in lines[start:start + per_page]:
            if line.startswith("\f"):
                sheet.label(MARGIN, y, line[1:], size=8, bold=True)
            else:
                sheet.label(MARGIN + 8, y, line)
            y -= 10
        sheet.footer(pages)
        canvas.showPage()
    canvas.save()
    return NioshForm(buffer.getvalue(), tuple(sheet.boxes), pages)


def render_niosh_pdf(reading: IloReading, *, image_key: str = "", reader_id: str = "") -> bytes:
    return render_niosh_form(reading, image_key=image_key, reader_id=reader_id).pdf


def export_niosh_pdf(path: str | Path, reading: IloReading, *, image_key: str = "", reader_id: str = "") -> Path:
    write_atomic(Path(path), render_niosh_pdf(reading, image_key=image_key, reader_id=reader_id))
    return Path(path)
