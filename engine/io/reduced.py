"""Decoding only the resolution the model needs: the model path's reduced decodes, in one place.

The networks see a 256x256 whole image (segmentation) and a 224x224 lung crop, while a CR film is ~2000 pixels a
side; decoding it in full costs more than all the networks together. The model path (``load_for_model``) therefore
decodes at 1/2, 1/4 or 1/8 of the stored size where the format allows it, and reduces the rest by area:

* JPEG 2000: OpenJPEG discards resolution levels (through Pillow's ``reduce``): the LL band of the wavelet
  transform, i.e. a low-pass image, never the full one.
* JPEG (baseline, 8-bit): libjpeg-turbo's DCT-domain scaling (Pillow's ``draft``).
* Everything else (uncompressed DICOM, PNG, TIFF, 12-bit JPEG, ...): the full decode, then an integer-factor area
  reduction (``area_reduce``).

Every reduced image is ceil(side / factor) pixels a side, whatever made it, and pixel i covers stored pixels
[i * factor, (i + 1) * factor). The screen keeps the full decode (``load_image``).
"""

from __future__ import annotations

import io
import math

import numpy as np

FACTORS = (1, 2, 4, 8)  # what OpenJPEG's reduce (2**r) and libjpeg's DCT scaling (1/f) both offer


def reduction_for(rows: int, columns: int, min_side: int, max_factor: int = FACTORS[-1]) -> int:
    """The largest factor in ``FACTORS`` (at most ``max_factor``) that keeps the shorter side >= ``min_side``."""
    best = 1
    for factor in FACTORS:
        if factor <= max_factor and math.ceil(min(rows, columns) / factor) >= min_side:
            best = factor
    return best


def reduced_shape(rows: int, columns: int, factor: int) -> tuple[int, int]:
    return -(-rows // factor), -(-columns // factor)


def area_reduce(array: np.ndarray, factor: int) -> np.ndarray:
    """Mean over factor x factor blocks (the last row and column of blocks average what they hold), so the result
    has ``reduced_shape``. Integer images are rounded back to their type; float images stay float32."""
    if factor == 1:
        return array
    rows, columns = array.shape[:2]
    row_starts, column_starts = np.arange(0, rows, factor), np.arange(0, columns, factor)
    sums = np.add.reduceat(array, row_starts, axis=0, dtype=np.float32)  # exact: <= 64 * 65535 < 2**24
    sums = np.add.reduceat(sums, column_starts, axis=1)
    counts = np.outer(np.diff(np.r_[row_starts, rows]), np.diff(np.r_[column_starts, columns])).astype(np.float32)
    means = sums / (counts if array.ndim == 2 else counts[..., None])
    if np.issubdtype(array.dtype, np.integer):
        return np.rint(means).astype(array.dtype)
    return means.astype(np.float32, copy=False)


def decode_j2k(codestream: bytes, factor: int) -> np.ndarray:
    """A grey JPEG 2000 codestream (or JP2 file) decoded at 1/``factor`` of its size by OpenJPEG.

    Pillow 13.0.0 computes the reduced size as round(side / 2**r) where OpenJPEG returns ceil(side / 2**r), and
    then refuses the image as "broken data stream" whenever the two differ (1841 px at r = 2: 460 against 461).
    So the tile is set up here with OpenJPEG's size, as ``Jpeg2KImageFile.load`` would set it with the right one.

    Raises:
        ValueError: not a grey 8/16-bit image, or Pillow's plugin is not laid out as this code expects.
        OSError, SyntaxError: the codestream does not decode (the caller then takes the full decode path).
    """
    from PIL import Image, ImageFile, Jpeg2KImagePlugin

    level = int(math.log2(factor))
    if 1 << level != factor:
        raise ValueError(f"JPEG 2000 reduces by powers of 2, not {factor}")
    precision = _j2k_grey_precision(codestream)
    with Image.open(io.BytesIO(codestream), formats=["JPEG2000"]) as image:
        if not isinstance(image, Jpeg2KImagePlugin.Jpeg2KImageFile) or image.mode not in ("L", "I;16"):
            raise ValueError(f"not a grey 8/16-bit JPEG 2000 image ({image.mode})")
        if level:
            tile = image.tile[0]
            args = tile.args
            if len(image.tile) != 1 or not isinstance(args, tuple) or len(args) != 5:
                raise ValueError("unexpected Pillow JPEG 2000 tile layout")
            width, height = image.size
            image._size = (-(-width // factor), -(-height // factor))
            # args: (codec, reduce, layers, offset, tile_size), as Jpeg2KImageFile.load builds them
            image.tile = [ImageFile._Tile(tile.codec_name, (0, 0, *image.size), tile.offset,
                                          (args[0], level, image.layers, args[3], args[4]))]
            ImageFile.ImageFile.load(image)  # the plugin's own load would recompute the size with rounding
        else:
            image.load()
        bits = 8 if image.mode == "L" else 16
        pixels = np.asarray(image, dtype=np.uint8 if bits == 8 else np.uint16).copy()
    # Pillow scales a component of fewer bits up to the mode's (value << (bits - precision)); undo it exactly.
    shift = bits - precision
    if shift > 0:
        if np.any(pixels & ((1 << shift) - 1)):
            raise ValueError("Pillow did not scale the JPEG 2000 samples by a plain shift")
        pixels >>= shift
    return pixels


def _j2k_grey_precision(codestream: bytes) -> int:
    """Bits per sample of a one-component, unsigned, origin-anchored codestream (its SIZ segment), else ValueError."""
    from engine.io.j2k_integrity import SOC_SIZ

    start = codestream.find(SOC_SIZ)
    if start < 0:
        raise ValueError("no JPEG 2000 SIZ segment")
    siz = codestream[start + 2 : start + 2 + 41]  # FF51, Lsiz, Rsiz, 8 x 32-bit sizes, Csiz, Ssiz of component 0
    if len(siz) < 41:
        raise ValueError("JPEG 2000 SIZ segment cut short")
    x_offset, y_offset = int.from_bytes(siz[14:18], "big"), int.from_bytes(siz[18:22], "big")
    components, ssiz = int.from_bytes(siz[38:40], "big"), siz[40]
    if components != 1 or ssiz & 0x80 or x_offset or y_offset:
        raise ValueError("not a one-component, unsigned JPEG 2000 image anchored at the origin")
    return (ssiz & 0x7F) + 1


def draft_jpeg(image: object, factor: int) -> int:
    """Ask libjpeg (through an opened, not yet loaded Pillow JPEG) for DCT-domain scaling by up to ``factor``;
    returns the factor it will decode at (1, 2, 4 or 8: what the image size allows)."""
    width, height = image.size  # type: ignore[attr-defined]
    if factor == 1:
        return 1
    # Pillow picks the largest scale with the result still >= the requested size: ask for floor(side / factor).
    image.draft(image.mode, (max(1, width // factor), max(1, height // factor)))  # type: ignore[attr-defined]
    scaled_width, scaled_height = image.size  # type: ignore[attr-defined]
    for applied in FACTORS:
        if reduced_shape(height, width, applied) == (scaled_height, scaled_width):
            return applied
    raise ValueError(f"libjpeg scaled {width}x{height} to {scaled_width}x{scaled_height}")


def decode_jpeg(data: bytes, factor: int) -> tuple[np.ndarray, int]:
    """A grey baseline JPEG frame decoded with DCT-domain scaling; returns (pixels, the factor applied).

    Raises:
        ValueError: not an 8-bit grey JPEG; OSError, SyntaxError: it does not decode (truncated, damaged).
    """
    from PIL import Image

    with Image.open(io.BytesIO(data), formats=["JPEG"]) as image:
        if image.mode != "L":
            raise ValueError(f"not a grey 8-bit JPEG ({image.mode})")
        applied = draft_jpeg(image, factor)
        image.load()
        return np.asarray(image, dtype=np.uint8).copy(), applied
