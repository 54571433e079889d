"""The one-page PDF form, rendered to PNG (pypdfium2) and checked: its text, and the boxes it marks."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pypdfium2 as pdfium

from engine.ilo.pdf import export_reading_pdf
from engine.notices import DISCLAIMER
from tests.engine.ilo.readings import ABNORMAL, NORMAL, reading


def _render(path: Path, pages: int = 1) -> tuple[np.ndarray, str]:
    document = pdfium.PdfDocument(str(path))
    assert len(document) == pages
    texts, pictures = [], []
    for index, page in enumerate(document):
        texts.append(page.get_textpage().get_text_range())
        picture = page.render(scale=1.5).to_pil().convert("RGB")
        picture.save(path.with_name(f"{path.stem}_{index + 1}.png"))  # kept beside the PDF for a look by eye
        pictures.append(np.asarray(picture))
    return pictures[0], "\n".join(texts)


def _marked(pixels: np.ndarray) -> int:
    """Pixels of the fill colour of a chosen box."""
    red, green, blue = (pixels[..., i].astype(int) for i in range(3))
    return int(((blue > 130) & (red < 60) & (green > 60) & (green < 110)).sum())


def test_pdf_is_the_marked_form(tmp_path: Path) -> None:
    pixels, text = _render(export_reading_pdf(tmp_path / "abnormal.pdf", reading(ABNORMAL), source="image 1a2b",
                                              report_text="Signed text."))
    for words in ("RADIOGRAPH QUALITY", "PARENCHYMAL", "PLEURAL", "SYMBOLS", "Dr Test", "2026-12-01",
                  "slightly underexposed", "Compare with previous film.", "Signed text.", "Not for diagnostic use"):
        assert words in text
    normal_pixels, _ = _render(export_reading_pdf(tmp_path / "normal.pdf", reading(NORMAL)))
    assert _marked(pixels) > 1.2 * _marked(normal_pixels) > 0  # findings fill more boxes than a normal film


def test_a_long_report_is_printed_whole_on_a_second_page(tmp_path: Path) -> None:
    report = " ".join(f"Sentence {i} of the reader's report, which the PDF must not cut." for i in range(60))
    report += " The last sentence ends here."
    note = "Not diagnosed: the patient's age is outside the ages it was trained on (1-5 years)."
    _pixels, text = _render(export_reading_pdf(tmp_path / "long.pdf", reading(ABNORMAL), report_text=report,
                                               model_note=note), pages=2)
    flat = " ".join(text.split())  # pdfium's text has the wrapped lines' breaks
    assert flat.count(DISCLAIMER) == 2  # every page carries the disclaimer
    assert "page 1 - continued overleaf" in flat and "reading (continued)" in flat and "report (cont.)" in flat
    furniture = (DISCLAIMER, "page 1 - continued overleaf", "ILO classification of a chest radiograph - reading "
                 "(continued)", "Reader's report (cont.)")
    for words in furniture:  # the page break's footer and header, between two lines of the report
        flat = flat.replace(words, " ")
    assert report in " ".join(flat.split())
    assert "MODEL" in flat and note in flat  # the model's part, apart from the reading


def test_od_is_a_symbol_box_and_unanswered_questions_fill_none(tmp_path: Path) -> None:
    _pixels, text = _render(export_reading_pdf(tmp_path / "od.pdf", reading(NORMAL)))
    assert " od " in f" {' '.join(text.split())} "
    normal = reading(NORMAL)
    assert normal.small.profusion is None and normal.large is None  # 2A "no": 2B and 2C left unanswered
    answered = _marked(_render(export_reading_pdf(tmp_path / "answered.pdf", reading(
        {**NORMAL, "small": {"profusion": "0/0"}, "large": "0"})))[0])
    assert answered > _marked(_pixels)  # the two answers fill two boxes more than none


def test_the_film_quality_reasons_are_printed(tmp_path: Path) -> None:
    from dataclasses import replace

    marked = replace(reading(ABNORMAL), quality_reasons=("underexposed", "mottle"))
    _pixels, text = _render(export_reading_pdf(tmp_path / "reasons.pdf", marked))
    assert "Quality reasons" in text and "underexposed (light), mottle" in text
    _pixels, text = _render(export_reading_pdf(tmp_path / "none.pdf", reading(ABNORMAL)))
    assert "Quality reasons" not in text  # a reading without the boxes prints as it always did


def test_the_reader_id_is_printed_under_the_name(tmp_path: Path) -> None:
    _, text = _render(export_reading_pdf(tmp_path / "id.pdf", reading(NORMAL), reader_id="B-12345"))
    assert "Reader ID" in text and "B-12345" in text
    _, text = _render(export_reading_pdf(tmp_path / "no-id.pdf", reading(NORMAL)))
    assert "Reader ID" not in text
