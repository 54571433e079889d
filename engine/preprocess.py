"""The paper's preprocessing: DICOM -> 8-bit (autocontrast) -> lung segmentation -> lung rectangle ->
crop -> S x S (224) -> normalised 3-channel tensor."""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import torch

from engine.config import PreprocessConfig
from engine.ingest import LoadedImage
from engine.segment import LungCrop, LungSegmenter


@dataclass
class PreparedCase:
    image: LoadedImage
    lung_crop: LungCrop
    tensor: torch.Tensor  # (3, S, S) float32, normalised
    timings_ms: dict[str, float]


def crop_to_tensor(crop_uint8: np.ndarray, config: PreprocessConfig) -> torch.Tensor:
    """uint8 (S, S) grey -> (3, S, S) float32 normalised with the encoder's mean/std."""
    grey = torch.from_numpy(np.asarray(crop_uint8, dtype=np.float32) / np.float32(255.0))
    mean = torch.tensor(config.mean).view(3, 1, 1)
    std = torch.tensor(config.std).view(3, 1, 1)
    return (grey.unsqueeze(0).expand(3, -1, -1) - mean) / std


def prepare(image: LoadedImage, segmenter: LungSegmenter, config: PreprocessConfig) -> PreparedCase:
    start = time.perf_counter()
    eight_bit = image.model_uint8
    convert_ms = (time.perf_counter() - start) * 1e3
    crop = segmenter.lung_crop(eight_bit, size=config.input_size)
    start = time.perf_counter()
    tensor = crop_to_tensor(crop.crop, config)
    timings = {"to_8bit": convert_ms, **crop.timings_ms, "to_tensor": (time.perf_counter() - start) * 1e3}
    return PreparedCase(image, crop, tensor, timings)
