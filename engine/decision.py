"""The one decision rule: (probability, operating threshold, flags) -> flagged / not flagged / not diagnosed.

Nothing else in the app compares a probability with a threshold. The screen, triage, exports and the audit
log all read the ``Decision`` a ``DiagnosisResult`` carries, which names the threshold actually used and
where it came from, so an exported report can never contradict the screen.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from engine.flags import Flag, blocking


class Verdict(StrEnum):
    FLAGGED = "flagged"  # at or above the operating threshold: flagged for review by a reader
    NOT_FLAGGED = "not flagged"  # below the threshold
    NOT_DIAGNOSED = "not diagnosed"  # a blocking flag: no decision is made


class ThresholdSource(StrEnum):
    MODEL = "model"  # the head card's default operating threshold
    OPERATING_POINT = "operating point"  # another operating point the head card offers (e.g. sensitivity 95 %)
    OVERRIDE = "settings override"  # the reader's own threshold (Settings)


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

    def describe(self) -> str:
        """One line for people: the verdict and what it rests on."""
        if not self.diagnosed:
            return "not diagnosed: " + "; ".join(flag.message for flag in self.reasons)
        relation = "at or above" if self.flagged else "below"
        text = "flagged for review" if self.flagged else "below the operating threshold"
        return f"{text} (score {relation} the {self.threshold_source.value} threshold {self.threshold:.3f})"


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
