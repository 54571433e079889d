"""What the new head is for: the settings page's choice and the install page's line about it.

A head trained on files without ages (PNG, stripped DICOM) would claim no age limit, and adult films would then
run through a paediatric model without "Diagnose anyway". So the new head inherits the installed head's intended
use unless the clinic chooses otherwise here; ``None`` means "read it from the training data's DICOM tags".
"""

from __future__ import annotations

from engine.model.head_card import IntendedUse

INHERIT, FROM_DATA, ADULTS, ANY_AGE = "inherit", "data", "adult", "any"
ADULT_USE = IntendedUse(population="adult", age_years=(18.0, 120.0),
                        description="adult (18 years and over) frontal chest radiographs, as set by the clinic")
ANY_AGE_USE = IntendedUse(population="any", description="frontal chest radiographs of any patient age, as set by "
                                                        "the clinic")


def inheritable(installed: IntendedUse | None) -> IntendedUse | None:
    """The installed head's use, unless it is the ILO phantom's SIMULATION (a new head trained on real films
    must not call itself a simulation)."""
    return None if installed is None or installed.description.startswith("SIMULATION") else installed


def choices(installed: IntendedUse | None) -> list[tuple[str, str]]:
    """(label, key) for the settings page; the first is the default."""
    installed = inheritable(installed)
    options = [(f"As the installed head: {describe_use(installed)}", INHERIT)] if installed is not None else []
    return options + [("From the training data's DICOM tags (patient ages, views, modalities)", FROM_DATA),
                      ("Adults only (18 years and over)", ADULTS),
                      ("Any patient age (no age limit)", ANY_AGE)]


def chosen_use(key: str, installed: IntendedUse | None) -> IntendedUse | None:
    """The intended use to write into the new head's card; None: derived from the training data."""
    if key == INHERIT:
        return inheritable(installed)
    return {ADULTS: ADULT_USE, ANY_AGE: ANY_AGE_USE}.get(key)


def describe_use(use: IntendedUse) -> str:
    """'paediatric (1–5 years) frontal chest radiographs; ages 1–5 years; views PA/AP; modalities CR/DX'."""
    ages = f"ages {use.age_years[0]:.0f}–{use.age_years[1]:.0f} years" if use.age_years else "no age limit"
    return (f"{use.description or use.population}; {ages}; views {'/'.join(use.views) or 'any'}; "
            f"modalities {'/'.join(use.modalities) or 'any'}")
