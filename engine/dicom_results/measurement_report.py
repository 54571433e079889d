"""The result as a TID 1500 Imaging Measurement Report (a Comprehensive SR; highdicom ``MeasurementReport``).

What OHIF, AI-result panels and anything that reads TID 1500 find in it (IHE AI Results):

* the observer is a device, the algorithm (TID 1004: its UID, name, manufacturer, model = the head);
* the image library names the radiograph; every group references it (Source Image for Measurement Group);
* one image-level group (TID 1501): the finding (SNOMED CT where there is a concept), present / absent / not
  diagnosed as a qualitative evaluation, the screening decision (coded), the probability (only with a verdict: a
  case held back by the out-of-domain check has no score until the reader asks for one) and the operating
  thresholds as measurements (UCUM ``{probability}``), the algorithm (TID 4019: name, version, head), and as text
  the decision sentence, every warning, why a case was not diagnosed, and the research-use notice;
* six planar-ROI groups (TID 1410), one per ILO zone: the zone's outline as a closed SCOORD POLYLINE on the
  radiograph, its finding site (SNOMED CT upper / middle / lower zone of lung, with laterality), its area in mm²
  when the pixel spacing is known and, when given, the model's zone evidence (``engine.ilo.zone_evidence``);
* with an ILO head's result (``result.ilo``), its suggested profusion, category and zones, and each zone's
  probability and profusion, as the algorithm's coded findings (``engine.dicom_results.ilo_findings``).

A case the head refused before it ran (outside its intended use: a lateral view, an adult for a paediatric head)
gets the same report from ``not_diagnosed_report``: the finding "not diagnosed", the reasons, the algorithm and
the image, and no score, no thresholds, no zones — so the archive shows that the AI saw the study and why it
said nothing.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from pydicom.dataset import Dataset

from engine.decision import Verdict
from engine.dicom_results.outlines import mask_polylines
from engine.dicom_results.scheme import (
    ALGORITHM,
    HeadIdentity,
    Identified,
    concept,
    declare_scheme,
    device_uid,
    finding_concept,
    head_algorithm,
    sr_algorithm,
)
from engine.errors import SegmentationError
from engine.flags import messages
from engine.notices import DISCLAIMER, MANUFACTURER, RESULT_SERIES

if TYPE_CHECKING:
    import highdicom as hd

    from engine.ilo.suggestion import IloSuggestion
    from engine.ilo.zone_evidence import ZoneEvidenceReport
    from engine.ilo.zones import LungZones
    from engine.result import DiagnosisResult

log = logging.getLogger(__name__)

SERIES_NUMBER = 9902
CHEST_RADIOGRAPH = ("399208008", "SCT", "Plain chest X-ray")  # the procedure reported
VERDICT_CODES = {Verdict.FLAGGED: ("FLAGGED", "Flagged for review"),
                 Verdict.NOT_FLAGGED: ("NOTFLAGGED", "Not flagged"),
                 Verdict.NOT_DIAGNOSED: ("NOTDIAG", "Not diagnosed")}
ZONE_LEVELS = {"upper": "UpperZoneOfLung", "middle": "MiddleZoneOfLung", "lower": "LowerZoneOfLung"}


def result_zones(result: DiagnosisResult) -> LungZones | None:
    """The six zones of the result's lung mask, or None when there are no lungs to divide (a fallback crop, one
    lung): the objects then say so instead of drawing zones on a guess."""
    from engine.ilo.zones import lung_zones

    if result.lung_crop.fallback or not result.lung_crop.mask.any():
        return None
    try:
        return lung_zones(result.lung_crop.mask)
    except SegmentationError as exc:
        log.info("no lung zones for the result objects: %s", exc.user_message)
        return None


def measurement_report(reference: Dataset, result: DiagnosisResult, *, pixel_spacing: tuple[float, float] | None,
                       evidence: ZoneEvidenceReport | None = None) -> hd.sr.ComprehensiveSR:
    """The SR for ``result`` on the image whose (already de-identified or identified) header is ``reference``."""
    source = _source(reference)
    algorithm = sr_algorithm(result)
    groups: list = [_image_group(result, source, algorithm)]
    zones = result_zones(result)
    suggestion = result.ilo if result.decision.diagnosed else None  # no AI findings for a case not diagnosed
    if zones is not None:  # the zones are the lungs' (no score); the model's zone evidence only with a verdict
        groups += _zone_groups(zones, source, algorithm, pixel_spacing,
                               evidence if result.decision.diagnosed else None, suggestion)
    sr = _report(reference, result, groups)
    if suggestion is not None:
        from engine.dicom_results.ilo_findings import ilo_scheme_identification

        declare_scheme(sr, ilo_scheme_identification())
    return sr


def not_diagnosed_report(reference: Dataset, head: HeadIdentity, reasons: list[str]) -> hd.sr.ComprehensiveSR:
    """The SR of a case ``head`` did not diagnose, saying why (``reasons``); no score, thresholds or zones."""
    import highdicom as hd
    from pydicom.sr.codedict import codes

    source = _source(reference)
    algorithm = head_algorithm({"profile": head.profile, "head": head.model_id})
    finding = finding_concept(head)
    not_diagnosed = concept(*VERDICT_CODES[Verdict.NOT_DIAGNOSED])
    group = hd.sr.MeasurementsAndQualitativeEvaluations(
        tracking_identifier=hd.sr.TrackingIdentifier(uid=hd.UID(), identifier=f"{ALGORITHM} image-level result"),
        finding_type=finding, algorithm_id=algorithm, finding_sites=[hd.sr.FindingSite(codes.SCT.Lung)],
        qualitative_evaluations=[hd.sr.QualitativeEvaluation(finding, not_diagnosed),
                                 hd.sr.QualitativeEvaluation(concept("DECISION", "Screening decision"),
                                                             not_diagnosed)],
        source_images=[hd.sr.SourceImageForMeasurementGroup(**source)])
    reasons = reasons or ["the case was not diagnosed"]
    _add_texts(group, [("RESULT", "PneumoLLM result", Verdict.NOT_DIAGNOSED.value),
                       ("DECTEXT", "Decision", f"{Verdict.NOT_DIAGNOSED.value}: " + "; ".join(reasons)),
                       *(("NOTDIAGWHY", "Reason not diagnosed", reason) for reason in reasons),
                       ("MODEL", "Model", f"{ALGORITHM} {head.profile} head {head.model_id}"),
                       ("DISCLAIM", "Disclaimer", DISCLAIMER)])
    return _report(reference, head, [group])


def _source(reference: Dataset) -> dict[str, str]:
    return {"referenced_sop_class_uid": reference.SOPClassUID,
            "referenced_sop_instance_uid": reference.SOPInstanceUID}


def _add_texts(group, texts) -> None:
    import highdicom as hd

    content = group[0].ContentSequence
    for code, meaning, value in texts:
        content.append(hd.sr.TextContentItem(name=concept(code, meaning), value=str(value)[:1024],
                                             relationship_type=hd.sr.RelationshipTypeValues.CONTAINS))


def _report(reference: Dataset, identity: Identified, groups: list) -> hd.sr.ComprehensiveSR:
    """The TID 1500 document around ``groups``: the algorithm as the observer device, the image library."""
    import highdicom as hd
    from pydicom.sr.codedict import codes

    device = hd.sr.DeviceObserverIdentifyingAttributes(uid=device_uid(identity), name=ALGORITHM,
                                                       manufacturer_name=MANUFACTURER,
                                                       model_name=f"head {identity.model_id}"[:64])
    context = hd.sr.ObservationContext(observer_device_context=hd.sr.ObserverContext(
        observer_type=codes.DCM.Device, observer_identifying_attributes=device))
    report = hd.sr.MeasurementReport(observation_context=context, procedure_reported=hd.sr.CodedConcept(
        *CHEST_RADIOGRAPH), imaging_measurements=groups, title=codes.DCM.ImagingMeasurementReport,
        referenced_images=[_library_entry(reference)])
    sr = hd.sr.ComprehensiveSR(evidence=[reference], content=report[0], series_instance_uid=hd.UID(),
                               series_number=SERIES_NUMBER, sop_instance_uid=hd.UID(), instance_number=1,
                               manufacturer=MANUFACTURER, series_description=RESULT_SERIES, is_complete=True)
    declare_scheme(sr)
    return sr


def _library_entry(reference: Dataset) -> Dataset:
    """The header the image library describes. highdicom's projection-radiography descriptors (TID 1603) need
    Patient Orientation and Imager Pixel Spacing; a radiograph without them is described by TID 1602 alone (its
    modality, from the SOP class, and its size), through a copy that does not claim to be projection radiography."""
    orientation = reference.get("PatientOrientation")
    spacing = reference.get("ImagerPixelSpacing")
    if orientation is not None and len(orientation) == 2 and spacing is not None and len(spacing) == 2:
        return reference
    entry = Dataset()
    entry.update(reference)
    entry.Modality = "OT"  # read only to choose the descriptor template; the entry's modality item is the SOP class's
    return entry


def _image_group(result: DiagnosisResult, source: dict[str, str],
                 algorithm) -> hd.sr.MeasurementsAndQualitativeEvaluations:
    import highdicom as hd
    from pydicom.sr.codedict import codes

    decision = result.decision
    finding = finding_concept(result)
    if not decision.diagnosed:
        presence = concept(*VERDICT_CODES[Verdict.NOT_DIAGNOSED])
    else:
        presence = codes.SCT.Present if decision.flagged else codes.SCT.Absent
    probability = hd.sr.CodedConcept("{probability}", "UCUM", "probability")
    image = [hd.sr.SourceImageForMeasurement(**source)]

    def number(code: str, meaning: str, value: float) -> hd.sr.Measurement:
        return hd.sr.Measurement(name=concept(code, meaning), value=round(float(value), 6), unit=probability,
                                 referenced_images=image)  # the group names the algorithm once

    suggestion = result.ilo if decision.diagnosed else None
    ai_findings, ai_texts, ai_numbers = [], [], []
    if suggestion is not None:
        from engine.dicom_results.ilo_findings import image_evaluations, image_numbers, image_texts

        ai_findings, ai_texts = image_evaluations(suggestion), image_texts(suggestion)
        ai_numbers = [number(*item) for item in image_numbers(suggestion)]
    # A held-back case has no score until the reader asks for one (the screen and triage show none either)
    scores = [number("PROB", f"Probability of {result.positive_label}", result.probability)] if decision.diagnosed \
        else []
    group = hd.sr.MeasurementsAndQualitativeEvaluations(
        tracking_identifier=hd.sr.TrackingIdentifier(uid=hd.UID(), identifier=f"{ALGORITHM} image-level result"),
        finding_type=finding, algorithm_id=algorithm, finding_sites=[hd.sr.FindingSite(codes.SCT.Lung)],
        measurements=scores + [number("THRESH", "Operating threshold", decision.threshold),
                               number("MTHRESH", "Model operating threshold", result.model_threshold),
                               *ai_numbers],
        qualitative_evaluations=[hd.sr.QualitativeEvaluation(finding, presence),
                                 hd.sr.QualitativeEvaluation(concept("DECISION", "Screening decision"),
                                                             concept(*VERDICT_CODES[decision.verdict])),
                                 *ai_findings],
        source_images=[hd.sr.SourceImageForMeasurementGroup(**source)])
    texts = [("RESULT", "PneumoLLM result", result.label),
             ("DECTEXT", "Decision", decision.describe()),
             ("THRSRC", "Threshold source", decision.threshold_source.value),
             *(("NOTDIAGWHY", "Reason not diagnosed", reason) for reason in messages(decision.reasons)),
             ("QUALITY", "Lung crop quality", "; ".join(messages(result.quality_flags)) or "ok"),
             *(("WARNING", "Warning", f"{flag.code}: {flag.message}") for flag in result.flags),
             ("MODEL", "Model", f"{ALGORITHM} {result.profile} head {result.model_id}"),
             *((("GRADE", "Suggested ILO grade (model)", result.suggested_grade),) if result.suggested_grade else ()),
             *ai_texts,
             ("DISCLAIM", "Disclaimer", DISCLAIMER)]
    _add_texts(group, texts)
    return group


def _zone_groups(zones: LungZones, source: dict[str, str], algorithm, pixel_spacing: tuple[float, float] | None,
                 evidence: ZoneEvidenceReport | None, suggestion: IloSuggestion | None = None) -> list:
    import highdicom as hd
    from pydicom.sr.codedict import codes

    from engine.ilo.codes import ZONE_WORDS

    groups = []
    for zone in zones.zones:
        outlines = mask_polylines(zone.mask)
        if not outlines:
            continue  # an empty zone (a lung too short to split) has no outline to draw
        side, level = zone.name.split("_")
        site = hd.sr.FindingSite(getattr(codes.SCT, ZONE_LEVELS[level]),
                                 laterality=codes.SCT.Right if side == "right" else codes.SCT.Left)
        measurements = []
        if pixel_spacing:
            measurements.append(hd.sr.Measurement(name=codes.SCT.Area, value=round(zone.area_px * pixel_spacing[0]
                                                                                  * pixel_spacing[1], 2),
                                                  unit=codes.UCUM.SquareMillimeter))
        if evidence is not None:
            measured = evidence[zone.name]
            measurements.append(hd.sr.Measurement(
                name=concept("OCCLUSION", "Occlusion evidence (model, not a reading)"),
                value=round(measured.occlusion_evidence, 6),
                unit=hd.sr.CodedConcept("{probability}", "UCUM", "probability")))
            if measured.gradcam_mass is not None:
                measurements.append(hd.sr.Measurement(name=concept("GCMASS", "Grad-CAM mass (model, not a reading)"),
                                                      value=round(measured.gradcam_mass, 6), unit=codes.UCUM.NoUnits))
        evaluations = None
        if suggestion is not None:
            from engine.dicom_results.ilo_findings import zone_findings

            ai_measurements, evaluations = zone_findings(suggestion, zone.name)
            measurements += ai_measurements
        region = hd.sr.ImageRegion(graphic_type=hd.sr.GraphicTypeValues.POLYLINE, graphic_data=outlines[0],
                                   source_image=hd.sr.SourceImageForRegion(**source))
        groups.append(hd.sr.PlanarROIMeasurementsAndQualitativeEvaluations(
            tracking_identifier=hd.sr.TrackingIdentifier(uid=hd.UID(), identifier=f"ILO zone: {ZONE_WORDS[zone.name]}"),
            referenced_region=region, finding_type=concept("ILOZONE", "ILO lung zone"), finding_sites=[site],
            algorithm_id=algorithm, measurements=measurements or None, qualitative_evaluations=evaluations))
    return groups
