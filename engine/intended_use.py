"""Is this radiograph within the intended use of the head that reads it? (population, view, modality)

The head card says what the head was trained for (``IntendedUse``); the DICOM tags say what the image is. When
they disagree the case gets an ``outside_intended_use`` flag — a REVIEW flag, so the decision is "not diagnosed"
unless the reader asks for it anyway — instead of a confident verdict. Without tags (PNG/JPEG) nothing can be
checked here; the out-of-domain hint (``engine.reference_map``) is the remaining guard. The patient's age is read
only to compare it: it never leaves this module, not even in the flag's message.
"""

from __future__ import annotations

import copy
import datetime as dt
import logging
import re
from dataclasses import replace

from pydicom.dataset import Dataset

from engine.errors import PneumoError
from engine.flags import Flag
from engine.io import LoadedImage
from engine.model.head_card import IntendedUse

log = logging.getLogger(__name__)
AGE_MARGIN_YEARS = 2.0  # ages this close to the trained range are still accepted (ages are rounded in tags)
_AGE = re.compile(r"^(\d{1,3})([DWMY]?)$")  # the standard's "045Y"; some exporters drop the unit: years
_UNIT_YEARS = {"D": 1 / 365.25, "W": 7 / 365.25, "M": 1 / 12, "Y": 1.0}


def patient_age_years(ds: Dataset) -> float | None:
    """PatientAge ("045Y", "006M", ...), else the study date minus the birth date; None when neither is usable."""
    match = _AGE.match(str(ds.get("PatientAge", "") or "").strip().upper())
    if match:
        return int(match.group(1)) * _UNIT_YEARS[match.group(2) or "Y"]
    birth = _date(ds.get("PatientBirthDate"))
    seen = next((d for d in (_date(ds.get(k)) for k in ("StudyDate", "AcquisitionDate", "ContentDate")) if d), None)
    if birth is None or seen is None or seen < birth:
        return None
    return (seen - birth).days / 365.25


def check(meta_header: Dataset, intended: IntendedUse) -> tuple[Flag, ...]:
    """Flags for what the tags show outside ``intended`` (age range, view, modality)."""
    reasons = []
    age = patient_age_years(meta_header)
    if age is not None and intended.age_years is not None:
        low, high = intended.age_years
        if not low - AGE_MARGIN_YEARS <= age <= high + AGE_MARGIN_YEARS:
            reasons.append(f"the patient's age is outside the ages it was trained on ({low:.0f}–{high:.0f} years)")
    view = str(meta_header.get("ViewPosition", "") or "").strip().upper()
    if view and intended.views and view not in intended.views and view not in ("LL", "RL", "LATERAL", "LAT"):
        reasons.append(f"view {view} (trained on {', '.join(intended.views)})")  # laterals have their own flag
    modality = str(meta_header.get("Modality", "") or "").strip().upper()
    if modality and intended.modalities and modality not in intended.modalities:
        reasons.append(f"modality {modality} (trained on {', '.join(intended.modalities)})")
    if not reasons:
        return ()
    who = intended.description or intended.population
    return (Flag("outside_intended_use", f"outside the model's intended use ({who}): " + "; ".join(reasons)),)


def with_intended_use_flags(image: LoadedImage, intended: IntendedUse) -> LoadedImage:
    """``image`` with any ``outside_intended_use`` flag added to its file flags (a shallow copy; the caller's
    image is untouched)."""
    if image.meta.kind != "dicom":
        return image
    from engine.io.dicom import read_header

    try:
        header = read_header(image.meta.path)
    except PneumoError:
        return image
    flags = check(header, intended)
    if not flags:
        return image
    flagged = copy.copy(image)  # keeps the decoded pixels and the cached 8-bit conversion
    flagged.meta = replace(image.meta, flags=(*image.meta.flags, *flags))
    return flagged


def _date(value: object) -> dt.date | None:
    text = str(value or "").strip()
    try:
        return dt.date(int(text[:4]), int(text[4:6]), int(text[6:8])) if len(text) >= 8 else None
    except ValueError:
        return None
