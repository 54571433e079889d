"""The one decision rule: (probability, operating threshold, flags) -> flagged / not flagged / not diagnosed.

Nothing else in the app compares a probability with a threshold. The screen, triage, exports and the audit
log all read the ``Decision`` a ``DiagnosisResult`` carries, which names the threshold actually used and
where it came from, so an exported report can never contradict the screen.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum

from engine.errors import ModelLoadError
from engine.flags import Flag, blocking, outside


class Verdict(StrEnum):
    FLAGGED = "flagged"  # at or above the operating threshold: flagged for review by a reader
    NOT_FLAGGED = "not flagged"  # below the threshold
    NOT_DIAGNOSED = "not diagnosed"  # a blocking flag: no decision is made


class ThresholdSource(StrEnum):
    MODEL = "model"  # the head card's default operating threshold
    OPERATING_POINT = "operating point"  # another operating point the head card offers (e.g. sensitivity 95 %)
    OVERRIDE = "settings override"  # the reader's own threshold (Settings)


@dataclass(frozen=True)
class ThresholdChoice:
    """Which operating threshold results are decided at: a number, else one of the head card's operating points
    by rule (e.g. "sensitivity:0.95"), else (both None) the head card's own. The CLI's flags, the viewer's
    Settings and the cluster's workers all hand the Diagnoser one of these; ``resolve`` is the one check."""

    threshold: float | None = None  # wins over the operating point
    operating_point: str | None = None

    def __post_init__(self) -> None:
        if self.threshold is not None and not 0.0 <= self.threshold <= 1.0:
            raise ValueError(f"an operating threshold is a probability between 0 and 1, not {self.threshold}")

    def resolve(self, card_threshold: float, operating_points: Mapping[str, Mapping[str, object]]
                ) -> tuple[float, ThresholdSource]:
        """The threshold in force for a head and where it comes from.

        Raises:
            ModelLoadError: the operating point is not one the head offers (a choice is never silently dropped).
        """
        if self.threshold is not None:
            return self.threshold, ThresholdSource.OVERRIDE
        if self.operating_point:
            if self.operating_point not in operating_points:
                offered = ", ".join(operating_points) or "none"
                raise ModelLoadError(f"This head has no operating point {self.operating_point!r} (it offers: "
                                     f"{offered}) — choose one it offers, or set a threshold.")
            return float(operating_points[self.operating_point]["threshold"]), ThresholdSource.OPERATING_POINT  # type: ignore[arg-type]
        return card_threshold, ThresholdSource.MODEL


@dataclass(frozen=True)
class Decision:
    verdict: Verdict
    threshold: float  # the operating threshold actually used
    threshold_source: ThresholdSource
    reasons: tuple[Flag, ...] = ()  # why the case was not diagnosed (empty otherwise)
    review_overridden: tuple[Flag, ...] = ()  # REVIEW flags the reader chose to diagnose despite

    @property
    def flagged(self) -> bool:
        return self.verdict is Verdict.FLAGGED

    @property
    def diagnosed(self) -> bool:
        return self.verdict is not Verdict.NOT_DIAGNOSED

    @property
    def forced(self) -> bool:
        """Diagnosed only because the reader asked, despite flags that hold a case back (``review_overridden``)."""
        return self.diagnosed and bool(self.review_overridden)

    @property
    def request_note(self) -> str:
        """"at the reader's request, outside the model's intended use" for a forced decision, else ''."""
        return f"at the reader's request, {outside(self.review_overridden)}" if self.forced else ""

    @property
    def phrase(self) -> str:
        """What the verdict means, in the words every output uses."""
        if not self.diagnosed:
            return "not diagnosed"
        return "flagged for review" if self.flagged else "below the operating threshold"

    def describe(self) -> str:
        """One line for people: the verdict and what it rests on."""
        if not self.diagnosed:
            return f"{self.phrase}: " + "; ".join(flag.message for flag in self.reasons)
        relation = "at or above" if self.flagged else "below"
        line = f"{self.phrase} (score {relation} the {self.threshold_source.value} threshold {self.threshold:.3f})"
        if self.forced:
            line += ("; diagnosed at the reader's request despite: "
                     + "; ".join(flag.message for flag in self.review_overridden))
        return line

    def headline(self, label: str, probability: float) -> str:
        """'PNEUMONIA score 0.75 ≥ threshold 0.62: flagged for review' — the head's own class name, the score
        against the threshold in force, and what that means (a case for review, not a diagnosis); a forced one
        ends '— at the reader's request, outside the model's intended use'."""
        if not self.diagnosed:
            return self.phrase.capitalize()
        sign = "≥" if self.flagged else "<"
        line = f"{label} score {probability:.2f} {sign} threshold {self.threshold:.2f}: {self.phrase}"
        return f"{line} — {self.request_note}" if self.forced else line


def decide(probability: float | None, threshold: float, flags: Sequence[Flag], *, review_allowed: bool = False,
           threshold_source: ThresholdSource = ThresholdSource.MODEL) -> Decision:
    """Turn a calibrated probability into a decision.

    Args:
        probability: the calibrated probability of the positive class; None when the model did not run.
        threshold: the operating threshold in force (the head card's, or the reader's override).
        flags: every flag of the case (file, lung crop, runtime).
        review_allowed: the reader asked to diagnose despite REVIEW flags (UNUSABLE flags still stop it).
        threshold_source: where ``threshold`` came from, for the screen and the exports.
    """
    if not 0.0 <= threshold <= 1.0:
        raise ValueError(f"operating threshold {threshold} is outside [0, 1]")
    stops = blocking(flags, review_allowed=review_allowed)
    overridden = tuple(f for f in flags if review_allowed and f not in stops and f in blocking(flags))
    if stops or probability is None:
        return Decision(Verdict.NOT_DIAGNOSED, threshold, threshold_source, stops)
    verdict = Verdict.FLAGGED if probability >= threshold else Verdict.NOT_FLAGGED
    return Decision(verdict, threshold, threshold_source, (), overridden)
