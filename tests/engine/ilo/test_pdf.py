"""The one-page PDF form, rendered to PNG (pypdfium2) and checked: its text, and the boxes it marks."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pypdfium2 as pdfium

from engine.ilo.pdf import export_reading_pdf
from tests.engine.ilo.readings import ABNORMAL, NORMAL, reading


def _render(path: Path) -> tuple[np.ndarray, str]:
    document = pdfium.PdfDocument(str(path))
    assert len(document) == 1
    page = document[0]
    text = page.get_textpage().get_text_range()
    picture = page.render(scale=1.5).to_pil().convert("RGB")
    picture.save(path.with_suffix(".png"))  # kept beside the PDF for a look by eye
    return np.asarray(picture), text


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
