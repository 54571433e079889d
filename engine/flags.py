"""Flags: what is known to be wrong or unusual about a case, as a stable code plus one line for people.

Every reason a result must be read with care — from the file (lateral view, other modality), from the lung
crop (no lungs found, rotated) or from the runtime (fell back to the CPU) — is a ``Flag``. Code decides on the
``code`` and its ``Severity``; people read the ``message``. The severity of a code is fixed here, once, so the
viewer, triage, exports and the audit log cannot disagree about what blocks a decision (``engine.decision``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum


class Severity(StrEnum):
    NOTE = "note"  # shown with the result; the decision stands
    REVIEW = "review"  # no silent decision: "not diagnosed" unless the reader asks to diagnose anyway
    UNUSABLE = "unusable"  # never diagnosed: there is nothing meaningful to score


# Every code the engine emits, with its severity. Add a code here before using it.
SEVERITY: dict[str, Severity] = {
    # From the file (engine.io)
    "other_modality": Severity.REVIEW,
    "lateral_view": Severity.REVIEW,
    "other_body_part": Severity.REVIEW,
    "multi_frame": Severity.REVIEW,
    "colour_converted": Severity.NOTE,
    "outside_intended_use": Severity.REVIEW,  # engine.intended_use: age, view or modality the head was not made for
    # From the lung crop (engine.segment)
    "blank_image": Severity.UNUSABLE,
    "low_resolution": Severity.NOTE,
    "no_lungs": Severity.NOTE,
    "one_lung": Severity.NOTE,
    "fragmented_lungs": Severity.NOTE,
    "implausible_lung_area": Severity.NOTE,
    "unbalanced_lungs": Severity.NOTE,
    "lungs_not_side_by_side": Severity.NOTE,
    "rotated": Severity.NOTE,
    "implausible_lung_box": Severity.NOTE,
    "lungs_off_centre": Severity.NOTE,
    "looks_inverted": Severity.NOTE,
    "fallback_crop": Severity.NOTE,
    # From the runtime and the model's reference cases
    "cpu_fallback": Severity.NOTE,
    "out_of_domain": Severity.NOTE,  # engine.reference_map: farther from the training cases than 95 % of them
    "far_out_of_domain": Severity.REVIEW,  # ... than 99 %: a radiograph like none it was trained on
}


@dataclass(frozen=True)
class Flag:
    code: str  # a key of SEVERITY; stable across releases (exports and CSVs carry it)
    message: str  # one line for people, without patient-identifying values

    def __post_init__(self) -> None:
        if self.code not in SEVERITY:
            raise ValueError(f"unknown flag code {self.code!r}; add it to engine.flags.SEVERITY")

    @property
    def severity(self) -> Severity:
        return SEVERITY[self.code]

    def __str__(self) -> str:
        return self.message

    def to_json(self) -> dict[str, str]:
        return {"code": self.code, "message": self.message, "severity": self.severity.value}


def messages(flags: Iterable[Flag]) -> list[str]:
    return [flag.message for flag in flags]


def codes(flags: Iterable[Flag]) -> list[str]:
    return [flag.code for flag in flags]


def blocking(flags: Iterable[Flag], *, review_allowed: bool = False) -> tuple[Flag, ...]:
    """The flags that stop a decision: UNUSABLE always, REVIEW unless the reader chose to diagnose anyway."""
    stops = {Severity.UNUSABLE} if review_allowed else {Severity.UNUSABLE, Severity.REVIEW}
    return tuple(flag for flag in flags if flag.severity in stops)


# What a result diagnosed at the reader's request was outside of, in the headline's few words (the flag's message,
# with its numbers, stays in the warnings).
OUTSIDE: dict[str, str] = {
    "outside_intended_use": "outside the model's intended use",
    "far_out_of_domain": "outside the model's training domain",
    "lateral_view": "on a lateral view",
    "other_modality": "on a modality the model was not made for",
    "other_body_part": "on a body part the model was not made for",
    "multi_frame": "on a multi-frame image",
}


def outside(flags: Iterable[Flag]) -> str:
    """'outside the model's intended use, on a lateral view': what the reader's request overrode."""
    phrases = dict.fromkeys(OUTSIDE.get(flag.code, flag.message) for flag in flags)
    return ", ".join(phrases)


def can_diagnose_anyway(flags: Iterable[Flag]) -> bool:
    """True when every blocking flag is one the reader may override (REVIEW, none UNUSABLE)."""
    stops = blocking(flags)
    return bool(stops) and all(flag.severity is Severity.REVIEW for flag in stops)
