"""The one decision rule and the flag codes it reads."""

from __future__ import annotations

import pytest

from engine.decision import ThresholdSource, Verdict, decide
from engine.flags import SEVERITY, Flag, Severity, blocking, can_diagnose_anyway, codes

LATERAL = Flag("lateral_view", "lateral view (LL)")
BLANK = Flag("blank_image", "blank image")
ROTATED = Flag("rotated", "image looks rotated")


@pytest.mark.parametrize(("probability", "threshold", "verdict"), [
    (0.81, 0.81, Verdict.FLAGGED),  # at the threshold counts as flagged
    (0.8099, 0.81, Verdict.NOT_FLAGGED),
    (0.0, 0.0, Verdict.FLAGGED),
    (1.0, 1.0, Verdict.FLAGGED),
    (None, 0.5, Verdict.NOT_DIAGNOSED),  # the model did not run
])
def test_probability_against_threshold(probability: float | None, threshold: float, verdict: Verdict) -> None:
    decision = decide(probability, threshold, ())
    assert decision.verdict is verdict and decision.threshold == threshold


def test_note_flags_never_change_the_verdict() -> None:
    decision = decide(0.9, 0.5, (ROTATED, Flag("out_of_domain", "unlike the training cases")))
    assert decision.flagged and decision.reasons == ()


def test_review_flags_stop_the_decision_unless_the_reader_overrides() -> None:
    stopped = decide(0.9, 0.5, (LATERAL, ROTATED))
    assert stopped.verdict is Verdict.NOT_DIAGNOSED and stopped.reasons == (LATERAL,)
    assert "lateral view" in stopped.describe()
    anyway = decide(0.9, 0.5, (LATERAL, ROTATED), review_allowed=True)
    assert anyway.flagged and anyway.review_overridden == (LATERAL,)


def test_unusable_flags_stop_it_always() -> None:
    decision = decide(0.99, 0.5, (BLANK, LATERAL), review_allowed=True)
    assert decision.verdict is Verdict.NOT_DIAGNOSED and decision.reasons == (BLANK,)
    assert not can_diagnose_anyway((BLANK, LATERAL)) and can_diagnose_anyway((LATERAL, ROTATED))
    assert not can_diagnose_anyway((ROTATED,))  # nothing to override


def test_threshold_source_and_bounds() -> None:
    decision = decide(0.4, 0.3, (), threshold_source=ThresholdSource.OVERRIDE)
    assert decision.flagged and "settings override threshold 0.300" in decision.describe()
    with pytest.raises(ValueError, match="outside"):
        decide(0.4, 1.3, ())


def test_flag_codes_are_registered_with_a_severity() -> None:
    with pytest.raises(ValueError, match="unknown flag code"):
        Flag("colour DICOM", "prose is not a code")
    assert {SEVERITY[code] for code in SEVERITY} == set(Severity)
    assert codes(blocking((LATERAL, BLANK, ROTATED))) == ["lateral_view", "blank_image"]
    assert Flag("rotated", "x").to_json() == {"code": "rotated", "message": "x", "severity": "note"}


def test_one_threshold_choice_resolves_against_the_head() -> None:
    from engine.decision import ThresholdChoice
    from engine.errors import ModelLoadError

    points = {"sensitivity:0.95": {"threshold": 0.21}}
    assert ThresholdChoice().resolve(0.5, points) == (0.5, ThresholdSource.MODEL)
    assert ThresholdChoice(operating_point="sensitivity:0.95").resolve(0.5, points) == \
        (0.21, ThresholdSource.OPERATING_POINT)
    # a threshold wins over an operating point
    assert ThresholdChoice(0.7, "sensitivity:0.95").resolve(0.5, points) == (0.7, ThresholdSource.OVERRIDE)
    with pytest.raises(ModelLoadError, match="no operating point 'specificity:0.9'.*sensitivity:0.95"):
        ThresholdChoice(operating_point="specificity:0.9").resolve(0.5, points)
    with pytest.raises(ValueError, match="between 0 and 1"):
        ThresholdChoice(1.5)
