"""Worker side of opening an image in the reading view: everything but drawing, off the GUI thread."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from engine.io import LoadedImage
from engine.io.helper_process import load_image_in_helper
from engine.io.identity import PatientIdentity, read_identity
from engine.io.phi import TagRow
from viewer.reading_view import first_view
from viewer.tag_browser import read_tag_rows


def load_for_reading(path: Path) -> tuple[LoadedImage, list[TagRow] | None, PatientIdentity | None, np.ndarray]:
    """Decode (in the helper process: some decoders hold the interpreter lock, the GUI would freeze), compute
    the float pixels once (W/L and the read-out use them), read the tags and the patient header, and window
    the first view."""
    image = load_image_in_helper(path)
    _ = image.value_range
    dicom = image.meta.kind == "dicom"
    rows = read_tag_rows(path) if dicom else None
    return image, rows, read_identity(path) if dicom else None, first_view(image)
