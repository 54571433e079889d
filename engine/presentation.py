"""One presentation for every film the model sees: the training films'.

The shipped head learnt on 224 x 224 copies of the Kermany films (each squashed to a square whatever its aspect,
resampled with Pillow's antialiased bicubic, saved as JPEG at quality 75). A native full-size film differs from its
copy in how its pixels sample the lungs and, above all, in that it carries no 224-pixel JPEG texture: the encoder's
features of the whole film then lie outside every training case, and the out-of-domain check held such films back
(``docs/resolution_cue.md``). So, for a head whose card names that grid (``PreprocessConfig.film_grid``), every film
of another size is brought to it before segmentation and crop, the way its copies were made: the film's values
resampled to the grid (antialiased bicubic), converted to 8 bits there (the paper's automatic contrast),
JPEG-encoded at the card's quality, decoded and given its own automatic contrast again (as reading such a copy
would). Films already on the grid (the training films) are taken as they
are; films too small to segment reliably keep their size and their low-resolution flag.

Boxes and masks found on the grid are reported in the file's own pixels, whatever the decode's reduction.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, replace

import numpy as np
from PIL import Image

from engine.io import LoadedImage
from engine.io.image import autocontrast_uint8
from engine.lung_crop import LungCrop
from engine.model.config import PreprocessConfig
from engine.segment import MIN_SIDE_FOR_QUALITY


@dataclass(frozen=True)
class Presented:
    """The 8-bit image the segmenter and the crop work on, and how its pixels map onto the file's."""

    pixels: np.ndarray  # uint8 (h, w)
    scale: tuple[float, float] | None  # (x, y) file pixels per presented pixel; None: the decode's own grid


def on_training_grid(image: LoadedImage, config: PreprocessConfig) -> bool:
    """Whether ``image`` is presented on the head's film grid (True) or at the size it was decoded (False)."""
    grid = config.film_grid
    if grid is None:
        return False
    rows, columns = image.meta.rows, image.meta.columns
    return (rows, columns) != (grid, grid) and min(rows, columns) >= MIN_SIDE_FOR_QUALITY


def present(image: LoadedImage, config: PreprocessConfig) -> Presented:
    """The image as the model path takes it (see the module docstring)."""
    if not on_training_grid(image, config):
        return Presented(image.model_uint8, None)
    grid = config.film_grid
    assert grid is not None
    # Resampled before the 8-bit conversion: the grid's range, not the decode's extremes (a reduced decode's are
    # narrower than the full one's), sets the contrast, so a full and a reduced decode come out alike.
    values = Image.fromarray(np.ascontiguousarray(image.pixels, dtype=np.float32), mode="F")
    pixels = autocontrast_uint8(np.asarray(values.resize((grid, grid), Image.BICUBIC)))
    if config.film_jpeg_quality is not None:
        coded = _jpeg_round_trip(Image.fromarray(pixels), config.film_jpeg_quality)
        pixels = autocontrast_uint8(np.asarray(coded, np.float32))  # as reading the copy back converts it
    return Presented(pixels, (image.meta.columns / grid, image.meta.rows / grid))


def _jpeg_round_trip(picture: Image.Image, quality: int) -> Image.Image:
    buffer = io.BytesIO()
    picture.save(buffer, format="JPEG", quality=quality)
    buffer.seek(0)
    with Image.open(buffer) as decoded:
        decoded.load()
        return decoded.convert("L")


def crop_in_file_pixels(crop: LungCrop, scale: tuple[float, float], rows: int, columns: int) -> LungCrop:
    """A crop found on the presented grid with its box and mask in the file's pixels (the mask by nearest
    neighbour: each grid pixel stands for the block of file pixels it was resampled from)."""
    sx, sy = scale
    x0, y0, x1, y1 = crop.box
    box = (max(0, int(round(x0 * sx))), max(0, int(round(y0 * sy))),
           min(columns, int(round(x1 * sx))), min(rows, int(round(y1 * sy))))
    mask = np.asarray(Image.fromarray(crop.mask).resize((columns, rows), Image.NEAREST), dtype=bool)
    return replace(crop, box=box, mask=mask)
