"""The CDC/NIOSH 2.8-layout form, rendered to PNG (pypdfium2): its section titles, and a mark in exactly the boxes
the reading ticks, each found on the rendered page and read back by its text."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pypdfium2 as pdfium

from engine.ilo.codes import QUALITY_REASONS
from engine.ilo.niosh_pdf import REASON_MARKS, export_niosh_pdf, render_niosh_form
from engine.notices import DISCLAIMER
from tests.engine.ilo.readings import ABNORMAL, NORMAL, reading

SCALE = 2.0
TITLES = ("ROENTGENOGRAPHIC INTERPRETATION", "1. IMAGE QUALITY",
          "2A. ANY PARENCHYMAL ABNORMALITIES CONSISTENT WITH PNEUMOCONIOSIS?", "2B. SMALL OPACITIES",
          "2C. LARGE OPACITIES", "a. SHAPE/SIZE", "b. ZONES", "c. PROFUSION",
          "3A. ANY PLEURAL ABNORMALITIES CONSISTENT WITH PNEUMOCONIOSIS?", "3B. PLEURAL PLAQUES",
          "3C. COSTOPHRENIC ANGLE OBLITERATION", "3D. DIFFUSE PLEURAL THICKENING", "4A. ANY OTHER ABNORMALITIES?",
          "4B. OTHER SYMBOLS (OBLIGATORY)", "4D. OTHER COMMENTS", "Reader's name:", "Reader ID:", "Date of reading:")


def _marked_share(pixels: np.ndarray, box, page_height: float) -> float:
    """The share of a box's inside in the tick's fill colour, on the page rendered at SCALE."""
    left, right = int((box.x + 2) * SCALE), int((box.x + box.width - 2) * SCALE)
    top, bottom = int((page_height - box.y - box.height + 2) * SCALE), int((page_height - box.y - 2) * SCALE)
    inside = pixels[top:bottom, left:right].astype(int)
    red, green, blue = inside[..., 0], inside[..., 1], inside[..., 2]
    return float(((blue > 130) & (red < 60) & (green > 60) & (green < 110)).mean())


def test_the_form_has_its_sections_and_marks_exactly_the_ticked_boxes(tmp_path: Path) -> None:
    form = render_niosh_form(reading(ABNORMAL), image_key="sop:1a2b", reader_id="B-1001")
    path = tmp_path / "niosh.pdf"
    path.write_bytes(form.pdf)
    document = pdfium.PdfDocument(str(path))
    assert len(document) == form.pages == 1
    page = document[0]
    text = page.get_textpage().get_text_range()
    for words in (*TITLES, "Dr Test", "B-1001", "2026-12-01", "sop:1a2b", "slightly underexposed",
                  "Compare with previous film.", DISCLAIMER):
        assert words in text, words
    assert " ".join(("p", "s", "p", "s")) in " ".join(text.split())  # the p s / q t / r u shape grid
    picture = page.render(scale=SCALE).to_pil().convert("RGB")
    picture.save(tmp_path / "niosh.png")
    pixels = np.asarray(picture)
    textpage = page.get_textpage()
    height = page.get_height()
    for box in form.boxes:
        share = _marked_share(pixels, box, height)
        assert (share > 0.5) == box.ticked, (box.group, box.option, share)
        inside = textpage.get_text_bounded(box.x, box.y, box.x + box.width, box.y + box.height).strip()
        assert inside == box.option, (box.group, box.option, inside)
    assert form.ticked("1 quality") == ["2"]
    assert form.ticked("2A parenchymal") == ["YES"]
    assert (form.ticked("2B shape primary"), form.ticked("2B shape secondary")) == (["q"], ["t"])
    assert form.ticked("2B zones upper") == ["R", "L"] and form.ticked("2B zones middle") == ["R"]
    assert form.ticked("2B zones lower") == []
    assert form.ticked("2B profusion") == ["1/2"] and form.ticked("2C large opacities") == ["A"]
    assert form.ticked("3B plaques chest wall in profile site") == ["R"]
    assert form.ticked("3B plaques diaphragm calcification") == ["L"]
    assert form.ticked("3B plaques extent R") == ["2"] and form.ticked("3B plaques width R") == ["b"]
    assert form.ticked("3B plaques width L") == []
    assert form.ticked("3C costophrenic") == ["L"]
    assert form.ticked("4B symbols") == ["ax", "em"] and form.ticked("4A other") == ["YES"]
    assert len([b for b in form.boxes if b.group == "2B profusion"]) == 12


def test_unanswered_questions_tick_nothing_and_a_long_comment_goes_on_whole(tmp_path: Path) -> None:
    normal = render_niosh_form(reading(NORMAL))
    assert normal.ticked("2B profusion") == [] and normal.ticked("2C large opacities") == []
    assert normal.ticked("2A parenchymal") == ["NO"] and normal.ticked("1 quality") == ["1"]
    assert normal.ticked("4A other") == ["NO"] and normal.ticked("4B symbols") == []
    unreadable = replace(reading(NORMAL), quality=4, quality_comment="motion")
    assert render_niosh_form(unreadable).ticked("1 quality") == ["U/R"]  # grade 4 is the form's U/R box
    comments = " ".join(f"Comment sentence {i} of the reader." for i in range(150)) + " The end."
    long = export_niosh_pdf(tmp_path / "long.pdf", replace(reading(ABNORMAL), comments=comments))
    document = pdfium.PdfDocument(str(long))
    assert len(document) >= 2
    texts = [document[i].get_textpage().get_text_range() for i in range(len(document))]
    assert "(continued on page 2)" in texts[0]
    rest = " ".join(" ".join(texts[1:]).split())
    for furniture in (DISCLAIMER, "ROENTGENOGRAPHIC INTERPRETATION (continued)",
                      "4D. OTHER COMMENTS (whole text)", *(f"page {i} of {len(document)}" for i in range(9))):
        rest = rest.replace(furniture, " ")
    assert comments in " ".join(rest.split())  # never cut


def test_the_film_quality_reasons_are_marked_as_the_form_asks(tmp_path: Path) -> None:
    reasons = ("underexposed", "improper_position", "scapula_overlay")
    form = render_niosh_form(replace(reading(ABNORMAL), quality_reasons=reasons))
    path = tmp_path / "reasons.pdf"
    path.write_bytes(form.pdf)
    page = pdfium.PdfDocument(str(path))[0]
    pixels = np.asarray(page.render(scale=SCALE).to_pil().convert("RGB"))
    boxes = [box for box in form.boxes if box.group == "1 quality reasons"]
    assert list(REASON_MARKS) == list(QUALITY_REASONS)  # every box of the form's list, in its order
    assert len(boxes) == len(QUALITY_REASONS) and form.pages == 1  # still on one page
    textpage = page.get_textpage()
    for box in boxes:
        assert (_marked_share(pixels, box, page.get_height()) > 0.5) == box.ticked, box.option
        assert textpage.get_text_bounded(box.x, box.y, box.x + box.width, box.y + box.height).strip() == box.option
    assert form.ticked("1 quality reasons") == ["underexp.", "position", "scapula"]
    assert render_niosh_form(reading(NORMAL)).ticked("1 quality reasons") == []
