"""An ILO head's suggestion (``engine.ilo.suggestion``) as the algorithm's findings in the TID 1500 SR.

They sit in the report's measurement groups, whose observer is the algorithm (a device): never in a reader's
reading. Concept names are ``99PNEUMOLLM`` codes that say "model, not a reading"; their values use the ILO
vocabulary of ``99PNEUMOILO`` (the profusion as the form writes it, e.g. ``1/1``; the zone names), declared in the
SR beside ``99PNEUMOLLM`` (``docs/dicom_conformance.md``).

* image-level group: suggested 12-point profusion and major category (coded), one coded item per suggested zone,
  the suggested primary shape (coded ``AISHAPEC``, with its probability ``AISHAPEP``, when the head has a shape
  output and calls the film abnormal), the shape as text ("not predicted by this head" for a head without a shape
  output), and the one-line description (SIMULATION first for a head trained on simulated films);
* each zone's group (TID 1410): the head's probability of small opacities (>= 1/0) in the zone, present / absent
  at ``engine.ilo.suggestion.ZONE_PRESENT``, and the zone's suggested profusion.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from engine.dicom_results.scheme import coding_scheme_identification, concept
from engine.ilo.codes import SHAPES, ZONE_WORDS
from engine.ilo.sr import SCHEME as ILO_SCHEME
from engine.ilo.sr import SCHEME_NAME as ILO_SCHEME_NAME

if TYPE_CHECKING:
    import highdicom as hd

    from engine.ilo.suggestion import IloSuggestion


def ilo_scheme_identification():
    """The ``99PNEUMOILO`` entry of the SR's Coding Scheme Identification Sequence (as the ILO reading SR's)."""
    return coding_scheme_identification(ILO_SCHEME, ILO_SCHEME_NAME, "2022")


def ilo_value(code: str, meaning: str) -> hd.sr.CodedConcept:
    import highdicom as hd

    return hd.sr.CodedConcept(code, ILO_SCHEME, meaning[:64])


def image_evaluations(suggestion: IloSuggestion) -> list[hd.sr.QualitativeEvaluation]:
    """The image-level group's coded AI findings."""
    import highdicom as hd

    items = [hd.sr.QualitativeEvaluation(concept("AIPROFUS", "Suggested ILO profusion (model, not a reading)"),
                                         ilo_value(suggestion.profusion, f"profusion {suggestion.profusion}")),
             hd.sr.QualitativeEvaluation(concept("AICATEG", "Suggested ILO major category (model, not a reading)"),
                                         concept(f"ILOCAT{suggestion.category}",
                                                 f"ILO major category {suggestion.category}"))]
    items += [hd.sr.QualitativeEvaluation(concept("AIZONE", "Suggested zone of small opacities (model)"),
                                          ilo_value(zone, ZONE_WORDS[zone])) for zone in suggestion.zones]
    if suggestion.shape is not None:  # coded as the reader's form codes it (99PNEUMOILO: the ILO letter)
        items.append(hd.sr.QualitativeEvaluation(
            concept("AISHAPEC", "Suggested primary shape/size (model, not a reading)"),
            ilo_value(suggestion.shape, SHAPES[suggestion.shape])))
    return items


def image_numbers(suggestion: IloSuggestion) -> list[tuple[str, str, float]]:
    """(code, meaning, probability) measurements for the image-level group: the suggested shape's probability
    (none without a suggested shape)."""
    if suggestion.shape is None or suggestion.shape_probability is None:
        return []
    return [("AISHAPEP", "Probability of the suggested shape/size (model)", suggestion.shape_probability)]


def image_texts(suggestion: IloSuggestion) -> list[tuple[str, str, str]]:
    """(code, meaning, value) text items for the image-level group."""
    return [("AISHAPE", "Suggested shape/size (model)", suggestion.shape_text),
            ("AISUGGEST", "ILO suggestion (model, not a reading)", suggestion.describe())]


def zone_findings(suggestion: IloSuggestion, zone: str) -> tuple[list, list]:
    """(measurements, qualitative evaluations) of one zone's group."""
    import highdicom as hd
    from pydicom.sr.codedict import codes

    from engine.ilo.suggestion import ZONE_PRESENT

    probability = suggestion.zone_probability[zone]
    measurements = [hd.sr.Measurement(name=concept("AIZPROB", "Probability of small opacities in zone (model)"),
                                      value=round(probability, 6),
                                      unit=hd.sr.CodedConcept("{probability}", "UCUM", "probability"))]
    grade = suggestion.zone_profusion[zone]
    evaluations = [hd.sr.QualitativeEvaluation(concept("AIZPRES", "Small opacities in zone (model, not a reading)"),
                                               codes.SCT.Present if probability >= ZONE_PRESENT else codes.SCT.Absent),
                   hd.sr.QualitativeEvaluation(concept("AIZPROF", "Suggested zone profusion (model, not a reading)"),
                                               ilo_value(grade, f"profusion {grade}"))]
    return measurements, evaluations
