"""What an ILO head suggests for one film (``engine.model.ilo_model``): the 12-point profusion, the major category,
the affected zones, each zone's profusion and, for a head with a shape output, the primary shape of the small
opacities. Torch-free (it travels inside ``DiagnosisResult`` across processes).

A suggestion is the model's, never the reader's: the ILO form shows it beside the fields and fills nothing in, the
TID 1500 SR carries it as the algorithm's findings, and a signed reading keeps it apart from the reading
(``ReadingStore.save(model_suggestion=...)``). The shape is suggested only for a film the head calls abnormal
(>= 1/0: below that ILO records no shape); ``shape`` is None otherwise, and always for a head without a shape
output (``shape_output`` False: "not predicted").
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from engine.errors import PneumoError
from engine.ilo.codes import PROFUSION, SHAPES, ZONES, profusion_category

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
    shape: str | None = None  # suggested primary shape (p q r s t u); None: not suggested (see shape_output)
    simulation: bool = False  # the head was trained on simulated films (its card says SIMULATION)
    shape_probability: float | None = None  # the head's probability of ``shape`` (softmax over the six letters)
    shape_output: bool = False  # the head has a shape output (False: "not predicted by this head")

    @property
    def zones(self) -> tuple[str, ...]:
        """The suggested zones, in the form's order."""
        return tuple(zone for zone in ZONES if self.zone_probability.get(zone, 0.0) >= ZONE_PRESENT)

    @property
    def profusion_category(self) -> int:
        """The major category the suggested 12-point profusion falls in."""
        return profusion_category(self.profusion)

    @property
    def shape_text(self) -> str:
        """The shape as the screen and the SRs write it."""
        if self.shape is not None:
            chance = "" if self.shape_probability is None else f", probability {self.shape_probability:.2f}"
            return f"{self.shape} ({SHAPES.get(self.shape, '')}{chance})"
        return "none suggested (film not suggested abnormal)" if self.shape_output else "not predicted by this head"

    @classmethod
    def from_outputs(cls, category_logits: np.ndarray, profusion_logits: np.ndarray, zone_logits: np.ndarray,
                     zone_profusion_logits: np.ndarray, *, simulation: bool = False,
                     shape_logits: np.ndarray | None = None, abnormal: bool = False) -> IloSuggestion:
        """One film's raw head outputs: (3,) category and (11,) profusion cumulative logits, (6,) zone presence
        logits, (6, 11) per-zone profusion cumulative logits, and (6,) shape logits (p q r s t u) for a head with a
        shape output; ``abnormal``: the head's decision, without which no shape is suggested."""
        presence = 1.0 / (1.0 + np.exp(-np.asarray(zone_logits, np.float64)))
        shape, shape_probability = None, None
        if shape_logits is not None and abnormal:
            logits = np.asarray(shape_logits, np.float64)
            chances = np.exp(logits - logits.max())
            chances /= chances.sum()
            best = int(chances.argmax())
            shape, shape_probability = tuple(SHAPES)[best], float(chances[best])
        return cls(profusion=PROFUSION[_grade_from_cumulative(profusion_logits)],
                   category=_grade_from_cumulative(category_logits),
                   zone_probability={zone: float(p) for zone, p in zip(ZONES, presence, strict=True)},
                   zone_profusion={zone: PROFUSION[_grade_from_cumulative(row)]
                                   for zone, row in zip(ZONES, np.asarray(zone_profusion_logits), strict=True)},
                   shape=shape, simulation=simulation, shape_probability=shape_probability,
                   shape_output=shape_logits is not None)

    def describe(self) -> str:
        """One line for the screen and exports, marked as the model's."""
        zones = ", ".join(zone.replace("_", " ") for zone in self.zones) or "none"
        if self.shape is not None:
            shape = self.shape if self.shape_probability is None else f"{self.shape} ({self.shape_probability:.2f})"
        else:
            shape = "none (not suggested abnormal)" if self.shape_output else "not predicted"
        return (f"{'SIMULATION - ' if self.simulation else ''}model suggests profusion {self.profusion} "
                f"(category {self.category}), zones: {zones}; shape: {shape} — a suggestion, not a reading")

    def to_json(self) -> dict[str, Any]:
        return {"profusion": self.profusion, "category": self.category, "shape": self.shape,
                "zones": list(self.zones),
                "zone_probability": {z: round(p, 6) for z, p in self.zone_probability.items()},
                "zone_profusion": dict(self.zone_profusion), "simulation": self.simulation,
                "shape_probability": None if self.shape_probability is None else round(self.shape_probability, 6),
                "shape_output": self.shape_output}

    @classmethod
    def from_json(cls, data: Any) -> IloSuggestion:
        """Read ``to_json``'s dict back (e.g. from a stored reading); a malformed one is a one-line error."""
        try:
            suggestion = cls(profusion=str(data["profusion"]), category=int(data["category"]),
                             zone_probability={str(z): float(p) for z, p in data["zone_probability"].items()},
                             zone_profusion={str(z): str(g) for z, g in data["zone_profusion"].items()},
                             shape=data.get("shape") or None, simulation=bool(data.get("simulation", False)),
                             shape_probability=None if data.get("shape_probability") is None
                             else float(data["shape_probability"]),
                             shape_output=bool(data.get("shape_output", False)))
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise PneumoError(f"A stored model suggestion is malformed ({exc}).") from None
        if suggestion.profusion not in PROFUSION or not 0 <= suggestion.category <= 3:
            raise PneumoError(f"A stored model suggestion has an unknown grade ({suggestion.profusion!r}).")
        if suggestion.shape is not None and suggestion.shape not in SHAPES:
            raise PneumoError(f"A stored model suggestion has an unknown shape ({suggestion.shape!r}).")
        return suggestion
