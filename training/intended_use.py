"""What a trained head is for, read from its training data: the patients' ages, the views and the modalities.

DICOM tags say it when they are there (PatientAge, or the birth date against the study date; ViewPosition;
Modality). Ages are only ever kept as the training population's range, never per image.
"""

from __future__ import annotations

from collections import Counter

from engine.errors import PneumoError
from engine.intended_use import patient_age_years
from engine.io import is_dicom_file
from engine.io.dicom import read_header
from engine.model.head_card import IntendedUse
from training.data import LabelledSet

ADULT_AGE = 18.0


def derive_intended_use(dataset: LabelledSet, description: str = "") -> IntendedUse:
    """The intended use a head trained on ``dataset`` can claim. Without tags: unspecified population."""
    ages: list[float] = []
    views: Counter[str] = Counter()
    modalities: Counter[str] = Counter()
    for item in dataset.items:
        if not is_dicom_file(item.path):
            continue
        try:
            header = read_header(item.path)
        except PneumoError:
            continue
        age = patient_age_years(header)
        if age is not None:
            ages.append(age)
        if str(header.get("ViewPosition", "")).strip():
            views[str(header.ViewPosition).strip().upper()] += 1
        if str(header.get("Modality", "")).strip():
            modalities[str(header.Modality).strip().upper()] += 1
    defaults = IntendedUse()
    if not ages:
        population, age_range = "unspecified", None
    else:
        age_range = (float(min(ages)), float(max(ages)))
        population = ("paediatric" if age_range[1] < ADULT_AGE else "adult" if age_range[0] >= ADULT_AGE
                      else "any")
    return IntendedUse(population=population, age_years=age_range,
                       views=tuple(sorted(views)) or defaults.views,
                       modalities=tuple(sorted(modalities)) or defaults.modalities,
                       description=description or _describe(population, age_range))


def _describe(population: str, ages: tuple[float, float] | None) -> str:
    if ages is None:
        return "frontal chest radiographs (the training data carried no patient ages)"
    return f"{population} frontal chest radiographs, patients aged {ages[0]:.0f}–{ages[1]:.0f} years"
