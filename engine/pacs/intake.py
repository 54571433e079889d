"""What the node does with an object that arrives: queue it for diagnosis, keep it as skipped (and say why), or
refuse it because its pixel data is incomplete.

Every storage class is accepted at association (a PACS pushing a whole study must not fail on its SR or its
screen captures); only CR, DX and grayscale chest Secondary Captures are diagnosed. Our own result objects are
recognised by their Manufacturer (``engine.notices.MANUFACTURER``, written into every object we make) or their
series description, and never diagnosed again when a study comes back with them.
"""

from __future__ import annotations

import struct

from pydicom.dataset import Dataset
from pydicom.uid import UID

from engine.io.dicom import CHEST_BODY_PARTS, GREY, RADIOGRAPH_MODALITIES
from engine.io.dicom import skip_reason as image_skip_reason
from engine.notices import MANUFACTURER, RESULT_SERIES

CR_IMAGE_STORAGE = "1.2.840.10008.5.1.4.1.1.1"
DX_FOR_PRESENTATION = "1.2.840.10008.5.1.4.1.1.1.1"
DX_FOR_PROCESSING = "1.2.840.10008.5.1.4.1.1.1.1.1"
RADIOGRAPH_SOP_CLASSES = (CR_IMAGE_STORAGE, DX_FOR_PRESENTATION, DX_FOR_PROCESSING)
SECONDARY_CAPTURE = "1.2.840.10008.5.1.4.1.1.7"
PIXEL_KEYWORDS = ("PixelData", "FloatPixelData", "DoubleFloatPixelData")

ITEM, SEQUENCE_DELIMITER = 0xE000, 0xE0DD  # element numbers of group FFFE in encapsulated pixel data
END_OF_IMAGE = b"\xff\xd9"  # JPEG EOI and JPEG 2000 EOC share the marker: every frame's codestream ends with it
ENDS_WITH_MARKER = ("1.2.840.10008.1.2.4.50", "1.2.840.10008.1.2.4.51", "1.2.840.10008.1.2.4.57",
                    "1.2.840.10008.1.2.4.70", "1.2.840.10008.1.2.4.80", "1.2.840.10008.1.2.4.81",
                    "1.2.840.10008.1.2.4.90", "1.2.840.10008.1.2.4.91")


def is_own_result(ds: Dataset) -> bool:
    """True for an object this software wrote (SR, SC, presentation state, segmentation, ILO SR)."""
    return str(ds.get("Manufacturer", "")) == MANUFACTURER or str(ds.get("SeriesDescription", "")) == RESULT_SERIES


def skip_reason(ds: Dataset) -> str | None:
    """Why the node keeps this object without diagnosing it, or None when it is a radiograph to diagnose."""
    if is_own_result(ds):
        return "our own result object (PneumoLLM); not diagnosed again"
    sop = str(ds.get("SOPClassUID", ""))
    if sop in RADIOGRAPH_SOP_CLASSES:
        return None
    reason = image_skip_reason(ds)
    if reason:
        return reason
    if sop != SECONDARY_CAPTURE:
        return f"{_class_name(sop)} is not a chest radiograph"
    photometric = str(ds.get("PhotometricInterpretation", "")).upper()
    if photometric not in GREY:
        return f"secondary capture in colour ({photometric or 'no photometric interpretation'}), not a radiograph"
    modality = str(ds.get("Modality", "")).upper()
    body_part = str(ds.get("BodyPartExamined", "")).upper().strip()
    if modality not in RADIOGRAPH_MODALITIES and body_part not in CHEST_BODY_PARTS:
        return (f"secondary capture that does not say it is a chest radiograph (modality {modality or 'none'}, "
                f"body part {body_part or 'none'})")
    return None


def _class_name(sop: str) -> str:
    name = UID(sop).name if sop else ""
    return name if name and name != sop else f"SOP class {sop or '(none)'}"


def pixel_data_problem(ds: Dataset, transfer_syntax: str) -> str | None:
    """Why this image's pixel data is missing or incomplete (a truncated file, a cut codestream), or None.

    Native pixel data must hold Rows x Columns x Samples x Frames of Bits Allocated; encapsulated pixel data must
    parse as items that fit, one per frame at least, and for the JPEG families end with the end-of-image marker.
    """
    keyword = next((k for k in PIXEL_KEYWORDS if k in ds), None)
    if keyword is None:
        return "an image object without pixel data"
    data = ds[keyword].value or b""
    frames = _int(ds.get("NumberOfFrames", 1)) or 1
    if keyword != "PixelData" or not UID(transfer_syntax).is_encapsulated:
        bits = _int(ds.get("BitsAllocated", 0))
        if keyword == "FloatPixelData":
            bits = 32
        elif keyword == "DoubleFloatPixelData":
            bits = 64
        samples = _int(ds.get("SamplesPerPixel", 1)) or 1
        count = _int(ds.get("Rows", 0)) * _int(ds.get("Columns", 0)) * samples * frames
        expected = (count * bits + 7) // 8
        if expected == 0:
            return "the image header gives no size (Rows, Columns, Bits Allocated)"
        if len(data) < expected:
            return f"the pixel data is incomplete ({len(data)} of {expected} bytes)"
        return None
    fragments = _fragments(bytes(data))
    if fragments is None:
        return "the compressed pixel data is cut short (an item runs past its end)"
    if len(fragments) < frames:
        return f"the compressed pixel data holds {len(fragments)} fragment(s) for {frames} frame(s)"
    if str(transfer_syntax) in ENDS_WITH_MARKER and not fragments[-1].rstrip(b"\x00").endswith(END_OF_IMAGE):
        return "the compressed pixel data is cut short (its last frame has no end-of-image marker)"
    return None


def _fragments(data: bytes) -> list[bytes] | None:
    """The fragments after the basic offset table, or None when an item does not fit in ``data``."""
    fragments: list[bytes] = []
    offset, first = 0, True
    while offset + 8 <= len(data):
        group, element, length = struct.unpack_from("<HHI", data, offset)
        if group == 0xFFFE and element == SEQUENCE_DELIMITER:
            break
        if group != 0xFFFE or element != ITEM or offset + 8 + length > len(data):
            return None
        if not first:
            fragments.append(data[offset + 8: offset + 8 + length])
        first = False
        offset += 8 + length
    if offset < len(data) and len(data) - offset < 8:
        return None  # a torn item header
    return fragments


def _int(value: object) -> int:
    try:
        return int(value)  # type: ignore[call-overload]
    except (TypeError, ValueError):
        return 0
