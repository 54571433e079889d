"""Worker side of the reading view: opening an image and diagnosing it, everything but drawing off the GUI thread.

Pictures for the screen are made here too (QImage may be used off the GUI thread; QPixmap may not): converting
a 3000-pixel film or colouring its lung contour costs the GUI thread 50-200 ms (``benchmarks/bench_gui.py``).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PySide6.QtGui import QImage

from engine.io import LoadedImage
from engine.io.identity import PatientIdentity, read_identity
from engine.io.phi import TagRow
from engine.reading import ResultReady, SaliencyReady, read_case
from viewer.helper_process import load_image_in_helper
from viewer.reading_view import contour_picture, first_view, saliency_picture, screen_picture
from viewer.tag_browser import read_tag_rows


def load_for_reading(path: Path) -> tuple[LoadedImage, list[TagRow] | None, PatientIdentity | None, np.ndarray,
                                          QImage]:
    """Decode (in the helper process: some decoders hold the interpreter lock, the GUI would freeze), compute
    the float pixels once (W/L and the read-out use them), read the tags and the patient header, and window
    the first view and make its picture."""
    image = load_image_in_helper(path)
    _ = image.value_range
    dicom = image.meta.kind == "dicom"
    rows = read_tag_rows(path) if dicom else None
    shown = first_view(image)
    return image, rows, read_identity(path) if dicom else None, shown, screen_picture(shown)


@dataclass(frozen=True)
class ResultOnScreen(ResultReady):
    """``ResultReady`` with the lung contour already coloured as a picture."""

    contour: QImage | None = None


@dataclass(frozen=True)
class SaliencyOnScreen(SaliencyReady):
    """``SaliencyReady`` with the map already coloured as a picture."""

    picture: QImage | None = None


def read_case_for_screen(*args: Any, **kwargs: Any) -> Iterator[object]:
    """``engine.reading.read_case``'s events, with their pictures made on this (worker) thread."""
    for event in read_case(*args, **kwargs):
        if isinstance(event, ResultReady):
            event = ResultOnScreen(event.result, event.source_names, event.outline, contour_picture(event.outline))
        elif isinstance(event, SaliencyReady) and event.saliency is not None:
            event = SaliencyOnScreen(event.saliency, saliency_picture(event.saliency))
        yield event
