"""What an ILO head suggests for one film (``engine.model.ilo_model``): the 12-point profusion, the major category,
the affected zones and each zone's profusion. Torch-free (it travels inside ``DiagnosisResult`` across processes).

A suggestion is the model's, never the reader's: the ILO form shows it beside the fields and fills nothing in, the
TID 1500 SR carries it as the algorithm's findings, and a signed reading keeps it apart from the reading
(``ReadingStore.save(model_suggestion=...)``). The heads have no shape output, so ``shape`` is None ("not
predicted") unless a head gains one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from engine.errors import PneumoError
from engine.ilo.codes import PROFUSION, ZONES, profusion_category

ZONE_PRESENT = 0.5  # a zone is suggested when the head's presence probability (>= 1/0 there) reaches this


def _grade_from_cumulative(cumulative_logits: np.ndarray) -> int:
    """CORAL: how many of the tasks "grade > k" the head answers yes (as ``training.metrics.suggested_grades``)."""
    return int((np.asarray(cumulative_logits) > 0.0).sum())


@dataclass(frozen=True)
class IloSuggestion:
    profusion: str  # 12-point, e.g. "1/1"
    category: int  # major category 0-3 (the category head's own answer, which may differ from the profusion's)
    zone_probability: dict[str, float]  # per ILO zone: P(small opacities >= 1/0 in that zone)
    zone_profusion: dict[str, str]  # per ILO zone: the suggested 12-point profusion there
    shape: str | None = None  # the heads do not predict shape: None means "not predicted"
    simulation: bool = False  # the head was trained on simulated films (its card says SIMULATION)

    @property
    def zones(self) -> tuple[str, ...]:
        """The suggested zones, in the form's order."""
        return tuple(zone for zone in ZONES if self.zone_probability.get(zone, 0.0) >= ZONE_PRESENT)

    @property
    def profusion_category(self) -> int:
        """The major category the suggested 12-point profusion falls in."""
        return profusion_category(self.profusion)

    @classmethod
    def from_outputs(cls, category_logits: np.ndarray, profusion_logits: np.ndarray, zone_logits: np.ndarray,
                     zone_profusion_logits: np.ndarray, *, simulation: bool = False) -> IloSuggestion:
        """One film's raw head outputs: (3,) category and (11,) profusion cumulative logits, (6,) zone presence
        logits, (6, 11) per-zone profusion cumulative logits."""
        presence = 1.0 / (1.0 + np.exp(-np.asarray(zone_logits, np.float64)))
        return cls(profusion=PROFUSION[_grade_from_cumulative(profusion_logits)],
                   category=_grade_from_cumulative(category_logits),
                   zone_probability={zone: float(p) for zone, p in zip(ZONES, presence, strict=True)},
                   zone_profusion={zone: PROFUSION[_grade_from_cumulative(row)]
                                   for zone, row in zip(ZONES, np.asarray(zone_profusion_logits), strict=True)},
                   simulation=simulation)

    def describe(self) -> str:
        """One line for the screen and exports, marked as the model's."""
        zones = ", ".join(zone.replace("_", " ") for zone in self.zones) or "none"
        shape = self.shape or "not predicted"
        return (f"{'SIMULATION - ' if self.simulation else ''}model suggests profusion {self.profusion} "
                f"(category {self.category}), zones: {zones}; shape: {shape} — a suggestion, not a reading")

    def to_json(self) -> dict[str, Any]:
        return {"profusion": self.profusion, "category": self.category, "shape": self.shape,
                "zones": list(self.zones),
                "zone_probability": {z: round(p, 6) for z, p in self.zone_probability.items()},
                "zone_profusion": dict(self.zone_profusion), "simulation": self.simulation}

    @classmethod
    def from_json(cls, data: Any) -> IloSuggestion:
        """Read ``to_json``'s dict back (e.g. from a stored reading); a malformed one is a one-line error."""
        try:
            suggestion = cls(profusion=str(data["profusion"]), category=int(data["category"]),
                             zone_probability={str(z): float(p) for z, p in data["zone_probability"].items()},
                             zone_profusion={str(z): str(g) for z, g in data["zone_profusion"].items()},
                             shape=data.get("shape") or None, simulation=bool(data.get("simulation", False)))
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise PneumoError(f"A stored model suggestion is malformed ({exc}).") from None
        if suggestion.profusion not in PROFUSION or not 0 <= suggestion.category <= 3:
            raise PneumoError(f"A stored model suggestion has an unknown grade ({suggestion.profusion!r}).")
        return suggestion
