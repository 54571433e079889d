"""Small, fully specified DICOM files for edge-case tests (made with pydicom, written to tmp_path)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, generate_uid

CR_STORAGE = "1.2.840.10008.5.1.4.1.1.1"
DX_STORAGE = "1.2.840.10008.5.1.4.1.1.1.1"
SR_STORAGE = "1.2.840.10008.5.1.4.1.1.88.22"
GSPS_STORAGE = "1.2.840.10008.5.1.4.1.1.11.1"
SC_STORAGE = "1.2.840.10008.5.1.4.1.1.7"

PHI_VALUES = {"PatientName": "Doe^Jane", "PatientID": "MRN-4471-XYZ", "PatientBirthDate": "19610203",
              "AccessionNumber": "ACC-99812", "InstitutionName": "St Elsewhere Hospital"}


def chest_like(rows: int = 256, columns: int = 240, dtype: type = np.uint16, high: int = 4000) -> np.ndarray:
    """A synthetic frontal chest: two dark lung ellipses on a brighter body (MONOCHROME2 sense)."""
    yy, xx = np.mgrid[0:rows, 0:columns].astype(np.float32)
    body = 0.75 * np.ones((rows, columns), np.float32)
    for cx in (0.3, 0.7):
        lung = ((xx / columns - cx) / 0.16) ** 2 + ((yy / rows - 0.5) / 0.32) ** 2 < 1
        body[lung] = 0.25
    body += 0.02 * np.sin(xx / 5.0)
    return (body * high).astype(dtype)


def make_dicom(path: Path, pixels: np.ndarray | None = None, *, sop_class: str = CR_STORAGE,
               modality: str = "CR", photometric: str = "MONOCHROME2", bits_stored: int | None = None,
               study_uid: str | None = None, series_uid: str | None = None, preamble: bool = True,
               **attributes: Any) -> Path:
    """Write a single-frame grey DICOM. Extra keyword arguments become DICOM attributes."""
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = sop_class
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID = sop_class
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    ds.StudyInstanceUID = study_uid or generate_uid()
    ds.SeriesInstanceUID = series_uid or generate_uid()
    ds.Modality = modality
    for keyword, value in PHI_VALUES.items():
        setattr(ds, keyword, value)
    if pixels is not None:
        pixels = np.ascontiguousarray(pixels)
        ds.Rows, ds.Columns = pixels.shape[:2]
        ds.SamplesPerPixel = 1 if pixels.ndim == 2 else pixels.shape[2]
        ds.PhotometricInterpretation = photometric if pixels.ndim == 2 else "RGB"
        if pixels.ndim == 3:
            ds.PlanarConfiguration = 0
        ds.BitsAllocated = pixels.dtype.itemsize * 8
        ds.BitsStored = bits_stored or ds.BitsAllocated
        ds.HighBit = ds.BitsStored - 1
        ds.PixelRepresentation = 1 if pixels.dtype.kind == "i" else 0
        ds.PixelData = pixels.tobytes()
    for keyword, value in attributes.items():
        setattr(ds, keyword, value)
    ds.save_as(path, enforce_file_format=preamble)
    return path


def content_items(dataset: Dataset) -> list[Dataset]:
    """Every content item of an SR, depth first (a TID 1500 report nests the result in measurement groups)."""
    found = []
    for item in dataset.get("ContentSequence", []):
        found += [item, *content_items(item)]
    return found


__all__ = ["CR_STORAGE", "CTImageStorage", "DX_STORAGE", "GSPS_STORAGE", "PHI_VALUES", "SC_STORAGE",
           "SR_STORAGE", "chest_like", "content_items", "make_dicom"]
