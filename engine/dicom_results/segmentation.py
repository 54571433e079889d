"""The lung mask as a DICOM Segmentation (BINARY; highdicom ``Segmentation``), the six ILO zones as more segments.

Segment 1 is both lungs (SNOMED CT "Lung"); segments 2-7, when the mask divides into zones, are the zones in
``engine.ilo.codes.ZONES`` order (SNOMED CT upper / middle / lower zone of lung, with the side as a property type
modifier). OHIF and 3D Slicer show them as overlays; the frames have the radiograph's own size, so each segment is
one bit per pixel (about 0.45 MB for a 1955 x 1841 film).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from pydicom.dataset import Dataset

from engine.dicom_results.measurement_report import ZONE_LEVELS, result_zones
from engine.dicom_results.scheme import ALGORITHM, segment_algorithm, software_version
from engine.notices import MANUFACTURER, RESULT_SERIES

if TYPE_CHECKING:
    import highdicom as hd

    from engine.result import DiagnosisResult

SERIES_NUMBER = 9905
LUNG_COLOUR, ZONE_COLOURS = (40, 220, 90), ((230, 80, 80), (240, 170, 60), (230, 230, 80),
                                            (80, 160, 240), (130, 100, 230), (200, 90, 200))


def segmentation(reference: Dataset, result: DiagnosisResult, *, zones: bool = True) -> hd.seg.Segmentation:
    """The SEG of ``result``'s lung mask on the image whose header is ``reference``; ``zones``: the zones too."""
    import highdicom as hd
    from pydicom.sr.codedict import codes

    rows, columns = int(reference.Rows), int(reference.Columns)
    mask = np.asarray(result.lung_crop.mask, bool)
    if mask.shape != (rows, columns):
        raise ValueError(f"lung mask {mask.shape} does not match the image ({rows}, {columns})")
    algorithm = segment_algorithm(result)

    def describe(number: int, label: str, kind, colour: tuple[int, int, int]) -> hd.seg.SegmentDescription:
        return hd.seg.SegmentDescription(
            segment_number=number, segment_label=label, segmented_property_category=codes.SCT.AnatomicalStructure,
            segmented_property_type=kind, algorithm_type=hd.seg.SegmentAlgorithmTypeValues.AUTOMATIC,
            algorithm_identification=algorithm, tracking_uid=hd.UID(), tracking_id=label,
            display_color=hd.color.CIELabColor.from_rgb(*colour))

    planes = [mask]
    descriptions = [describe(1, "Lungs", codes.SCT.Lung, LUNG_COLOUR)]
    divided = result_zones(result) if zones else None
    if divided is not None:
        for index, zone in enumerate(divided.zones):
            side, level = zone.name.split("_")
            description = describe(len(planes) + 1, f"{side} {level} zone", getattr(codes.SCT, ZONE_LEVELS[level]),
                                   ZONE_COLOURS[index])
            laterality = codes.SCT.Right if side == "right" else codes.SCT.Left
            modifier = hd.sr.CodedConcept(laterality.value, laterality.scheme_designator, laterality.meaning)
            description.SegmentedPropertyTypeCodeSequence[0].SegmentedPropertyTypeModifierCodeSequence = [modifier]
            descriptions.append(description)
            planes.append(zone.mask)
    pixels = np.stack(planes, axis=-1)[None].astype(np.uint8)  # (frames=1, rows, columns, segments)
    seg = hd.seg.Segmentation(
        source_images=[_usable_header(reference)], pixel_array=pixels,
        segmentation_type=hd.seg.SegmentationTypeValues.BINARY,
        segment_descriptions=descriptions, series_instance_uid=hd.UID(), series_number=SERIES_NUMBER,
        sop_instance_uid=hd.UID(), instance_number=1, manufacturer=MANUFACTURER,
        manufacturer_model_name=f"{ALGORITHM} head {result.model_id}"[:64], software_versions=software_version(),
        device_serial_number=result.model_id[:64], content_label="LUNGS", content_description=RESULT_SERIES[:64],
        omit_empty_frames=False, series_description=RESULT_SERIES)
    orientation = reference.get("PatientOrientation")
    # General Image's Patient Orientation (2C, no frame of reference): the source's, else a frontal film's
    # display convention, as the Secondary Capture does.
    seg.PatientOrientation = list(orientation) if orientation is not None and len(orientation) == 2 else ["L", "F"]
    return seg


def _usable_header(reference: Dataset) -> Dataset:
    """The source header as highdicom reads it: a zero Pixel Spacing (some CR writers fill it so) says nothing and
    would be copied into the segmentation's pixel measures, so it is left out."""
    spacing = reference.get("PixelSpacing")
    if spacing is None or all(float(value) > 0 for value in spacing):
        return reference
    header = Dataset()
    header.update(reference)
    del header.PixelSpacing
    return header
