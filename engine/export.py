"""Exports of a diagnosed case: an annotated PNG, a self-contained HTML report, and DICOM objects written with
highdicom - a Secondary Capture (the annotated view), a TID 1500 Measurement Report SR, a Grayscale Softcopy
Presentation State and a lung Segmentation (``engine.dicom_results``; ``docs/dicom_conformance.md``). The source
study is only ever read.

De-identified is the default: patient-identifying attributes (``engine.phi``) are replaced in exported
DICOM objects and never written into reports, unless the caller asks for an identified export.
"""

from __future__ import annotations

import base64
import html
import io
import textwrap
import time
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from PIL import Image, ImageDraw, ImageFont
from PIL.PngImagePlugin import PngInfo

from engine.errors import PneumoError, UnsupportedImageError
from engine.flags import messages
from engine.io import ImageMeta, LoadedImage
from engine.io.deidentify import installation_key, pseudonym
from engine.io.dicom_write import (
    HeaderOnly,
    carry_deidentification,
    reference_dataset,
    series_body_part,
    source_image_reference,
    write_dataset,
)
from engine.lung_crop import lung_outline
from engine.model.head_card import HeadCard
from engine.notices import DISCLAIMER, MANUFACTURER, RESULT_SERIES
from engine.paths import write_atomic
from engine.result import DiagnosisResult

if TYPE_CHECKING:  # the zone evidence needs the model; exports only read its numbers
    from collections.abc import Callable

    from pydicom.dataset import Dataset

    from engine.dicom_results.scheme import HeadIdentity
    from engine.ilo.zone_evidence import ZoneEvidenceReport


def annotated_image(image: LoadedImage, result: DiagnosisResult, *, max_side: int = 1024,
                    banner: bool = True) -> Image.Image:
    """The display image with the lung contour (green) and the crop rectangle (yellow; red when the crop fell
    back to the centre), downscaled to ``max_side``; with ``banner``, the result lines are burned in below it
    (decision, threshold used, every flag, model id, research-use notice) so the picture never travels alone."""
    rgb = Image.fromarray(image.display).convert("RGB")
    outline = lung_outline(result.lung_crop.mask)  # the screen's contour width rule
    pixels = np.asarray(rgb).copy()
    pixels[outline] = (40, 220, 90)
    rgb = Image.fromarray(pixels)
    draw = ImageDraw.Draw(rgb)
    colour = (230, 60, 60) if result.lung_crop.fallback else (250, 210, 40)
    draw.rectangle(result.lung_crop.box, outline=colour, width=max(2, max(image.display.shape) // 300))
    scale = max_side / max(rgb.size)
    if scale < 1:
        rgb = rgb.resize((round(rgb.width * scale), round(rgb.height * scale)), Image.BILINEAR)
    return with_banner(rgb, result_lines(result)) if banner else rgb


def result_lines(result: DiagnosisResult) -> list[str]:
    """What every export says about a result, in the order people read it."""
    decision = result.decision
    lines = [f"PneumoLLM: {decision.headline(result.positive_label, result.probability)}",
             f"Decision: {decision.describe()}; score {result.probability:.3f} (the model's own threshold is "
             f"{result.model_threshold:.3f})"]
    lines += [f"Warning: {flag.message}" for flag in result.flags]
    lines += [f"Model: profile {result.profile}, head {result.model_id}", DISCLAIMER]
    return lines


def with_banner(picture: Image.Image, lines: list[str]) -> Image.Image:
    """``picture`` with ``lines`` written on a dark band below it (wrapped to its width)."""
    size = max(12, picture.width // 70)
    font = ImageFont.load_default(size=size)
    chars = max(20, int(picture.width / (size * 0.55)))
    wrapped = [part for line in lines for part in textwrap.wrap(line, chars) or [""]]
    band = (len(wrapped) + 1) * round(size * 1.3)
    out = Image.new("RGB", (picture.width, picture.height + band), (20, 20, 20))
    out.paste(picture, (0, 0))
    draw = ImageDraw.Draw(out)
    for index, line in enumerate(wrapped):
        colour = (255, 120, 100) if line.startswith("Warning") else (235, 235, 235)
        draw.text((size // 2, picture.height + size // 2 + index * round(size * 1.3)), line, fill=colour, font=font)
    return out


def export_png(path: Path, image: LoadedImage, result: DiagnosisResult) -> Path:
    buffer = io.BytesIO()
    info = PngInfo()  # the burned-in lines again as text, for search and for software that cannot read pixels
    info.add_text("Description", "\n".join(result_lines(result)))
    info.add_text("Software", MANUFACTURER)
    annotated_image(image, result, max_side=2048).save(buffer, format="PNG", pnginfo=info)
    write_atomic(path, buffer.getvalue())
    return path


def _png_data_uri(picture: Image.Image) -> str:
    buffer = io.BytesIO()
    picture.save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


def export_html_report(path: Path, image: LoadedImage, result: DiagnosisResult, *, card: HeadCard | None = None,
                       identified: bool = False) -> Path:
    """A single self-contained HTML file (images embedded) with the result and the model's identity."""
    decision = result.decision
    source = image.meta.path.name if identified else f"image {pseudonym(str(image.meta.path), installation_key())}"
    rows = [
        ("Source", source),
        ("Decision", decision.describe()),
        ("Score", f"calibrated probability of {result.positive_label}: {result.probability:.3f}"),
        ("Operating threshold", f"{decision.threshold:.3f} ({decision.threshold_source.value}; the model's is "
                                f"{result.model_threshold:.3f})"),
        ("Lung crop", "fallback centred crop" if result.lung_crop.fallback else "lung rectangle from segmentation"),
        ("Warnings", "; ".join(messages(result.flags)) or "none"),
        ("Model", f"profile {result.profile}, head {result.model_id}, {result.device}"),
        ("Intended use", (card.intended_use.description or card.intended_use.population) if card else "see model card"),
        ("Trained on", (card.stand_in_note or str(card.training.get("note", "")) or "see model card") if card
         else "see model card"),
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
<div class="pics"><figure><img src="{_png_data_uri(annotated_image(image, result, banner=False))}"
alt="radiograph with lung contour">
<figcaption>Radiograph, lung contour (green) and crop rectangle.</figcaption></figure>
<figure><img src="{_png_data_uri(Image.fromarray(result.lung_crop.crop))}" alt="224x224 lung crop" width="224">
<figcaption>Model input: the 224×224 lung crop.</figcaption></figure></div>
</body></html>
"""
    write_atomic(path, document.encode())
    return path


def export_secondary_capture(path: Path, image: LoadedImage, result: DiagnosisResult, *,
                             identified: bool = False) -> Path:
    """The annotated view as a DICOM Secondary Capture in a new series of the source's study."""
    import highdicom as hd

    reference = reference_dataset(image, identified)
    pixels = np.asarray(annotated_image(image, result, max_side=2048))
    orientation = reference.get("PatientOrientation")
    # A frontal chest film in display convention: rows run to the patient's left, columns to the feet.
    orientation = tuple(orientation) if orientation is not None and len(orientation) == 2 else ("L", "F")
    sc = hd.sc.SCImage.from_ref_dataset(
        ref_dataset=reference, pixel_array=pixels, photometric_interpretation="RGB", bits_allocated=8,
        coordinate_system="PATIENT", patient_orientation=orientation, series_instance_uid=hd.UID(),
        series_number=9901, sop_instance_uid=hd.UID(), instance_number=1, manufacturer=MANUFACTURER,
        series_description=RESULT_SERIES)
    sc.BurnedInAnnotation = "YES"  # the overlays and the result lines are drawn into the pixels
    source_image_reference(reference, sc)
    # The same lines as text (no patient data in them), for viewers that list comments.
    sc.ImageComments = "\n".join(result_lines(result))[:10240]
    carry_deidentification(reference, sc)
    write_dataset(path, sc)
    return path


def _header_source(image: LoadedImage | ImageMeta, what: str) -> LoadedImage | HeaderOnly:
    """The source as read by the header-only exports (SR, PR, SEG); they refuse a raster source."""
    if isinstance(image, ImageMeta):
        image = HeaderOnly(image)
    if image.meta.kind != "dicom":
        raise UnsupportedImageError(f"A DICOM {what} needs a DICOM source image; export PNG or HTML instead.",
                                    path=image.meta.path)
    return image


def _write_from_header(path: Path, image: LoadedImage | ImageMeta, what: str, identified: bool,
                       build: Callable[[LoadedImage | HeaderOnly, Dataset], Dataset]) -> Path:
    """The header-only exports' one recipe: the source's header (a raster is refused), the object ``build`` makes
    from it and the reference dataset, the de-identification record carried over, an atomic write."""
    source = _header_source(image, what)
    reference = reference_dataset(source, identified)
    dataset = build(source, reference)
    carry_deidentification(reference, dataset)
    write_dataset(path, dataset)
    return path


def export_structured_report(path: Path, image: LoadedImage | ImageMeta, result: DiagnosisResult, *,
                             identified: bool = False, evidence: ZoneEvidenceReport | None = None) -> Path:
    """A TID 1500 Measurement Report (Comprehensive SR): the coded finding, probability and thresholds, the
    decision and every warning, the six ILO zones as regions on the radiograph, the algorithm's identity
    (``engine.dicom_results.measurement_report``); with ``evidence``, the model's zone evidence too.

    ``image`` may be just its ``ImageMeta``: the SR needs the source's header, not its pixels (the PACS node).
    """
    from engine.dicom_results.measurement_report import measurement_report

    return _write_from_header(path, image, "SR", identified, lambda source, reference: measurement_report(
        reference, result, pixel_spacing=source.meta.pixel_spacing, evidence=evidence))


def export_not_diagnosed_report(path: Path, image: LoadedImage | ImageMeta, head: HeadIdentity, reasons: list[str],
                                *, identified: bool = False) -> Path:
    """The TID 1500 SR of a case the head refused before it ran (outside its intended use), with the reasons and
    no score (``engine.dicom_results.measurement_report.not_diagnosed_report``); header only."""
    from engine.dicom_results.measurement_report import not_diagnosed_report

    return _write_from_header(path, image, "SR", identified,
                              lambda _source, reference: not_diagnosed_report(reference, head, reasons))


def export_presentation_state(path: Path, image: LoadedImage | ImageMeta, result: DiagnosisResult, *,
                              identified: bool = False) -> Path:
    """A Grayscale Softcopy Presentation State drawing the lung contour, the six zones, the crop box and a caption
    over the original radiograph (``engine.dicom_results.presentation_state``); header only, like the SR."""
    from engine.dicom_results.presentation_state import presentation_state

    def build(_source: LoadedImage | HeaderOnly, reference: Dataset) -> Dataset:
        made = presentation_state(reference, result)
        series_body_part(reference, made)
        return made

    return _write_from_header(path, image, "presentation state", identified, build)


def export_segmentation(path: Path, image: LoadedImage | ImageMeta, result: DiagnosisResult, *,
                        identified: bool = False) -> Path:
    """The lung mask (and its six zones) as a binary DICOM Segmentation (``engine.dicom_results.segmentation``);
    header only, like the SR."""
    from engine.dicom_results.segmentation import segmentation

    def build(_source: LoadedImage | HeaderOnly, reference: Dataset) -> Dataset:
        made = segmentation(reference, result)
        series_body_part(reference, made)
        return made

    return _write_from_header(path, image, "segmentation", identified, build)


EXPORT_KINDS = ("png", "html", "sc", "sr", "pr", "seg")
HEADER_ONLY_KINDS = ("sr", "pr", "seg")  # need the source's header, not its pixels (the PACS node sends these)


def export_case(kind: str, path: str | Path, image: LoadedImage | ImageMeta, result: DiagnosisResult, *,
                identified: bool = False, card: HeadCard | None = None) -> Path:
    """Write one export of ``kind`` (png, html, sc, sr, pr, seg). Refuses to overwrite the source image. ``image``
    may be an ``ImageMeta`` for the kinds in ``HEADER_ONLY_KINDS``."""
    path = Path(path)
    meta = image if isinstance(image, ImageMeta) else image.meta
    source = Path(meta.path)
    if source.exists() and path.exists() and path.resolve() == source.resolve():
        raise PneumoError("Choose another file name: that is the source image, which is never modified.", path=path)
    header_only = {"sr": export_structured_report, "pr": export_presentation_state, "seg": export_segmentation}
    if kind in header_only:
        return header_only[kind](path, image, result, identified=identified)
    if kind not in EXPORT_KINDS:
        raise ValueError(f"unknown export kind {kind!r}; valid: {', '.join(EXPORT_KINDS)}")
    if isinstance(image, ImageMeta):
        raise ValueError(f"a {kind} export draws on the pixels: pass the LoadedImage, not its ImageMeta")
    if kind == "png":
        return export_png(path, image, result)
    if kind == "html":
        return export_html_report(path, image, result, card=card, identified=identified)
    return export_secondary_capture(path, image, result, identified=identified)
