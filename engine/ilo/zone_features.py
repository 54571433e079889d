"""What the ILO heads see of a radiograph: frozen-encoder features of the whole lung and of each ILO zone.

Two views of each radiograph, both through the frozen ImageNet EfficientNet-Lite0 (its adapters at their
zero-initialised identity: the ILO heads are trained on cached features, which cannot move them):

* **whole lung** (the paper's input): the 224x224 lung crop, globally average-pooled after the six tapped depths
  of ``engine.model.vision.EfficientNetSources`` -> (1728,);
* **zones**: each of the six ILO zones (``engine.ilo.zones.lung_zones`` on the lung mask) cut from the
  full-resolution 8-bit film with a small margin and brought to ``ZONE_SHAPE`` (384x256; on the phantom's
  0.7 mm/pixel films about 2x, so a 2 mm q opacity covers ~6 pixels instead of ~1.5 in the 224 crop; a
  2,000-pixel film's zones come down to about 0.35 mm/pixel), all six as one batch, and pooled over the zone's
  lung pixels only: mean and standard deviation of every channel at every tapped depth (the mask area-resampled
  to each feature map), and at the four finest depths the mean of each channel's top 5 % cells -> (6, 3712).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image
from torch import nn

from engine.ilo.codes import ZONES
from engine.ilo.zones import lung_zones
from engine.model.backbones import IMAGENET_MEAN, IMAGENET_STD, efficientnet_lite0, freeze
from engine.segment import LungSegmenter

FEATURE_VERSION = "2"  # 2: 2x zone crops, peak responses of the fine maps
TAPS = (2, 4, 7, 10, 14, 16)  # EfficientNet-Lite0 block indices (16 = after the head conv), as ModelConfig's
TAP_CHANNELS = (24, 40, 80, 112, 192, 1280)
WHOLE_DIM = sum(TAP_CHANNELS)  # 1728: mean per channel
PEAK_TAPS = 4  # the four finest tapped depths (stride 4-16) also give their peak responses
PEAK_FRACTION = 0.05
ZONE_DIM = 2 * sum(TAP_CHANNELS) + sum(TAP_CHANNELS[:PEAK_TAPS])  # 3712: mean and std per channel, fine peaks
ZONE_SHAPE = (384, 256)  # (width, height) every zone crop is brought to: all six run as one fixed-size batch
ZONE_MARGIN = 0.03  # of the lung rectangle's long side, around each zone's box
WHOLE_SIZE = 224  # the paper's lung crop


@dataclass(frozen=True)
class FilmFeatures:
    whole: np.ndarray  # (WHOLE_DIM,) float32
    zones: np.ndarray  # (6, ZONE_DIM) float32, in ZONES order
    zone_area: np.ndarray  # (6,) float32: each zone's share of the lung area
    fallback: bool  # the segmentation could not be trusted: zones are thirds of a centred box


class _TapMaps(nn.Module):
    """EfficientNet-Lite0's feature maps at ``TAPS``, one output each (an exportable module)."""

    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        self.net = net

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        net = self.net
        x = net._swish(net._bn0(net._conv_stem(x)))
        out = []
        for index, block in enumerate(net._blocks):
            x = block(x)
            if index in TAPS:
                out.append(x)
        out.append(net._swish(net._bn1(net._conv_head(x))))
        return tuple(out)  # each (B, C, h, w)


class FrozenEncoder:
    """EfficientNet-Lite0 in eval mode: feature maps at ``TAPS`` for a batch of same-sized grey images.

    On the CPU the maps come from ONNX Runtime (``engine.model.onnx_cpu``, 2-3x faster; one export per input
    size), else from PyTorch.
    """

    def __init__(self, pretrained: bool = True, onnx: bool = True) -> None:
        self.module = _TapMaps(freeze(efficientnet_lite0(pretrained=pretrained)).eval()).eval()
        self.mean = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)
        self.std = torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)
        self.onnx: dict[tuple[int, int], object] = {}
        self.use_onnx = onnx

    def _network(self, height: int, width: int):
        if not self.use_onnx:
            return None
        if (height, width) not in self.onnx:
            from engine.model.onnx_cpu import onnx_or_none

            self.onnx[(height, width)] = onnx_or_none("ilo-encoder", self.module, len(TAPS), (3, height, width))
        return self.onnx[(height, width)]

    @torch.inference_mode()
    def maps(self, batch_uint8: np.ndarray) -> list[torch.Tensor]:
        """(B, H, W) uint8 -> the tapped maps, each (B, C, h, w)."""
        x = torch.from_numpy(np.array(batch_uint8, dtype=np.uint8)).float().div(255.0)[:, None].expand(-1, 3, -1, -1)
        x = (x - self.mean) / self.std
        network = self._network(*batch_uint8.shape[1:])
        if network is not None:
            return [torch.from_numpy(m) for m in network(x.numpy())]
        return list(self.module(x))


def pooled_mean(maps: list[torch.Tensor]) -> np.ndarray:
    """(B, WHOLE_DIM): every channel's mean over the whole map (global average pooling)."""
    return torch.cat([m.mean(dim=(2, 3)) for m in maps], dim=1).numpy().astype(np.float32)


def masked_mean_std(maps: list[torch.Tensor], masks: np.ndarray) -> np.ndarray:
    """(B, ZONE_DIM): mean and standard deviation of every channel over each mask's pixels (B, H, W), the masks
    area-resampled to each map."""
    means, stds, peaks = [], [], []
    for depth, m in enumerate(maps):
        _, _, h, w = m.shape
        weights = []
        for mask in masks:
            weight = np.asarray(Image.fromarray(mask.astype(np.float32)).resize((w, h), Image.BOX), np.float32)
            if weight.sum() < 1e-3:  # a zone smaller than one feature cell: all of the crop
                weight = np.ones((h, w), np.float32)
            weights.append(weight / weight.sum())
        wt = torch.from_numpy(np.stack(weights))[:, None]  # (B, 1, h, w)
        mean = (m * wt).sum(dim=(2, 3))
        var = ((m - mean[:, :, None, None]) ** 2 * wt).sum(dim=(2, 3))
        means.append(mean)
        stds.append(var.clamp_min(0).sqrt())
        if depth < PEAK_TAPS:  # the fine maps: how strong the zone's strongest responses are
            peaks.append(torch.stack([_top_mean(m[b], wt[b, 0]) for b in range(len(m))]))
    return torch.cat(means + stds + peaks, dim=1).numpy().astype(np.float32)


def _top_mean(feature_map: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """(C,): each channel's mean over its top ``PEAK_FRACTION`` of the zone's cells (a sparse scatter of small
    opacities lifts these far more than the zone's mean)."""
    inside = weight.reshape(-1) >= 0.5 * float(weight.max())
    values = feature_map.reshape(feature_map.shape[0], -1)[:, inside]  # (C, P)
    k = max(1, round(values.shape[1] * PEAK_FRACTION))
    return values.topk(k, dim=1).values.mean(dim=1)


def _resize(image: np.ndarray, width: int, height: int) -> np.ndarray:
    picture = Image.fromarray(np.ascontiguousarray(image))
    method = Image.BICUBIC if width >= image.shape[1] else Image.BOX
    return np.asarray(picture.resize((max(1, width), max(1, height)), method))


def zone_crops(image_uint8: np.ndarray, mask: np.ndarray, box: tuple[int, int, int, int]
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The six zones as (6, H, W) uint8 crops at ``ZONE_SHAPE``, their lung masks (6, H, W) and lung shares (6,)."""
    height, width = image_uint8.shape
    zones = lung_zones(mask)
    x0, y0, x1, y1 = box
    pad = round(ZONE_MARGIN * max(x1 - x0, y1 - y0))
    crops, masks = [], []
    for name in ZONES:
        zx0, zy0, zx1, zy1 = zones[name].box
        if zx1 <= zx0 or zy1 <= zy0:  # an empty zone (a tiny lung): its crop is blank
            crops.append(np.zeros(ZONE_SHAPE[::-1], np.uint8))
            masks.append(np.zeros(ZONE_SHAPE[::-1], bool))
            continue
        zx0, zy0, zx1, zy1 = max(0, zx0 - pad), max(0, zy0 - pad), min(width, zx1 + pad), min(height, zy1 + pad)
        crops.append(_resize(image_uint8[zy0:zy1, zx0:zx1], *ZONE_SHAPE))
        zone_mask = Image.fromarray(zones[name].mask[zy0:zy1, zx0:zx1].astype(np.uint8) * 255)
        masks.append(np.asarray(zone_mask.resize(ZONE_SHAPE, Image.BILINEAR)) > 127)
    area = np.array([zones[name].area_px for name in ZONES], np.float32) / max(1, zones.lung_area_px)
    return np.stack(crops), np.stack(masks), area


def film_features(image_uint8: np.ndarray, mask: np.ndarray, box: tuple[int, int, int, int], crop224: np.ndarray,
                  encoder: FrozenEncoder, fallback: bool) -> FilmFeatures:
    """Both views of one film (see the module docstring); ``mask`` the full-resolution lung mask."""
    whole = pooled_mean(encoder.maps(crop224[None]))[0]
    if fallback or not mask.any():
        mask = np.zeros(image_uint8.shape, dtype=bool)
        x0, y0, x1, y1 = box
        mask[y0:y1, x0:x1] = True  # the centred box stands in for the lungs
    crops, masks, area = zone_crops(image_uint8, mask, box)
    return FilmFeatures(whole, masked_mean_std(encoder.maps(crops), masks), area, fallback)


def features_of(image_uint8: np.ndarray, segmenter: LungSegmenter, encoder: FrozenEncoder) -> FilmFeatures:
    """Segment one 8-bit radiograph and compute both views (what inference and the training cache both call)."""
    lungs = segmenter.lung_crop(image_uint8, size=WHOLE_SIZE)
    return film_features(image_uint8, lungs.mask, lungs.box, lungs.crop, encoder, lungs.fallback)
