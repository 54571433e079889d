"""Worker side of the reading view: opening an image and diagnosing it, everything but drawing off the GUI thread.

Pictures for the screen are made here too (QImage may be used off the GUI thread; QPixmap may not): converting
a 3000-pixel film or colouring its lung contour costs the GUI thread 50-200 ms (``benchmarks/bench_gui.py``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PySide6.QtGui import QImage

from engine.io import LoadedImage
from engine.io.identity import PatientIdentity, read_identity
from engine.io.phi import TagRow
from engine.model_host import ModelClient
from engine.reading import ResultReady, SaliencyReady
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


def for_screen(event: object) -> object:
    """A reading event with its picture made on this (worker) thread."""
    if isinstance(event, ResultReady):
        return ResultOnScreen(event.result, event.source_names, event.outline, contour_picture(event.outline))
    if isinstance(event, SaliencyReady) and event.saliency is not None:
        return SaliencyOnScreen(event.saliency, saliency_picture(event.saliency))
    return event


def read_case_for_screen(client: ModelClient, image: LoadedImage | Path, *, progress: Callable[[object], None],
                         cancelled: Callable[[], bool], allow_flagged: bool = False, saliency: bool = True) -> None:
    """Model worker: ``engine.reading.read_case`` in the model's process; each event reaches ``progress`` with its
    picture made here."""
    client.run("read", image, allow_flagged=allow_flagged, saliency=saliency,
               progress=lambda event: progress(for_screen(event)), cancelled=cancelled)
