"""The result drawn over the original radiograph: a Grayscale Softcopy Presentation State (highdicom).

Unlike the Secondary Capture, nothing is burned into pixels: a viewer that shows presentation states (most PACS
viewers, Weasis; OHIF partially) displays the radiograph itself with four graphic layers over it - the lung
contour (green), the six ILO zones (cyan, labelled RU ... LL), the model's crop box (yellow; red when the crop fell
back to the centre) and a one-line caption with the result and the research-use notice. Coordinates are the
source's pixels (``engine.dicom_results.outlines``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from pydicom.dataset import Dataset

from engine.dicom_results.measurement_report import result_zones
from engine.dicom_results.outlines import box_polyline, mask_polylines
from engine.dicom_results.scheme import ALGORITHM, software_version
from engine.notices import MANUFACTURER, RESEARCH_USE, RESULT_SERIES

if TYPE_CHECKING:
    import highdicom as hd

    from engine.result import DiagnosisResult

SERIES_NUMBER = 9904
GREEN, CYAN, YELLOW, RED, WHITE = (40, 220, 90), (60, 200, 230), (250, 210, 40), (230, 60, 60), (235, 235, 235)


def caption(result: DiagnosisResult) -> str:
    """One line: the headline and the notice, in ASCII (the presentation state's text needs no character set)."""
    headline = result.decision.headline(result.positive_label, result.probability)
    line = f"{ALGORITHM}: {headline} ({RESEARCH_USE})"
    return line.replace("≥", ">=").replace("—", "-").encode("ascii", "replace").decode()


def presentation_state(reference: Dataset, result: DiagnosisResult) -> hd.pr.GrayscaleSoftcopyPresentationState:
    """The GSPS for ``result`` over the image whose header is ``reference`` (its own size: ``Rows`` x ``Columns``)."""
    import highdicom as hd

    rows, columns = int(reference.Rows), int(reference.Columns)
    crop = result.lung_crop
    if crop.mask.shape != (rows, columns):
        raise ValueError(f"lung mask {crop.mask.shape} does not match the image ({rows}, {columns})")
    pixel = hd.pr.AnnotationUnitsValues.PIXEL
    annotations = []
    layers = []

    def layer(name: str, order: int, description: str, colour: tuple[int, int, int], graphics=(), texts=()):
        graphic_layer = hd.pr.GraphicLayer(layer_name=name, order=order, description=description,
                                           display_color=hd.color.CIELabColor.from_rgb(*colour))
        layers.append(graphic_layer)
        annotations.append(hd.pr.GraphicAnnotation(referenced_images=[reference], graphic_layer=graphic_layer,
                                                   graphic_objects=list(graphics) or None,
                                                   text_objects=list(texts) or None))

    def polyline(points: np.ndarray) -> hd.pr.GraphicObject:
        return hd.pr.GraphicObject(graphic_type=hd.pr.GraphicTypeValues.POLYLINE, graphic_data=points, units=pixel)

    lungs = mask_polylines(crop.mask)
    if lungs:
        layer("LUNGS", 1, "Lung contour (segmentation)", GREEN, graphics=[polyline(line) for line in lungs[:2]])
    zones = result_zones(result)
    if zones is not None:
        outlines, labels = [], []
        for zone in zones.zones:
            found = mask_polylines(zone.mask)
            if not found:
                continue
            outlines.append(polyline(found[0]))
            side, level = zone.name.split("_")
            x0, y0, x1, y1 = zone.box
            labels.append(hd.pr.TextObject(text_value=f"{side[0]}{level[0]}".upper(), units=pixel,
                                           anchor_point=((x0 + x1) / 2, (y0 + y1) / 2), anchor_point_visible=False))
        layer("ZONES", 2, "ILO zones (thirds of apex to dome, per lung)", CYAN, graphics=outlines, texts=labels)
    layer("CROP", 3, "Model input crop" + (" (centred fallback)" if crop.fallback else ""),
          RED if crop.fallback else YELLOW, graphics=[polyline(box_polyline(crop.box))])
    margin = max(4.0, rows / 100)
    layer("CAPTION", 4, "Result", WHITE, texts=[hd.pr.TextObject(
        text_value=caption(result), units=pixel, text_justification=hd.pr.TextJustificationValues.LEFT,
        bounding_box=(margin, margin, columns - margin, margin + rows / 25))])
    return hd.pr.GrayscaleSoftcopyPresentationState(
        referenced_images=[reference], series_instance_uid=hd.UID(), series_number=SERIES_NUMBER,
        sop_instance_uid=hd.UID(), instance_number=1, manufacturer=MANUFACTURER,
        manufacturer_model_name=f"{ALGORITHM} head {result.model_id}"[:64], software_versions=software_version(),
        device_serial_number=result.model_id[:64], content_label="PNEUMOLLM",
        content_description=RESULT_SERIES[:64], graphic_annotations=annotations, graphic_layers=layers,
        series_description=RESULT_SERIES)
