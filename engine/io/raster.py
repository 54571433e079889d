"""PNG, JPEG and TIFF radiographs (8- or 16-bit, grey or RGB collapsed to grey)."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from engine.errors import DicomReadError, UnsupportedImageError
from engine.io import reduced
from engine.io.image import ImageMeta, LoadedImage, autocontrast_uint8, check_dimensions

log = logging.getLogger(__name__)

# Guard against decompression bombs: a radiograph is at most ~12k x 12k.
Image.MAX_IMAGE_PIXELS = 12_000 * 12_000
_LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)  # ITU-R BT.601


def read_raster(path: Path, *, model_side: int | None = None, max_factor: int = 8) -> LoadedImage:
    """Decode a PNG/JPEG/TIFF file into a LoadedImage (values as stored, no windowing). With ``model_side``
    (``load_for_model``): reduced so that the shorter side stays >= ``model_side`` (``engine.io.reduced``)."""
    suffix = path.suffix.lower()
    decoded_at = 1
    if suffix in (".tif", ".tiff"):
        array, decoder = _read_tiff(path), "tifffile"
    else:
        (array, decoded_at), decoder = _read_pillow(path, model_side, max_factor), "Pillow"
    array = to_grey(array)
    if array.ndim != 2:
        raise UnsupportedImageError(f"Unexpected image layout {array.shape} — save it as a grey image.", path=path)
    rows, columns = array.shape
    if decoded_at > 1:  # the file's own size, from the JPEG header (libjpeg scaled it)
        rows, columns = _pillow_size(path)
    check_dimensions(rows, columns, path)
    factor = reduced.reduction_for(rows, columns, model_side, max_factor) if model_side else 1
    extremes = (float(array.min()), float(array.max())) if factor > decoded_at == 1 else None
    array = reduced.area_reduce(array, max(1, factor // decoded_at))
    bits = 8 if array.dtype == np.uint8 else 16 if array.dtype in (np.uint16, np.int16) else None
    meta = ImageMeta(path=path, kind="raster", rows=rows, columns=columns, bits_stored=bits, decoder=decoder,
                     photometric="MONOCHROME2")
    display = array if array.dtype == np.uint8 else autocontrast_uint8(array)
    return LoadedImage(meta, display, array, reduction=max(factor, decoded_at), stored_extremes=extremes)


def to_grey(array: np.ndarray) -> np.ndarray:
    """(H, W, channels) -> (H, W): grey + alpha keeps the grey, RGB(A) with equal channels keeps its exact
    values, other colour becomes BT.601 luma. Other shapes are returned as they are."""
    if array.ndim != 3:
        return array
    if array.shape[-1] >= 3:
        channels = array[..., :3]
        if np.array_equal(channels[..., 0], channels[..., 1]) and np.array_equal(channels[..., 0], channels[..., 2]):
            return channels[..., 0]  # grey stored as RGB: keep exact values
        return channels.astype(np.float32) @ _LUMA
    return array[..., 0]  # one channel, or grey + alpha


def _pillow_size(path: Path) -> tuple[int, int]:
    with Image.open(path) as image:
        return image.size[1], image.size[0]


def _read_pillow(path: Path, model_side: int | None = None, max_factor: int = 8) -> tuple[np.ndarray, int]:
    """The pixels, and the factor libjpeg's DCT scaling reduced them by (1 unless ``model_side`` asks for it)."""
    try:
        with open(path, "rb") as handle, Image.open(handle) as image:
            applied = 1
            if model_side and image.format == "JPEG":
                width, height = image.size
                applied = reduced.draft_jpeg(image, reduced.reduction_for(height, width, model_side, max_factor))
            image.load()
            if image.mode in ("P", "PA", "CMYK", "YCbCr", "LAB", "HSV", "1"):
                image = image.convert("RGB" if image.mode != "1" else "L")
            if image.mode in ("I;16", "I;16B", "I;16L"):
                return np.asarray(image, dtype=np.uint16).copy(), applied
            return np.asarray(image).copy(), applied
    except UnidentifiedImageError:
        raise DicomReadError("Not a readable image (unknown or damaged format).", path=path) from None
    except Image.DecompressionBombError:
        raise UnsupportedImageError("Image is implausibly large for a radiograph.", path=path) from None
    except (OSError, SyntaxError, ValueError) as exc:
        log.debug("Pillow failed: %s", type(exc).__name__)
        raise DicomReadError("The image file is damaged or truncated.", path=path) from None


def _read_tiff(path: Path) -> np.ndarray:
    import tifffile

    try:
        with tifffile.TiffFile(str(path)) as tif:
            pages = len(tif.pages)
            array = tif.pages[0].asarray() if pages == 1 else None
    except Exception:  # noqa: BLE001 - fall back to Pillow for odd TIFF flavours
        return _read_pillow(path)[0]
    if array is None:  # which page is the radiograph is not ours to guess
        raise UnsupportedImageError(f"A {pages}-page TIFF — save the radiograph as a single-page image.", path=path)
    if array.dtype.kind == "f":
        return array.astype(np.float32)
    if array.dtype.kind == "b":
        return array.astype(np.uint8) * 255
    return array
