"""Writing DICOM objects: the source's header as the reference, its de-identification carried over, atomic saves.

Every DICOM object the product writes (the result SC and SR, the ILO reading's SR, the PDF's encapsulation) is
built from ``reference_dataset`` and saved with ``write_dataset``; highdicom builds the objects themselves.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

import pydicom
from pydicom.dataset import Dataset

from engine.errors import PneumoError
from engine.io.deidentify import deidentify
from engine.io.image import ImageMeta, LoadedImage
from engine.paths import write_atomic


@dataclass(frozen=True)
class HeaderOnly:
    """Stands in for a ``LoadedImage`` where only its ``meta`` is read (the SR)."""

    meta: ImageMeta


def reference_dataset(image: LoadedImage | HeaderOnly, identified: bool) -> Dataset:
    """The source's header (read-only copy) with PHI replaced unless ``identified``; a minimal one for rasters."""
    if image.meta.kind == "dicom":
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


def evidence_dataset(reference: Dataset) -> Dataset:
    """The source image as an SR's evidence: its UIDs and the (already de-identified) patient/study module."""
    source_reference = Dataset()
    for keyword in ("SOPClassUID", "SOPInstanceUID", "StudyInstanceUID", "SeriesInstanceUID"):
        setattr(source_reference, keyword, reference.get(keyword))
    for keyword in ("PatientName", "PatientID", "PatientBirthDate", "PatientSex", "StudyDate", "StudyTime",
                    "ReferringPhysicianName", "AccessionNumber", "StudyID"):
        setattr(source_reference, keyword, reference.get(keyword, ""))
    return source_reference


def source_image_reference(reference: Dataset, out: Dataset) -> None:
    """Mark ``out`` (an image drawn from the source) as derived from it: Source Image Sequence (PS3.3 C.7.6.1.1.4)
    with its purpose, and the source's side: Image Laterality (U, unpaired, for a chest), Laterality when it
    has one."""
    from pydicom.sequence import Sequence

    item = Dataset()
    item.ReferencedSOPClassUID = reference.SOPClassUID
    item.ReferencedSOPInstanceUID = reference.SOPInstanceUID
    purpose = Dataset()
    purpose.CodeValue, purpose.CodingSchemeDesignator = "121322", "DCM"
    purpose.CodeMeaning = "Source image for image processing operation"
    item.PurposeOfReferenceCodeSequence = Sequence([purpose])
    out.SourceImageSequence = Sequence([item])
    out.DerivationDescription = "Source radiograph with the lung contour, crop box and result lines drawn in"
    # Image Laterality present satisfies General Series' Laterality (2C), which stays absent for an unpaired part.
    out.ImageLaterality = reference.get("ImageLaterality") or reference.get("Laterality") or "U"  # U: unpaired
    if reference.get("Laterality"):
        out.Laterality = reference.Laterality


def series_body_part(reference: Dataset, out: Dataset) -> None:
    """General Series' Body Part Examined and Laterality (2C) from the source, for objects without an Image
    Laterality (presentation state, segmentation): a chest is unpaired, so Laterality stays absent; it is empty
    (unknown) only when the source does not say what was imaged."""
    if reference.get("BodyPartExamined"):
        out.BodyPartExamined = reference.BodyPartExamined
    if reference.get("Laterality"):
        out.Laterality = reference.Laterality
    elif not reference.get("BodyPartExamined"):
        out.Laterality = ""


DEIDENTIFICATION_KEYWORDS = ("PatientIdentityRemoved", "DeidentificationMethod", "DeidentificationMethodCodeSequence",
                             "LongitudinalTemporalInformationModified")


def carry_deidentification(reference: Dataset, out: Dataset) -> None:
    """highdicom copies the patient and study modules only; the record of how they were de-identified follows."""
    for keyword in DEIDENTIFICATION_KEYWORDS:
        if keyword in reference:
            setattr(out, keyword, reference[keyword].value)


def write_dataset(path: Path, dataset: Dataset) -> None:
    # Our texts carry "≥" and the source's names may be in any character set; pydicom holds every value as str,
    # so UTF-8 encodes them all (otherwise pydicom writes "?" in their place).
    dataset.SpecificCharacterSet = "ISO_IR 192"
    buffer = io.BytesIO()
    try:
        dataset.save_as(buffer, enforce_file_format=True)
    except Exception as exc:
        raise PneumoError(f"The DICOM export could not be written ({type(exc).__name__}).") from exc
    write_atomic(path, buffer.getvalue())
