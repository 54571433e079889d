"""The paper's preprocessing: DICOM -> 8-bit (autocontrast) -> lung segmentation -> lung rectangle ->
crop -> S x S (224) -> normalised 3-channel tensor."""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import torch

from engine.io import LoadedImage
from engine.model.config import PreprocessConfig
from engine.segment import LungCrop, LungSegmenter


@dataclass
class PreparedCase:
    image: LoadedImage
    lung_crop: LungCrop
    tensor: torch.Tensor  # (3, S, S) float32, normalised
    timings_ms: dict[str, float]


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
    return crops_to_tensor(torch.from_numpy(np.ascontiguousarray(crop_uint8, dtype=np.uint8))[None], config)[0]


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
        timings = {"to_8bit": convert, **crop.timings_ms, "to_tensor": (time.perf_counter() - start) * 1e3}
        cases.append(PreparedCase(image, crop, tensor, timings))
    return cases
