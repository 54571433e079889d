"""The paper's preprocessing: DICOM -> 8-bit (autocontrast) -> lung segmentation -> lung rectangle ->
crop -> S x S (224) -> normalised 3-channel tensor."""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import torch

from engine.io import LoadedImage
from engine.lung_crop import LungCrop
from engine.model.config import PreprocessConfig
from engine.segment import LungSegmenter, resize_area, resize_uint8


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


def prepare_batch(images: list[LoadedImage], segmenter: LungSegmenter, config: PreprocessConfig
                  ) -> list[PreparedCase]:
    """Batched preprocessing: one segmentation forward for all images."""
    convert_ms = []
    eight_bit = []
    for image in images:
        start = time.perf_counter()
        eight_bit.append(image.model_uint8)
        convert_ms.append((time.perf_counter() - start) * 1e3)
    crops = segmenter.lung_crops(eight_bit, size=config.input_size, effective_side=config.effective_side)
    cases = []
    for image, crop, convert in zip(images, crops, convert_ms, strict=True):
        start = time.perf_counter()
        tensor = crop_to_tensor(crop.crop, config)
        whole = crop_to_tensor(whole_image(image.model_uint8, config.input_size), config)
        timings = {"to_8bit": convert, **crop.timings_ms, "to_tensor": (time.perf_counter() - start) * 1e3}
        cases.append(PreparedCase(image, crop, tensor, timings, whole))
    return cases
