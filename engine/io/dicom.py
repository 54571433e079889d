"""DICOM decoding: pydicom with its pylibjpeg / GDCM / Pillow pixel plugins.

There is one decoding path. (An earlier SimpleITK fallback read pixels through GDCM's own value pipeline and
gave other values than the header's Modality LUT on real CR files; GDCM is already one of pydicom's plugins.)
Headers that cannot describe a real image are refused before decoding (``check_header``), and a compressed
frame only some decoders accept, or a JPEG 2000 codestream whose structure is broken, is refused as damaged
(``_decode``).

Order of operations (PS3.4 N.2 grayscale pipeline): Modality LUT (rescale slope/intercept or a Modality
LUT Sequence) -> VOI LUT or window, for display only -> MONOCHROME1 / Presentation LUT Shape polarity,
applied exactly once. The LUTs are evaluated over the range of stored values and then gathered, which is
what keeps decode-to-display close to pydicom's bare ``pixel_array``.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from pathlib import Path

import numpy as np
import pydicom
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.encaps import generate_frames
from pydicom.errors import InvalidDicomError
from pydicom.pixels import apply_modality_lut, apply_voi_lut
from pydicom.pixels import pixel_array as decode_with
from pydicom.uid import (
    JPEG2000,
    UID,
    DeflatedExplicitVRLittleEndian,
    ExplicitVRBigEndian,
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
    JPEG2000Lossless,
    JPEGBaseline8Bit,
    JPEGExtended12Bit,
    JPEGLossless,
    JPEGLosslessSV1,
    JPEGLSLossless,
    JPEGLSNearLossless,
    RLELossless,
)

from engine.errors import DicomReadError, PneumoError, UnsupportedImageError
from engine.flags import Flag
from engine.io import decoder_chatter, reduced
from engine.io.image import ImageMeta, LoadedImage, affine_uint8, check_dimensions, window_coefficients, window_uint8
from engine.io.j2k_integrity import codestream_problem

log = logging.getLogger(__name__)
decoder_chatter.route_library_logging()

# Everything this module decodes (pydicom + pylibjpeg / GDCM): the four not-encapsulated ones first (a sender that
# cannot compress offers only them), then deflate, JPEG baseline, extended and lossless, JPEG-LS, JPEG 2000, RLE.
# The PACS node accepts exactly these.
DECODABLE_TRANSFER_SYNTAXES = (ExplicitVRLittleEndian, ImplicitVRLittleEndian, DeflatedExplicitVRLittleEndian,
                               ExplicitVRBigEndian, JPEGBaseline8Bit, JPEGExtended12Bit, JPEGLosslessSV1, JPEGLossless,
                               JPEGLSLossless, JPEGLSNearLossless, JPEG2000Lossless, JPEG2000, RLELossless)

# Frames every decoder must agree to decode: a second plugin refusing a JPEG that the first one decoded
# (silently filling the lost part) is how a truncated or overwritten JPEG shows itself.
JPEG_FAMILY = frozenset({JPEGBaseline8Bit, JPEGExtended12Bit, JPEGLossless, JPEGLosslessSV1})
J2K_FAMILY = frozenset({JPEG2000Lossless, JPEG2000})
GREY = frozenset({"MONOCHROME1", "MONOCHROME2"})
COLOUR = frozenset({"RGB", "YBR_FULL", "YBR_FULL_422", "YBR_ICT", "YBR_RCT", "YBR_PARTIAL_420"})
DAMAGED = "Unreadable: damaged compressed pixel data ({}) — ask for a new export of this image."

RADIOGRAPH_MODALITIES = frozenset({"CR", "DX", "RG", "DR"})
NON_RADIOGRAPH_MODALITIES = frozenset(
    {"CT", "MR", "US", "NM", "PT", "MG", "XA", "RF", "OCT", "OP", "ES", "SM", "IVUS", "ECG", "XC", "GM"}
)
LATERAL_VIEWS = frozenset({"LL", "RL", "LATERAL", "LAT", "LLD", "RLD"})
CHEST_BODY_PARTS = frozenset({"CHEST", "THORAX", "LUNG", "LUNGS", "TORAX", "THORAX_PA"})
# LUT domains up to this many entries are gathered; wider (32-bit, float) data is converted directly.
MAX_LUT_ENTRIES = 1 << 20

_SOP_PREFIX_REASONS = (
    ("1.2.840.10008.5.1.4.1.1.88.", "structured report (no image)"),
    ("1.2.840.10008.5.1.4.1.1.11.", "presentation state (no image)"),
    ("1.2.840.10008.5.1.4.1.1.104.", "encapsulated document (no image)"),
    ("1.2.840.10008.5.1.4.1.1.66", "raw data or registration object (no image)"),
    ("1.2.840.10008.5.1.4.1.1.9.", "waveform (no image)"),
)
_SECONDARY_CAPTURE_PREFIX = "1.2.840.10008.5.1.4.1.1.7"
# Secondary captures of a workstation screen, synthetic images or drawings: reports, dose sheets, ...
_TEXT_CONVERSION_TYPES = frozenset({"WSD", "SYN", "DRW", "SD"})


def read_header(path: Path) -> Dataset:
    """Read a DICOM file without its pixels (for study scans). Raises DicomReadError."""
    return _dcmread(path, stop_before_pixels=True)


def skip_reason(ds: Dataset) -> str | None:
    """Why this object is not an image we can show as a radiograph, or None if it is one."""
    sop = str(ds.get("SOPClassUID", ""))
    for prefix, reason in _SOP_PREFIX_REASONS:
        if sop.startswith(prefix):
            return reason
    modality = str(ds.get("Modality", "")).upper()
    if modality in {"SR", "PR", "KO", "DOC", "REG", "SEG", "RTSTRUCT", "RTPLAN"}:
        return f"{modality} object (no radiograph)"
    if sop.startswith(_SECONDARY_CAPTURE_PREFIX):
        # Chest films converted to Secondary Capture keep a radiograph modality or a chest body part;
        # screen grabs of reports and dose sheets have neither.
        conversion = str(ds.get("ConversionType", "")).upper()
        body_part = str(ds.get("BodyPartExamined", "")).upper().strip()
        looks_like_radiograph = modality in RADIOGRAPH_MODALITIES or body_part in CHEST_BODY_PARTS
        if conversion in _TEXT_CONVERSION_TYPES and not looks_like_radiograph:
            return f"secondary capture of a screen or document (conversion type {conversion})"
    return None


def review_flags(ds: Dataset) -> tuple[Flag, ...]:
    """Reasons an image must not be diagnosed silently: wrong modality, lateral view, other body part."""
    flags: list[Flag] = []
    modality = str(ds.get("Modality", "")).upper()
    if modality in NON_RADIOGRAPH_MODALITIES:
        flags.append(Flag("other_modality", f"modality {modality} is not a projection radiograph"))
    view = str(ds.get("ViewPosition", "")).upper().strip()
    if view in LATERAL_VIEWS:
        flags.append(Flag("lateral_view", f"lateral view ({view}); the model reads frontal (PA/AP) views"))
    body_part = str(ds.get("BodyPartExamined", "")).upper().strip()
    if body_part and body_part not in CHEST_BODY_PARTS:
        flags.append(Flag("other_body_part", f"body part {body_part}, not chest"))
    frames = _int(ds.get("NumberOfFrames", 1)) or 1
    if frames > 1:
        flags.append(Flag("multi_frame", f"multi-frame object ({frames} frames)"))
    return tuple(flags)


def read_dicom(path: Path, *, model_side: int | None = None, max_factor: int = 8) -> LoadedImage:
    """Decode one DICOM radiograph. See ``engine.io.load_image``; with ``model_side``, ``load_for_model``."""
    try:
        return _read_dicom(path, model_side, max_factor)
    except PneumoError:
        raise
    except MemoryError:
        raise UnsupportedImageError("Not enough memory to decode this image.", path=path) from None
    except Exception as exc:  # noqa: BLE001 - pydicom parses lazily; a damaged element fails on first use
        log.debug("DICOM read failed late: %s", type(exc).__name__)
        raise DicomReadError("The DICOM header is damaged or truncated.", path=path) from None


def _read_dicom(path: Path, model_side: int | None = None, max_factor: int = 8) -> LoadedImage:
    ds = _dcmread(path, stop_before_pixels=False)
    reason = skip_reason(ds)
    if reason is not None:
        raise UnsupportedImageError(f"Not a radiograph: {reason}.", path=path)
    if "PixelData" not in ds:
        # pydicom returns an empty data set when the file ends inside the pixel data: the header alone tells.
        header = ds if len(ds) else _dcmread(path, stop_before_pixels=True)
        if not len(header):
            raise DicomReadError("The file ends inside its DICOM header — it was cut short or damaged.", path=path)
        if "Rows" in header and "BitsAllocated" in header and "FloatPixelData" not in ds \
                and "DoubleFloatPixelData" not in ds:
            raise DicomReadError("The image header promises pixels the file does not hold — the file was cut "
                                 "short or damaged; copy it again.", path=path)
        if "FloatPixelData" in ds or "DoubleFloatPixelData" in ds:
            raise UnsupportedImageError("Floating-point pixel data (a parametric map or derived image) — "
                                        "not a radiograph as acquired.", path=path)
        raise DicomReadError("The DICOM file has no pixel data — it is not an image.", path=path)
    check_header(ds, path)
    rows, columns = _int(ds.get("Rows")), _int(ds.get("Columns"))
    if rows is None or columns is None:
        raise DicomReadError("The DICOM header lacks Rows/Columns — the file is damaged.", path=path)
    check_dimensions(rows, columns, path)
    frames = _int(ds.get("NumberOfFrames", 1)) or 1
    if frames > 1:
        raise UnsupportedImageError(
            f"Multi-frame object ({frames} frames) — export a single-frame chest radiograph.", path=path
        )
    _check_native_length(ds, rows, columns, path)

    meta = _meta(ds, path, rows, columns)
    factor = reduced.reduction_for(rows, columns, model_side, max_factor) if model_side else 1
    if factor > 1:
        stored, decoder, decoded_at = _decode_for_model(ds, path, factor)
    else:
        (stored, decoder), decoded_at = _decode(ds, path), 1
    if stored.ndim == 3:  # colour: collapse to grey (ITU-R BT.601 luma)
        stored = stored[..., :3].astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32)
        meta = replace(meta, flags=(*meta.flags, Flag("colour_converted", "colour DICOM converted to grey")))
    if stored.shape != reduced.reduced_shape(rows, columns, decoded_at):
        raise DicomReadError(
            f"Decoded pixels are {stored.shape}, header says {rows}x{columns} — the file is damaged.",
            path=path,
        )
    extremes = (float(stored.min()), float(stored.max())) if factor > decoded_at == 1 else None
    stored = reduced.area_reduce(stored, factor // decoded_at)
    meta = replace(meta, decoder=decoder)
    image = _build(ds, meta, stored, modality_done=False)
    image.reduction, image.stored_extremes = factor, extremes
    return image


def _decode_for_model(ds: Dataset, path: Path, factor: int) -> tuple[np.ndarray, str, int]:
    """Decode at 1/``factor`` where the codec can (``engine.io.reduced``); returns (pixels, decoder, the factor the
    decoder applied). Whatever the reduced decoders cannot take, or refuse, or complain about, goes through
    ``_decode`` as ``load_image`` does, with every damaged-data check of that path."""
    ts = getattr(getattr(ds, "file_meta", None), "TransferSyntaxUID", None)
    grey = str(ds.get("PhotometricInterpretation", "")).upper().strip() in GREY \
        and (_int(ds.get("SamplesPerPixel", 1)) or 1) == 1 and not _int(ds.get("PixelRepresentation", 0))
    allocated = _int(ds.get("BitsAllocated"))
    if grey and ((ts in J2K_FAMILY and allocated in (8, 16)) or (ts == JPEGBaseline8Bit and allocated == 8)):
        frame = next(generate_frames(ds.PixelData, number_of_frames=1))
        if ts in J2K_FAMILY:
            _check_codestreams(ds, ts, path)  # the structural check ``_decode`` makes, before any decoding
        with decoder_chatter.captured() as said:
            try:
                if ts in J2K_FAMILY:
                    stored, applied = reduced.decode_j2k(frame, factor), factor
                else:
                    stored, applied = reduced.decode_jpeg(frame, factor)
            except Exception as exc:  # noqa: BLE001 - refused here: the full decode path decides
                log.debug("reduced decode refused the frame: %s", type(exc).__name__)
                stored = None
        if stored is not None and not said:
            return stored, "Pillow", applied
    stored, decoder = _decode(ds, path)
    return stored, decoder, 1


def _dcmread(path: Path, *, stop_before_pixels: bool) -> Dataset:
    with decoder_chatter.captured(native=False):  # pydicom warns (e.g. a cut-short file) before we can explain
        return _dcmread_quietly(path, stop_before_pixels=stop_before_pixels)


def _dcmread_quietly(path: Path, *, stop_before_pixels: bool) -> Dataset:
    try:
        ds = pydicom.dcmread(str(path), stop_before_pixels=stop_before_pixels)
    except InvalidDicomError:
        # Some exports omit the 128-byte preamble; accept them only if they parse into an image header.
        try:
            ds = pydicom.dcmread(str(path), stop_before_pixels=stop_before_pixels, force=True)
        except Exception as exc:  # noqa: BLE001 - any parser failure means "not DICOM" to the user
            log.debug("forced read failed: %s", type(exc).__name__)
            raise DicomReadError("Not a DICOM file (no DICM marker) — open a .dcm export.", path=path) from None
        if "SOPClassUID" not in ds and "Rows" not in ds:
            raise DicomReadError("Not a DICOM file (no DICM marker) — open a .dcm export.", path=path) from None
    except (OSError, EOFError) as exc:
        raise DicomReadError(f"The file could not be read ({type(exc).__name__}).", path=path) from None
    except Exception as exc:  # noqa: BLE001 - pydicom raises many types for damaged headers
        log.debug("dcmread failed: %s", type(exc).__name__)
        raise DicomReadError("The DICOM header is damaged or truncated.", path=path) from None
    _name_transfer_syntax(ds)
    return ds


def _check_native_length(ds: Dataset, rows: int, columns: int, path: Path) -> None:
    ts = getattr(getattr(ds, "file_meta", None), "TransferSyntaxUID", None)
    if ts is not None and ts.is_compressed:
        return
    bits_allocated = _int(ds.get("BitsAllocated")) or 0
    samples = _int(ds.get("SamplesPerPixel", 1)) or 1
    if bits_allocated not in (1, 8, 16, 32, 64):
        raise DicomReadError(f"Unsupported Bits Allocated ({bits_allocated}) — the header is damaged.", path=path)
    expected = rows * columns * samples * bits_allocated // 8
    actual = len(ds.PixelData) if ds.PixelData is not None else 0
    if actual < expected:
        raise DicomReadError(
            f"Pixel data is truncated ({actual} of {expected} bytes) — the file was cut short.", path=path
        )
    row_bytes = columns * samples * max(bits_allocated, 8) // 8
    if actual > expected + max(row_bytes, 2):  # one padding byte is normal; whole extra rows are not
        raise DicomReadError(
            f"Pixel data holds {actual} bytes, the header's {columns}x{rows} needs {expected} — the header is "
            "damaged.", path=path
        )


def _decode(ds: Dataset, path: Path) -> tuple[np.ndarray, str]:
    ts = getattr(getattr(ds, "file_meta", None), "TransferSyntaxUID", None)
    name = ts.name if ts is not None else "unknown transfer syntax"
    with decoder_chatter.captured() as said:
        try:
            stored = np.asarray(ds.pixel_array)
        except Exception as exc:  # noqa: BLE001 - every plugin failed; pydicom's details are in the log
            log.debug("no pixel plugin could decode: %s", type(exc).__name__)
            stored = None
    if stored is None:
        if ts is not None and ts.is_compressed:
            raise DicomReadError(DAMAGED.format(name), path=path)
        raise DicomReadError("The pixel data could not be decoded — the file is damaged.", path=path)
    if ts in JPEG_FAMILY or (ts in J2K_FAMILY and said):
        _cross_check(ds, ts, path)
    if ts in J2K_FAMILY:
        _check_codestreams(ds, ts, path)
    return stored, "pydicom"


def _check_codestreams(ds: Dataset, ts: UID, path: Path) -> None:
    """JPEG 2000 decoders return overwritten codestreams as damaged images without a word: check the
    codestream's own structure instead (``engine.io.j2k_integrity``)."""
    frames = _int(ds.get("NumberOfFrames", 1)) or 1
    for frame in generate_frames(ds.PixelData, number_of_frames=frames):
        problem = codestream_problem(frame)
        if problem is not None:
            log.info("JPEG 2000 codestream check: %s", problem)
            raise DicomReadError(DAMAGED.format(ts.name), path=path)


def _cross_check(ds: Dataset, ts: UID, path: Path) -> None:
    """A damaged frame that one decoder patched over is refused when no other installed decoder accepts it.

    (Measured on the corpus: a JPEG cut short or overwritten mid-frame decodes with pylibjpeg, which fills the
    gap, while Pillow and GDCM refuse it; intact frames decode with all three.)"""
    with decoder_chatter.captured():
        for plugin in ("pillow", "gdcm"):
            try:
                decode_with(ds, decoding_plugin=plugin)
                return
            except Exception as exc:  # noqa: BLE001 - a refusal is the answer we are looking for
                log.debug("%s refused the frame: %s", plugin, type(exc).__name__)
    raise DicomReadError(DAMAGED.format(ts.name), path=path)


def _name_transfer_syntax(ds: Dataset) -> None:
    """A bare data set (no preamble, no file meta) has no Transfer Syntax UID; it is whatever encoding pydicom
    parsed it with, and naming it lets the normal decoding path read its pixels."""
    meta = getattr(ds, "file_meta", None)
    if meta is not None and "TransferSyntaxUID" in meta:
        return
    implicit, little = ds.original_encoding
    if implicit is None:
        return
    if meta is None:
        meta = ds.file_meta = FileMetaDataset()
    meta.TransferSyntaxUID = (ImplicitVRLittleEndian if implicit else
                              ExplicitVRLittleEndian if little else ExplicitVRBigEndian)


def check_header(ds: Dataset, path: Path) -> None:
    """Refuse image headers that cannot describe a real radiograph, before any pixel is decoded."""
    photometric = str(ds.get("PhotometricInterpretation", "")).upper().strip()
    samples = _int(ds.get("SamplesPerPixel", 1)) or 1
    if photometric == "PALETTE COLOR":
        raise UnsupportedImageError("Palette colour image — a radiograph is stored in grey levels.", path=path)
    if photometric not in GREY | COLOUR:
        raise DicomReadError(f"Unknown Photometric Interpretation ({photometric or 'none'}) — the header is "
                             "damaged.", path=path)
    if (photometric in GREY) != (samples == 1) or samples not in (1, 3):
        raise DicomReadError(f"{photometric} with {samples} samples per pixel — the header is inconsistent.",
                             path=path)
    allocated, stored = _int(ds.get("BitsAllocated")), _int(ds.get("BitsStored"))
    high_bit = _int(ds.get("HighBit"))
    if allocated is not None and stored is not None and not 1 <= stored <= allocated:
        raise DicomReadError(f"Bits Stored ({stored}) does not fit Bits Allocated ({allocated}) — the header is "
                             "damaged.", path=path)
    if allocated is not None and high_bit is not None and high_bit >= allocated:
        raise DicomReadError(f"High Bit ({high_bit}) lies outside Bits Allocated ({allocated}) — the header is "
                             "damaged.", path=path)
    if _int(ds.get("PixelRepresentation", 0)) not in (0, 1):
        raise DicomReadError("Pixel Representation is neither unsigned nor signed — the header is damaged.",
                             path=path)
    if "RescaleSlope" in ds:
        try:
            slope = float(ds.RescaleSlope)
        except (TypeError, ValueError):
            slope = 1.0  # an unreadable slope is ignored (``_rescale``), as viewers do
        if slope == 0 or not np.isfinite(slope):
            raise DicomReadError(f"Rescale Slope is {slope:g} — every pixel would get the same value; the header "
                                 "is damaged.", path=path)


def _build(ds: Dataset, meta: ImageMeta, stored: np.ndarray, *, modality_done: bool) -> LoadedImage:
    invert = _needs_inversion(ds)
    integer = np.issubdtype(stored.dtype, np.integer)
    function = str(ds.get("VOILUTFunction", "LINEAR")).upper()
    window = _file_window(ds)
    linear = (
        "ModalityLUTSequence" not in ds and "VOILUTSequence" not in ds and function != "SIGMOID"
    ) or not integer
    if linear:
        # Common case: rescale, window and polarity are all affine, so the display image is one fused
        # multiply-add-clip over the stored values (no float image, no gather).
        slope, intercept = (1.0, 0.0) if modality_done else _rescale(ds)
        smin, smax = float(stored.min()), float(stored.max())
        lo, hi = sorted((smin * slope + intercept, smax * slope + intercept))
        if window is not None:
            scale, offset = window_coefficients(window[0], window[1], function)
        else:
            scale = 255.0 / (hi - lo) if hi > lo else 0.0
            offset = -lo * scale
        scale, offset = scale * slope, offset + intercept * scale
        if invert:
            scale, offset = -scale, 255.0 - offset
        display = affine_uint8(stored, scale, offset)
        image = LoadedImage(meta, display, stored, invert=invert, rescale=(slope, intercept))
    else:
        # LUT case (Modality/VOI LUT Sequence, sigmoid): evaluate over the stored range, then gather.
        smin, smax = int(stored.min()), int(stored.max())
        offset = min(smin, 0)
        domain = np.arange(offset, smax + 1, dtype=np.int64)
        values = domain.astype(np.float32) if modality_done else _modality(domain, ds)
        used = values[smin - offset : smax - offset + 1]
        lo, hi = float(used.min()), float(used.max())
        display_lut = _display_lut(values, ds, lo, hi, invert)
        display = display_lut[stored if offset == 0 else stored.astype(np.int64) - offset]
        image = LoadedImage(meta, display, stored, values, offset, invert)
    if window is not None and invert:
        window = (lo + hi - window[0], window[1])
    image.default_window = window
    return image


def _rescale(ds: Dataset) -> tuple[float, float]:
    try:
        slope = float(ds.get("RescaleSlope", 1.0) or 1.0)
        intercept = float(ds.get("RescaleIntercept", 0.0) or 0.0)
    except (TypeError, ValueError):
        return 1.0, 0.0
    return slope, intercept


def _modality(values: np.ndarray, ds: Dataset) -> np.ndarray:
    return np.asarray(apply_modality_lut(values, ds), dtype=np.float32)


def _display_lut(values: np.ndarray, ds: Dataset, lo: float, hi: float, invert: bool) -> np.ndarray:
    """Map modality values to 8-bit display levels: VOI LUT, else window, else full range."""
    display: np.ndarray | None = None
    if "VOILUTSequence" in ds:
        try:
            item = ds.VOILUTSequence[0]
            bits = int(item.LUTDescriptor[2]) or 16
            # A VOI LUT is indexed by integer modality values; pydicom warns (rightly) on float input.
            indices = np.rint(values).astype(np.int64)
            out = np.asarray(apply_voi_lut(indices, ds, prefer_lut=True), dtype=np.float32)
            display = np.clip(out * (255.0 / ((1 << bits) - 1)) + 0.5, 0, 255).astype(np.uint8)
        except Exception:  # noqa: BLE001 - a broken VOI LUT falls back to the window or full range
            log.info("VOI LUT Sequence unusable; falling back")
    if display is None:
        window = _file_window(ds)
        if window is not None:
            display = window_uint8(values, window[0], window[1], str(ds.get("VOILUTFunction", "LINEAR")))
    if display is None:
        scale = 255.0 / (hi - lo) if hi > lo else 0.0
        display = affine_uint8(values, scale, -lo * scale)
    return 255 - display if invert else display


def _file_window(ds: Dataset) -> tuple[float, float] | None:
    if "WindowCenter" not in ds or "WindowWidth" not in ds:
        return None
    try:
        center = _first(ds.WindowCenter)
        width = _first(ds.WindowWidth)
    except (TypeError, ValueError):
        return None
    if width <= 0:
        return None
    return center, width


def _needs_inversion(ds: Dataset) -> bool:
    """MONOCHROME1 is inverted once; a Presentation LUT Shape of INVERSE on MONOCHROME1 says the same thing
    (DX IODs require it) and must not flip the image back. MONOCHROME2 + INVERSE is inverted."""
    photometric = str(ds.get("PhotometricInterpretation", "")).upper().strip()
    shape = str(ds.get("PresentationLUTShape", "")).upper().strip()
    if photometric == "MONOCHROME1":
        return True
    return shape == "INVERSE"


def _meta(ds: Dataset, path: Path, rows: int, columns: int) -> ImageMeta:
    ts = getattr(getattr(ds, "file_meta", None), "TransferSyntaxUID", None)
    return ImageMeta(
        path=path,
        kind="dicom",
        rows=rows,
        columns=columns,
        modality=_text(ds.get("Modality")),
        view=_text(ds.get("ViewPosition")),
        photometric=_text(ds.get("PhotometricInterpretation")),
        transfer_syntax=str(ts) if ts is not None else None,
        transfer_syntax_name=ts.name if ts is not None else None,
        bits_stored=_int(ds.get("BitsStored")),
        pixel_spacing=pixel_spacing(ds),
        imager_pixel_spacing=pixel_spacing(ds, ("ImagerPixelSpacing",)),
        magnification_factor=_positive(ds.get("EstimatedRadiographicMagnificationFactor")),
        study_uid=_text(ds.get("StudyInstanceUID")),
        series_uid=_text(ds.get("SeriesInstanceUID")),
        sop_instance_uid=_text(ds.get("SOPInstanceUID")),
        flags=review_flags(ds),
    )


def meta_from_header(ds: Dataset, path: Path) -> ImageMeta:
    """Header-only metadata for study scans (no decoding)."""
    return _meta(ds, path, _int(ds.get("Rows")) or 0, _int(ds.get("Columns")) or 0)


def pixel_spacing(ds: Dataset, keywords: tuple[str, ...] = ("PixelSpacing", "ImagerPixelSpacing")
                  ) -> tuple[float, float] | None:
    """PixelSpacing, else ImagerPixelSpacing (or the ``keywords`` given), in mm; None when absent or zero
    (e.g. "0.000")."""
    for keyword in keywords:
        value = ds.get(keyword)
        if value is None:
            continue
        try:
            row, col = float(value[0]), float(value[1])
        except (TypeError, ValueError, IndexError):
            continue
        if row > 0 and col > 0:
            return row, col
    return None


def _first(value: object) -> float:
    if isinstance(value, list | tuple | pydicom.multival.MultiValue):
        value = value[0]
    return float(value)  # type: ignore[arg-type]


def _int(value: object) -> int | None:
    try:
        return int(value) if value is not None and value != "" else None  # type: ignore[call-overload]
    except (TypeError, ValueError):
        return None


def _text(value: object) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def _positive(value: object) -> float | None:
    """A positive decimal (e.g. a magnification factor), None when absent, zero or unreadable."""
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return number if number > 0 else None
