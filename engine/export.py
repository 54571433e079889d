"""Exports of a diagnosed case: an annotated PNG, a self-contained HTML report, a DICOM Secondary Capture
and a DICOM Comprehensive SR (both written with highdicom). The source study is only ever read.

De-identified is the default: patient-identifying attributes (``engine.phi``) are replaced in exported
DICOM objects and never written into reports, unless the caller asks for an identified export.
"""

from __future__ import annotations

import base64
import html
import io
import time
from pathlib import Path

import numpy as np
import pydicom
from PIL import Image, ImageDraw
from pydicom.dataset import Dataset

from engine.diagnoser import DiagnosisResult
from engine.errors import PneumoError, UnsupportedImageError
from engine.io import LoadedImage
from engine.io.phi import PHI_KEYWORDS, hash_uid
from engine.paths import write_atomic
from engine.segment import mask_outline

DISCLAIMER = "Not for diagnostic use - research software. The result must be reviewed by a qualified reader."
MANUFACTURER = "PneumoLLM Viewer (research software)"


def annotated_image(image: LoadedImage, result: DiagnosisResult, *, max_side: int = 1024) -> Image.Image:
    """The display image with the lung contour (green) and the crop rectangle (yellow; dashed-looking red
    when the crop fell back to the centre), downscaled to ``max_side``."""
    rgb = Image.fromarray(image.display).convert("RGB")
    outline = mask_outline(result.lung_crop.mask, width=max(1, max(image.display.shape) // 400))
    pixels = np.asarray(rgb).copy()
    pixels[outline] = (40, 220, 90)
    rgb = Image.fromarray(pixels)
    draw = ImageDraw.Draw(rgb)
    colour = (230, 60, 60) if result.lung_crop.fallback else (250, 210, 40)
    draw.rectangle(result.lung_crop.box, outline=colour, width=max(2, max(image.display.shape) // 300))
    scale = max_side / max(rgb.size)
    if scale < 1:
        rgb = rgb.resize((round(rgb.width * scale), round(rgb.height * scale)), Image.BILINEAR)
    return rgb


def export_png(path: Path, image: LoadedImage, result: DiagnosisResult) -> Path:
    buffer = io.BytesIO()
    annotated_image(image, result, max_side=2048).save(buffer, format="PNG")
    write_atomic(path, buffer.getvalue())
    return path


def _png_data_uri(picture: Image.Image) -> str:
    buffer = io.BytesIO()
    picture.save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


def export_html_report(path: Path, image: LoadedImage, result: DiagnosisResult, *, model_info: dict | None = None,
                       identified: bool = False) -> Path:
    """A single self-contained HTML file (images embedded) with the result and the model's identity."""
    info = model_info or {}
    flags = list(result.quality_flags) + list(result.image_flags) + list(result.warnings)
    source = image.meta.path.name if identified else f"image {hash_uid(str(image.meta.path))}"
    rows = [
        ("Source", source),
        ("Result", f"{result.label} — probability of {result.labels[result.positive_index]} "
                   f"{result.probability:.3f} (operating threshold {result.threshold:.3f})"),
        ("Decision", "flagged for review" if result.decision else "not flagged"),
        ("Lung crop", "fallback centred crop" if result.lung_crop.fallback else "lung rectangle from segmentation"),
        ("Warnings", "; ".join(flags) or "none"),
        ("Model", f"profile {result.profile}, head {result.model_id}, {result.device}"),
        ("Trained on", str(info.get("stand_in_note") or info.get("training", {}).get("note", "") or "see model card")),
        ("Created", time.strftime("%Y-%m-%d %H:%M:%S")),
    ]
    table = "\n".join(f"<tr><th>{html.escape(k)}</th><td>{html.escape(v)}</td></tr>" for k, v in rows)
    document = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>PneumoLLM report</title>
<style>body{{font-family:sans-serif;margin:2em;max-width:60em}}th{{text-align:left;padding-right:1em;vertical-align:top}}
.banner{{background:#7a1010;color:white;padding:.6em 1em;font-weight:bold}} img{{max-width:100%;margin:.5em 0}}
.pics{{display:flex;gap:1em;align-items:flex-start}}</style></head><body>
<div class="banner">{html.escape(DISCLAIMER)}</div>
<h1>PneumoLLM screening report</h1>
<table>{table}</table>
<div class="pics"><figure><img src="{_png_data_uri(annotated_image(image, result))}" alt="radiograph with lung contour">
<figcaption>Radiograph, lung contour (green) and crop rectangle.</figcaption></figure>
<figure><img src="{_png_data_uri(Image.fromarray(result.lung_crop.crop))}" alt="224x224 lung crop" width="224">
<figcaption>Model input: the 224×224 lung crop.</figcaption></figure></div>
</body></html>
"""
    write_atomic(path, document.encode())
    return path


def _reference_dataset(image: LoadedImage, identified: bool) -> Dataset:
    """The source's header (read-only copy) with PHI replaced unless ``identified``; a minimal one for rasters."""
    if image.meta.source == "dicom":
        ds = pydicom.dcmread(str(image.meta.path), stop_before_pixels=True)
    else:
        ds = Dataset()
        ds.StudyInstanceUID = pydicom.uid.generate_uid()
        ds.SOPClassUID = "1.2.840.10008.5.1.4.1.1.7"
        ds.SOPInstanceUID = pydicom.uid.generate_uid()
        ds.SeriesInstanceUID = pydicom.uid.generate_uid()
        ds.Modality = "OT"
    for keyword in ("PatientName", "PatientID", "PatientBirthDate", "PatientSex", "StudyDate", "StudyTime",
                    "ReferringPhysicianName", "AccessionNumber", "StudyID"):
        if keyword not in ds:
            setattr(ds, keyword, "")
    if not identified:
        deidentify(ds)
    return ds


def deidentify(ds: Dataset) -> None:
    """Blank identifying attributes in place; the patient id becomes a stable hash so exports still group."""
    original_id = str(ds.get("PatientID", ""))
    for element in list(ds.iterall()):
        if element.keyword in PHI_KEYWORDS or element.VR == "PN":
            element.value = "" if element.VR != "SQ" else []
    ds.PatientName = "Anonymous^"
    ds.PatientID = hash_uid(original_id) or "anonymous"
    ds.PatientIdentityRemoved = "YES"
    ds.remove_private_tags()


def export_secondary_capture(path: Path, image: LoadedImage, result: DiagnosisResult, *,
                             identified: bool = False) -> Path:
    """The annotated view as a DICOM Secondary Capture in a new series of the source's study."""
    import highdicom as hd

    reference = _reference_dataset(image, identified)
    pixels = np.asarray(annotated_image(image, result, max_side=2048))
    orientation = reference.get("PatientOrientation")
    # A frontal chest film in display convention: rows run to the patient's left, columns to the feet.
    orientation = tuple(orientation) if orientation is not None and len(orientation) == 2 else ("L", "F")
    sc = hd.sc.SCImage.from_ref_dataset(
        ref_dataset=reference, pixel_array=pixels, photometric_interpretation="RGB", bits_allocated=8,
        coordinate_system="PATIENT", patient_orientation=orientation, series_instance_uid=hd.UID(),
        series_number=9901, sop_instance_uid=hd.UID(), instance_number=1, manufacturer=MANUFACTURER,
        series_description="PneumoLLM result (not for diagnosis)")
    sc.BurnedInAnnotation = "YES"  # the overlays are drawn into the pixels
    _write_dataset(path, sc)
    return path


def export_structured_report(path: Path, image: LoadedImage, result: DiagnosisResult, *,
                             identified: bool = False) -> Path:
    """A Comprehensive SR with the probability, threshold, decision and model identity."""
    import highdicom as hd
    from pydicom.sr.codedict import codes

    if image.meta.source != "dicom":
        raise UnsupportedImageError("A DICOM SR needs a DICOM source image; export PNG or HTML instead.",
                                    path=image.meta.path)
    reference = _reference_dataset(image, identified)
    local = "99PNEUMOLLM"
    positive = result.labels[result.positive_index]
    items = [
        hd.sr.TextContentItem(name=hd.sr.CodedConcept("RESULT", local, "PneumoLLM result"), value=result.label,
                              relationship_type=hd.sr.RelationshipTypeValues.CONTAINS),
        hd.sr.NumContentItem(name=hd.sr.CodedConcept("PROB", local, f"Probability of {positive}"),
                             value=round(result.probability, 6), unit=codes.UCUM.NoUnits,
                             relationship_type=hd.sr.RelationshipTypeValues.CONTAINS),
        hd.sr.NumContentItem(name=hd.sr.CodedConcept("THRESH", local, "Operating threshold"),
                             value=round(result.threshold, 6), unit=codes.UCUM.NoUnits,
                             relationship_type=hd.sr.RelationshipTypeValues.CONTAINS),
        hd.sr.TextContentItem(name=hd.sr.CodedConcept("MODEL", local, "Model"),
                              value=f"PneumoLLM {result.profile} head {result.model_id}",
                              relationship_type=hd.sr.RelationshipTypeValues.CONTAINS),
        hd.sr.TextContentItem(name=hd.sr.CodedConcept("QUALITY", local, "Lung crop quality"),
                              value="; ".join(result.quality_flags) or "ok",
                              relationship_type=hd.sr.RelationshipTypeValues.CONTAINS),
        hd.sr.TextContentItem(name=hd.sr.CodedConcept("DISCLAIM", local, "Disclaimer"), value=DISCLAIMER[:1024],
                              relationship_type=hd.sr.RelationshipTypeValues.CONTAINS),
    ]
    root = hd.sr.ContainerContentItem(name=hd.sr.CodedConcept("REPORT", local, "PneumoLLM screening result"),
                                      template_id=None)
    root.ContentSequence = hd.sr.ContentSequence(items)
    source_reference = Dataset()
    for keyword in ("SOPClassUID", "SOPInstanceUID", "StudyInstanceUID", "SeriesInstanceUID"):
        setattr(source_reference, keyword, reference.get(keyword))
    for keyword in ("PatientName", "PatientID", "PatientBirthDate", "PatientSex", "StudyDate", "StudyTime",
                    "ReferringPhysicianName", "AccessionNumber", "StudyID"):
        setattr(source_reference, keyword, reference.get(keyword, ""))
    sr = hd.sr.ComprehensiveSR(evidence=[source_reference], content=root, series_instance_uid=hd.UID(),
                               series_number=9902, sop_instance_uid=hd.UID(), instance_number=1,
                               manufacturer=MANUFACTURER, series_description="PneumoLLM result (not for diagnosis)")
    _write_dataset(path, sr)
    return path


def _write_dataset(path: Path, dataset: Dataset) -> None:
    buffer = io.BytesIO()
    try:
        dataset.save_as(buffer, enforce_file_format=True)
    except Exception as exc:  # noqa: BLE001
        raise PneumoError(f"The DICOM export could not be written ({type(exc).__name__}).") from exc
    write_atomic(path, buffer.getvalue())
