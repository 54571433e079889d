"""The paper's preprocessing: DICOM -> 8-bit (autocontrast) -> lung segmentation -> lung rectangle ->
crop -> S x S (224) -> normalised 3-channel tensor."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, replace

import numpy as np
import torch

from engine.io import LoadedImage, load_for_model
from engine.lung_crop import LungCrop
from engine.model.config import PreprocessConfig
from engine.presentation import crop_in_file_pixels, present
from engine.segment import SEG_SIZE, LungSegmenter, at_full_resolution, resize_area, resize_uint8


@dataclass
class PreparedCase:
    image: LoadedImage
    lung_crop: LungCrop
    tensor: torch.Tensor  # (3, S, S) float32, normalised: the lung crop, the model's input
    timings_ms: dict[str, float]
    whole: torch.Tensor | None = None  # (3, S, S) the whole radiograph, for the out-of-domain check


def crops_to_tensor(crops: torch.Tensor, config: PreprocessConfig) -> torch.Tensor:
    """Grey crops (B, S, S), uint8 or float in [0, 1], -> (B, 3, S, S) float32 normalised with the encoder's
    mean/std. Training and inference both come through here."""
    x = crops.float()
    if crops.dtype == torch.uint8:
        x = x / 255.0
    x = x.unsqueeze(1).expand(-1, 3, -1, -1)
    mean = torch.tensor(config.mean, device=x.device).view(1, 3, 1, 1)
    std = torch.tensor(config.std, device=x.device).view(1, 3, 1, 1)
    return (x - mean) / std


def crop_to_tensor(crop_uint8: np.ndarray, config: PreprocessConfig) -> torch.Tensor:
    """uint8 (S, S) grey -> (3, S, S) float32 normalised (``crops_to_tensor`` for one crop)."""
    return crops_to_tensor(torch.from_numpy(np.array(crop_uint8, dtype=np.uint8))[None], config)[0]  # a writable copy


def whole_image(image_uint8: np.ndarray, size: int) -> np.ndarray:
    """The whole 8-bit radiograph at size x size (area-filtered), as the out-of-domain check looks at it."""
    return resize_area(image_uint8, size, size) if max(image_uint8.shape) > size else \
        resize_uint8(image_uint8, size, size)


def prepare(image: LoadedImage, segmenter: LungSegmenter, config: PreprocessConfig) -> PreparedCase:
    return prepare_batch([image], segmenter, config)[0]


def model_min_side(config: PreprocessConfig) -> int:
    """The shorter side a reduced decode (``engine.io.load_for_model``) keeps.

    Never below the segmenter's input (256): neither it nor the whole-image view is upsampled. And 2.5x the crop's
    source side (201 px for the shipped head, so ~500 px): lungs span most of the shorter side, so the lung box
    keeps >= ~1.5x the pixels the crop is brought down to, and the crop's own area filter, not the reduction,
    shapes it. (Measured: at 1/4 of a 1,400-px film, 350 px for a 201-px crop, the probability moved as far as a
    4-pixel shift of the box does.) Each image's box is still checked (``prepare_batch``)."""
    return max(SEG_SIZE, config.input_size, math.ceil(2.5 * crop_source_side(config)))


def crop_source_side(config: PreprocessConfig) -> int:
    """The fewest pixels the lung box's long side must have for ``model_crop`` to never upsample it."""
    return config.effective_side or config.input_size


def prepare_batch(images: list[LoadedImage], segmenter: LungSegmenter, config: PreprocessConfig
                  ) -> list[PreparedCase]:
    """Batched preprocessing: one segmentation forward for all images.

    Each image is first presented as the head's training films were (``engine.presentation``: a head with a film
    grid sees every film on it). An image decoded at reduced resolution (``LoadedImage.reduction``) and presented
    at that size whose lung box came out too small for the crop is decoded again at the factor the box allows and
    segmented again (rare: the reduced decode keeps the shorter side >= 256 px, and lungs span most of a film).
    Boxes and masks are reported in the file's pixels.
    """
    convert_ms = []
    presented = []
    for image in images:
        start = time.perf_counter()
        presented.append(present(image, config))
        convert_ms.append((time.perf_counter() - start) * 1e3)
    crops = segmenter.lung_crops([p.pixels for p in presented], size=config.input_size,
                                 effective_side=config.effective_side)
    images = list(images)
    for index, (image, crop) in enumerate(zip(images, crops, strict=True)):
        sharper = None if presented[index].scale is not None else _sharper_decode(image, crop, config)
        if sharper is not None:
            images[index] = sharper
            presented[index] = present(sharper, config)
            crops[index] = segmenter.lung_crop(presented[index].pixels, size=config.input_size,
                                               effective_side=config.effective_side)
    cases = []
    for image, view, crop, convert in zip(images, presented, crops, convert_ms, strict=True):
        start = time.perf_counter()
        tensor = crop_to_tensor(crop.crop, config)
        whole = crop_to_tensor(whole_image(view.pixels, config.input_size), config)
        if view.scale is not None:
            crop = crop_in_file_pixels(crop, view.scale, image.meta.rows, image.meta.columns)
        else:
            crop = at_full_resolution(crop, image.reduction, image.meta.rows, image.meta.columns)
        timings = {"to_8bit": convert, **crop.timings_ms, "to_tensor": (time.perf_counter() - start) * 1e3}
        cases.append(PreparedCase(image, crop, tensor, timings, whole))
    return cases


def _sharper_decode(image: LoadedImage, crop: LungCrop, config: PreprocessConfig) -> LoadedImage | None:
    """The image decoded again at a smaller reduction when its lung box has fewer pixels than the crop needs."""
    if image.reduction == 1:
        return None
    x0, y0, x1, y1 = crop.box
    long_side = max(x1 - x0, y1 - y0) * image.reduction  # in the file's pixels
    need = crop_source_side(config)
    if long_side // image.reduction >= need:
        return None
    factor = image.reduction
    while factor > 1 and long_side // factor < need:
        factor //= 2
    sharper = load_for_model(image.meta.path, model_min_side(config), max_factor=factor)
    return replace(sharper, meta=image.meta)  # keep what was added to the meta (intended-use flags)
