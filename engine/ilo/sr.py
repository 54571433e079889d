"""A signed ILO reading as a DICOM Comprehensive SR (highdicom), referencing the radiograph it classifies.

Coded where a standard code exists: DCM for the observer, comments and the source image; SNOMED CT for
yes/no and right/left. The ILO's own vocabulary (quality grades, shapes, profusion, zones, large-opacity
categories, pleural sites, symbols) has no standard codes, so it uses the private scheme ``99PNEUMOILO``
(documented in ``docs/ilo.md``; each code value is the form's own notation, e.g. ``1/2`` or ``ax``), declared in
the SR's Coding Scheme Identification Sequence like ``99PNEUMOLLM`` (``engine.dicom_results.scheme``).

The model's zone evidence, when given, goes in its own container titled as model evidence, apart from the
reader's findings; so does an ILO head's suggestion kept with the signed reading (``engine.ilo.suggestion``), in a
container titled as the model's suggestion. Only a signed reading is written, with the reader's own report text
when there is one. De-identified by default, like every export (``engine.export``).
"""

from __future__ import annotations

from pathlib import Path

from engine.dicom_results.scheme import coding_scheme_identification, declare_scheme
from engine.errors import UnsupportedImageError
from engine.ilo.codes import DIFFUSE_SITES, PLAQUE_SITES, QUALITY_GRADES, QUALITY_REASONS, SHAPES, SYMBOLS, ZONE_WORDS
from engine.ilo.form import IloReading, Sides, validate
from engine.ilo.suggestion import IloSuggestion
from engine.ilo.zone_evidence import ZoneEvidenceReport
from engine.io import LoadedImage
from engine.io.dicom_write import carry_deidentification, evidence_dataset, reference_dataset, write_dataset
from engine.notices import DISCLAIMER, MANUFACTURER

SCHEME = "99PNEUMOILO"
SCHEME_NAME = "PneumoLLM Viewer ILO 2022 classification concepts"
# Code values are at most 16 characters (VR SH), so pleural sites get short codes.
SITE_CODES = {"chest_wall_in_profile": "WP", "chest_wall_face_on": "WF", "diaphragm": "DI", "other": "OT"}
# The NIOSH form's film-quality reasons (``QUALITY_REASONS``), short enough for a code value.
REASON_CODES = {"overexposed": "OVEREXP", "underexposed": "UNDEREXP", "artifacts": "ARTIFACT",
                "improper_position": "POSITION", "poor_contrast": "CONTRAST", "poor_processing": "PROCESSING",
                "underinflation": "UNDERINFL", "mottle": "MOTTLE", "edge_enhancement": "EDGEENH",
                "scapula_overlay": "SCAPULA", "other": "OTHER"}


def export_reading_sr(path: str | Path, image: LoadedImage, reading: IloReading, *,
                      evidence: ZoneEvidenceReport | None = None, report_text: str = "",
                      identified: bool = False, not_diagnosed: str = "",
                      suggestion: IloSuggestion | None = None, reader_id: str = "") -> Path:
    """Write ``reading`` (validated and signed) as a Comprehensive SR in a new series of the source's study.
    ``reader_id``: the programme's id for the reader (e.g. a NIOSH B reader number), as the observer's identifier.
    ``not_diagnosed``: why the model gave no result (the reading is exported all the same); ``suggestion``: what an ILO
    head suggested when the reading was signed (``StoredReading.model_suggestion``), written apart from the reading."""
    import highdicom as hd
    from pydicom.sr.codedict import codes

    validate(reading)
    if image.meta.kind != "dicom":
        raise UnsupportedImageError("A DICOM SR needs a DICOM source image; export the PDF or CSV instead.",
                                    path=image.meta.path)
    reference = reference_dataset(image, identified)
    contains = hd.sr.RelationshipTypeValues.CONTAINS

    def concept(code: str, meaning: str) -> hd.sr.CodedConcept:
        return hd.sr.CodedConcept(code, SCHEME, meaning[:64])  # Code Meaning is LO: 64 characters at most

    def coded(name: str, meaning: str, value: hd.sr.CodedConcept) -> hd.sr.CodeContentItem:
        return hd.sr.CodeContentItem(name=concept(name, meaning), value=value, relationship_type=contains)

    def yes_no(name: str, meaning: str, value: bool) -> hd.sr.CodeContentItem:
        return coded(name, meaning, codes.SCT.Yes if value else codes.SCT.No)

    def text(name: hd.sr.CodedConcept, value: str) -> hd.sr.TextContentItem:
        return hd.sr.TextContentItem(name=name, value=value[:1024], relationship_type=contains)

    def container(name: str, meaning: str, items: list) -> hd.sr.ContainerContentItem:
        item = hd.sr.ContainerContentItem(name=concept(name, meaning), relationship_type=contains)
        item.ContentSequence = hd.sr.ContentSequence(items)
        return item

    def sides(name: str, meaning: str, value: Sides) -> list[hd.sr.CodeContentItem]:
        return [coded(name, meaning, side) for side, on in ((codes.SCT.Right, value.right),
                                                             (codes.SCT.Left, value.left)) if on]

    small = reading.small
    parenchymal: list = [yes_no("PARENCH", "Parenchymal abnormality consistent with pneumoconiosis",
                                reading.parenchymal)]
    if small.primary:
        parenchymal.append(coded("SHAPE1", "Small opacities, primary shape/size", concept(small.primary,
                                                                                          SHAPES[small.primary])))
    if small.secondary:
        parenchymal.append(coded("SHAPE2", "Small opacities, secondary shape/size",
                                 concept(small.secondary, SHAPES[small.secondary])))
    parenchymal += [coded("ZONE", "Zone of small opacities", concept(zone, ZONE_WORDS[zone])) for zone in small.zones]
    if small.profusion is not None:  # unanswered under 2A "no", as the paper form allows: no item
        parenchymal.append(coded("PROFUS", "Profusion of small opacities", concept(small.profusion,
                                                                                   f"profusion {small.profusion}")))
    if reading.large is not None:
        parenchymal.append(coded("LARGE", "Large opacities", concept(f"LARGE{reading.large}",
                                                                     f"category {reading.large}")))

    pleural: list = [yes_no("PLEURAL", "Pleural abnormality consistent with pneumoconiosis", reading.pleural)]
    for prefix, title, record, sites in (("PLQ", "Pleural plaques", reading.plaques, PLAQUE_SITES),
                                         ("DPT", "Diffuse pleural thickening", reading.diffuse, DIFFUSE_SITES)):
        for site, words in sites.items():
            pleural += sides(f"{prefix}-{SITE_CODES[site]}", f"{title}, {words}", record.sites.get(site, Sides()))
            pleural += sides(f"{prefix}C-{SITE_CODES[site]}", f"{title}, calcification, {words}",
                             record.calcification.get(site, Sides()))
        for side, word in (("right", "R"), ("left", "L")):
            if getattr(record, f"extent_{side}"):
                pleural.append(coded(f"{prefix}EXT{word}", f"{title}, extent, {side}",
                                     concept(f"EXT{getattr(record, f'extent_{side}')}", "extent grade")))
            if getattr(record, f"width_{side}"):
                pleural.append(coded(f"{prefix}WID{word}", f"{title}, width, {side}",
                                     concept(f"WID{getattr(record, f'width_{side}')}", "width grade")))
    pleural += sides("CPA", "Costophrenic angle obliteration", reading.costophrenic)

    items: list = [
        # A free-text name as the family-name component (the trailing caret says so).
        hd.sr.PnameContentItem(name=codes.DCM.PersonObserverName, value=reading.reader.replace("^", " ") + "^",
                               relationship_type=hd.sr.RelationshipTypeValues.HAS_OBS_CONTEXT),
        # TID 1003's identifier within the observer's role: two readers of one name stay apart in the archive.
        *([hd.sr.TextContentItem(name=codes.DCM.IdentifierWithinPersonObserverRole, value=reader_id.strip(),
                                 relationship_type=hd.sr.RelationshipTypeValues.HAS_OBS_CONTEXT)]
          if reader_id.strip() else []),
        text(concept("READDATE", "Date of reading"), reading.read_on),
        hd.sr.ImageContentItem(name=codes.DCM.SourceImage,
                               referenced_sop_class_uid=reference.SOPClassUID,
                               referenced_sop_instance_uid=reference.SOPInstanceUID, relationship_type=contains),
        coded("QUALITY", "Radiograph quality", concept(f"Q{reading.quality}", QUALITY_GRADES[reading.quality])),
        *(coded("QUALRSN", "Radiograph quality reason", concept(REASON_CODES[code], QUALITY_REASONS[code]))
          for code in reading.quality_reasons),
        *([text(concept("QUALCOM", "Radiograph quality comment"), reading.quality_comment)]
          if reading.quality_comment else []),
        container("PARSEC", "Parenchymal abnormalities", parenchymal),
        container("PLSEC", "Pleural abnormalities", pleural),
        yes_no("OTHER", "Other abnormalities", reading.other_abnormalities),
        *(coded("SYMBOL", "ILO symbol", concept(symbol, SYMBOLS[symbol])) for symbol in reading.symbols),
        *([text(codes.DCM.Comment, reading.comments)] if reading.comments else []),
        *([text(concept("REPORT", "Reader's report"), report_text)] if report_text.strip() else []),
    ]
    if evidence is not None:
        items.append(_evidence_container(evidence, concept))
    elif not_diagnosed.strip():
        items.append(container("MODELEV", "Model zone evidence (not a reading)",
                               [text(concept("EVNOTE", "Nature of the evidence"), not_diagnosed)]))
    if suggestion is not None:
        items.append(_suggestion_container(suggestion, concept, coded, text))
    items.append(text(concept("DISCLAIM", "Disclaimer"), DISCLAIMER))
    root = hd.sr.ContainerContentItem(name=concept("ILOREAD", "ILO classification of a chest radiograph"),
                                      template_id=None)
    root.ContentSequence = hd.sr.ContentSequence(items)
    sr = hd.sr.ComprehensiveSR(evidence=[evidence_dataset(reference)], content=root, series_instance_uid=hd.UID(),
                               series_number=9903, sop_instance_uid=hd.UID(), instance_number=1,
                               manufacturer=MANUFACTURER, series_description="ILO classification (reader's reading)",
                               is_complete=True, is_verified=False)
    declare_scheme(sr, coding_scheme_identification(SCHEME, SCHEME_NAME, "2022"))
    carry_deidentification(reference, sr)
    write_dataset(Path(path), sr)
    return Path(path)


def _evidence_container(evidence: ZoneEvidenceReport, concept):
    import highdicom as hd
    from pydicom.sr.codedict import codes

    contains = hd.sr.RelationshipTypeValues.CONTAINS
    items: list = [hd.sr.TextContentItem(name=concept("EVNOTE", "Nature of the evidence"), value=evidence.note,
                                         relationship_type=contains),
                   hd.sr.NumContentItem(name=concept("PROB", "Model probability"), value=round(evidence.probability, 6),
                                        unit=codes.UCUM.NoUnits, relationship_type=contains)]
    for zone in evidence.zones:
        zone_items = [hd.sr.NumContentItem(name=concept("OCCLUSION", "Occlusion evidence"),
                                           value=round(zone.occlusion_evidence, 6), unit=codes.UCUM.NoUnits,
                                           relationship_type=contains)]
        if zone.gradcam_mass is not None:
            zone_items.append(hd.sr.NumContentItem(name=concept("GCMASS", "Grad-CAM mass"),
                                                   value=round(zone.gradcam_mass, 6), unit=codes.UCUM.NoUnits,
                                                   relationship_type=contains))
        items.append(_container(concept(zone.name, ZONE_WORDS[zone.name]), zone_items))
    return _container(concept("MODELEV", "Model zone evidence (not a reading)"), items)


def _suggestion_container(suggestion: IloSuggestion, concept, coded, text):
    """The model's ILO suggestion (coded in the reading's vocabulary), titled as the model's, never the reader's."""
    import highdicom as hd
    from pydicom.sr.codedict import codes

    contains = hd.sr.RelationshipTypeValues.CONTAINS
    items: list = [text(concept("EVNOTE", "Nature of the evidence"), suggestion.describe()),
                   coded("MPROFUS", "Model's suggested profusion", concept(suggestion.profusion,
                                                                          f"profusion {suggestion.profusion}")),
                   coded("MCATEG", "Model's suggested major category", concept(f"CAT{suggestion.category}",
                                                                              f"category {suggestion.category}")),
                   *(coded("MZONE", "Model's suggested zone", concept(zone, ZONE_WORDS[zone]))
                     for zone in suggestion.zones),
                   text(concept("MSHAPE", "Model's suggested shape/size"), suggestion.shape_text)]
    if suggestion.shape is not None:  # coded in the reading's own shape vocabulary, beside the text
        items.append(coded("MSHAPEC", "Model's suggested primary shape/size",
                           concept(suggestion.shape, SHAPES[suggestion.shape])))
    if suggestion.shape_probability is not None:
        items.append(hd.sr.NumContentItem(name=concept("MSHAPEP", "Model probability of the suggested shape"),
                                          value=round(suggestion.shape_probability, 6), unit=codes.UCUM.NoUnits,
                                          relationship_type=contains))
    for zone in ZONE_WORDS:
        zone_items = [hd.sr.NumContentItem(name=concept("MZPROB", "Model probability of small opacities"),
                                           value=round(suggestion.zone_probability[zone], 6),
                                           unit=codes.UCUM.NoUnits, relationship_type=contains),
                      coded("MZPROF", "Model's suggested zone profusion",
                            concept(suggestion.zone_profusion[zone], f"profusion {suggestion.zone_profusion[zone]}"))]
        items.append(_container(concept(zone, ZONE_WORDS[zone]), zone_items))
    return _container(concept("MODELSUG", "Model suggestion (not a reading)"), items)


def _container(name, items: list):
    """A CONTAINS container named ``name`` holding ``items``."""
    import highdicom as hd

    container = hd.sr.ContainerContentItem(name=name, relationship_type=hd.sr.RelationshipTypeValues.CONTAINS)
    container.ContentSequence = hd.sr.ContentSequence(items)
    return container
