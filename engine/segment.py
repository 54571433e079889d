"""Lung segmentation and the paper's lung crop.

The network is a small U-Net decoder on the ImageNet EfficientNet-Lite0 encoder, trained by
``training/train_segmenter.py`` on public lung masks (JSRT/SCR and covid-chestxray/v7labs); its weights ship
in ``resources/lung_segmenter.safetensors`` with a model card.

The crop follows PneumoLLM (after CheXmask): mask -> the two largest lung components -> the bounding
rectangle around both, with a small margin -> crop from the full-resolution 8-bit image -> 224x224.
A quality check flags implausible segmentations; those fall back to a centred crop and say so.
"""

from __future__ import annotations

import json
import logging
import math
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from scipy import ndimage
from torch import nn
from torch.nn import functional as F

from engine.errors import SegmentationError
from engine.flags import Flag
from engine.lung_crop import CROP_SIZE, LungCrop
from engine.model.backbones import IMAGENET_MEAN, IMAGENET_STD, efficientnet_lite0
from engine.model.speedups import SpeedOptions, speed_up_convnet
from engine.paths import RESOURCES

log = logging.getLogger(__name__)

DEFAULT_WEIGHTS = RESOURCES / "lung_segmenter.safetensors"
SEG_SIZE = 256  # network input side
CROP_MARGIN = 0.05  # of the lung rectangle's size, each side
FALLBACK_KEEP = 0.8  # centred fallback crop keeps the central 80 % of each side

# Plausibility bounds, from the training masks (JSRT lung fraction 0.18-0.46, covid-v7 0.09-0.62).
MIN_LUNG_FRACTION = 0.06
MAX_LUNG_FRACTION = 0.72
MIN_LUNG_BALANCE = 0.25  # smaller lung / larger lung
MAX_TILT_DEGREES = 15.0
MIN_SIDE_FOR_QUALITY = 128


class _DecoderBlock(nn.Module):
    def __init__(self, in_channels: int, skip_channels: int, out_channels: int) -> None:
        super().__init__()
        self.block = nn.Sequential(
            nn.Conv2d(in_channels + skip_channels, out_channels, 3, padding=1, bias=False),
            nn.BatchNorm2d(out_channels),
            nn.ReLU(inplace=True),
            nn.Conv2d(out_channels, out_channels, 3, padding=1, bias=False),
            nn.BatchNorm2d(out_channels),
            nn.ReLU(inplace=True),
        )

    def forward(self, x: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
        x = F.interpolate(x, size=skip.shape[-2:], mode="bilinear", align_corners=False)
        return self.block(torch.cat([x, skip], dim=1))


class LungUNet(nn.Module):
    """U-Net decoder on EfficientNet-Lite0. Input (B, 1, H, W) grey in [0, 1]; output lung logits (B, 1, H, W)."""

    # Encoder block indices whose outputs feed the decoder: strides 2, 4, 8, 16, 32.
    SKIP_BLOCKS = (0, 2, 4, 10, 15)
    SKIP_CHANNELS = (16, 24, 40, 112, 320)
    DECODER_CHANNELS = (96, 64, 48, 32)

    def __init__(self, pretrained_encoder: bool = True) -> None:
        super().__init__()
        encoder = efficientnet_lite0(pretrained=pretrained_encoder)
        self.stem = nn.Sequential(encoder._conv_stem, encoder._bn0, nn.ReLU6(inplace=True))
        self.blocks = encoder._blocks  # the classifier head is not needed
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1), persistent=False)
        skips = self.SKIP_CHANNELS
        channels = (skips[-1], *self.DECODER_CHANNELS)
        self.decoder = nn.ModuleList(
            _DecoderBlock(channels[i], skips[-2 - i], channels[i + 1]) for i in range(len(self.DECODER_CHANNELS))
        )
        self.head = nn.Conv2d(self.DECODER_CHANNELS[-1], 1, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        size = x.shape[-2:]
        x = (x.expand(-1, 3, -1, -1) - self.mean) / self.std
        x = self.stem(x)
        features = []
        for index, block in enumerate(self.blocks):
            x = block(x)
            if index in self.SKIP_BLOCKS:
                features.append(x)
        x = features[-1]
        for block, skip in zip(self.decoder, reversed(features[:-1]), strict=True):
            x = block(x, skip)  # ends at stride 2
        return F.interpolate(self.head(x), size=size, mode="bilinear", align_corners=False)


class LungSegmenter:
    """Loads the shipped (or a given) segmentation network and turns 8-bit radiographs into lung crops."""

    def __init__(self, weights: str | Path | None = DEFAULT_WEIGHTS, device: str | torch.device = "cpu",
                 speed: SpeedOptions | None = None) -> None:
        self.device = torch.device(device)
        self.network = LungUNet(pretrained_encoder=weights is None)
        self.info: dict[str, object] = {}
        self.weights_id = "untrained"
        if weights is not None:
            self._load(Path(weights))
        self.network.eval().to(self.device)
        # Inference only: fused conv+BN and channels-last (engine.model.speedups), after the weights are in.
        speed = speed or SpeedOptions()
        speed_up_convnet(self.network, speed)
        # On the CPU the frozen network runs on ONNX Runtime (None: PyTorch runs it; the log says why).
        self.onnx = None
        if speed.onnx_runtime and self.device.type == "cpu":
            from engine.model.onnx_cpu import onnx_or_none

            self.onnx = onnx_or_none("segmenter", self.network, 1, (1, SEG_SIZE, SEG_SIZE))

    def _load(self, path: Path) -> None:
        from safetensors import SafetensorError
        from safetensors.torch import load_file

        if not path.exists():
            raise SegmentationError(
                f"Lung segmentation weights are missing ({path.name}) — reinstall, or run "
                "the segmenter training (see resources/lung_segmenter.md).",
                path=path,
            )
        try:
            state = load_file(str(path))
        except (SafetensorError, OSError, ValueError):
            raise SegmentationError("Lung segmentation weights are damaged — reinstall.", path=path) from None
        import hashlib

        self.weights_id = hashlib.sha256(path.read_bytes()).hexdigest()[:16]
        state = {k: v.float() for k, v in state.items()}
        missing, unexpected = self.network.load_state_dict(state, strict=False)
        if missing or unexpected:
            raise SegmentationError("Lung segmentation weights do not match this version.", path=path)
        meta = path.with_suffix(".json")
        if meta.exists():
            self.info = json.loads(meta.read_text())

    @torch.inference_mode()
    def probabilities(self, images: list[np.ndarray]) -> np.ndarray:
        """Lung probability maps (N, SEG_SIZE, SEG_SIZE) for 8-bit images of any size."""
        batch = np.stack([to_network_input(image) for image in images])[:, None]  # (N, 1, S, S)
        if self.onnx is not None:
            return torch.sigmoid(torch.from_numpy(self.onnx(batch)[0])).squeeze(1).numpy()
        tensor = torch.from_numpy(batch).to(self.device)
        return torch.sigmoid(self.network(tensor)).squeeze(1).float().cpu().numpy()

    def lung_crop(self, image_uint8: np.ndarray, *, size: int = CROP_SIZE,
                  effective_side: int | None = None) -> LungCrop:
        """Segment one 8-bit radiograph and crop its lungs (see the module docstring and ``model_crop``)."""
        return self.lung_crops([image_uint8], size=size, effective_side=effective_side)[0]

    def lung_crops(self, images_uint8: list[np.ndarray], *, size: int = CROP_SIZE,
                   effective_side: int | None = None) -> list[LungCrop]:
        """Batched ``lung_crop``: one network forward for all images."""
        start = time.perf_counter()
        blank = [float(image.std()) < 1.0 for image in images_uint8]
        usable = [image for image, is_blank in zip(images_uint8, blank, strict=True) if not is_blank]
        probabilities = iter(self.probabilities(usable)) if usable else iter(())
        forward_ms = (time.perf_counter() - start) * 1e3 / max(1, len(usable))
        results = []
        for image, is_blank in zip(images_uint8, blank, strict=True):
            t0 = time.perf_counter()
            if is_blank:
                blank_flag = Flag("blank_image", "blank or constant image — nothing to segment")
                result = fallback_crop(image, (blank_flag,), size=size, effective_side=effective_side)
                result.timings_ms["segmentation_forward"] = 0.0
            else:
                result = crop_from_probability(image, next(probabilities), size=size, effective_side=effective_side)
                result.timings_ms["segmentation_forward"] = forward_ms
            result.timings_ms["segmentation_total"] = (
                result.timings_ms["segmentation_forward"] + (time.perf_counter() - t0) * 1e3)
            results.append(result)
        return results


def to_network_input(image_uint8: np.ndarray) -> np.ndarray:
    """Resize to SEG_SIZE x SEG_SIZE (antialiased) and scale to [0, 1] float32."""
    resized = Image.fromarray(np.ascontiguousarray(image_uint8)).resize((SEG_SIZE, SEG_SIZE), Image.BILINEAR)
    return np.asarray(resized, dtype=np.float32) / 255.0


def resize_uint8(image: np.ndarray, width: int, height: int) -> np.ndarray:
    return np.asarray(Image.fromarray(np.ascontiguousarray(image)).resize((width, height), Image.BILINEAR))


def clean_mask(probability: np.ndarray, threshold: float = 0.5) -> tuple[np.ndarray, int]:
    """Keep the two largest connected lung regions (holes filled). Returns (mask, regions found)."""
    binary = probability > threshold
    labels, count = ndimage.label(binary)
    if count == 0:
        return binary, 0
    sizes = ndimage.sum_labels(binary, labels, index=np.arange(1, count + 1))
    # Specks under 0.5 % of the image are noise, not lungs.
    significant = [i + 1 for i in np.argsort(sizes)[::-1] if sizes[i] >= 0.005 * binary.size]
    keep = significant[:2]
    mask = np.isin(labels, keep)
    return ndimage.binary_fill_holes(mask), len(significant)


def upsample_mask(mask_small: np.ndarray, probability: np.ndarray, height: int, width: int) -> np.ndarray:
    """Full-resolution mask: the kept regions' probabilities, bilinearly upsampled, thresholded at 0.5."""
    kept = np.where(ndimage.binary_dilation(mask_small, iterations=2), probability, 0.0).astype(np.float32)
    full = Image.fromarray(kept, mode="F").resize((width, height), Image.BILINEAR)
    return np.asarray(full) > 0.5


def crop_from_probability(image_uint8: np.ndarray, probability: np.ndarray, *, size: int = CROP_SIZE,
                          effective_side: int | None = None) -> LungCrop:
    """Post-process a probability map into the lung crop, with the quality check."""
    start = time.perf_counter()
    height, width = image_uint8.shape
    small_mask, regions = clean_mask(probability)
    mask = upsample_mask(small_mask, probability, height, width)
    flags, failed = quality_flags(image_uint8, small_mask, mask, regions)
    fraction = float(mask.mean())
    if failed:
        result = fallback_crop(image_uint8, tuple(flags), size=size, mask=mask, lung_count=regions,
                               effective_side=effective_side)
    else:
        box = lung_box(mask)
        crop = model_crop(image_uint8, box, size, effective_side)
        result = LungCrop(mask, box, crop, fraction, regions, tuple(flags), False, {})
    result.timings_ms["postprocess_and_crop"] = (time.perf_counter() - start) * 1e3
    return result


def lung_box(mask: np.ndarray, margin: float = CROP_MARGIN) -> tuple[int, int, int, int]:
    """Bounding rectangle of the mask, grown by ``margin`` of its size on each side, clipped to the image."""
    rows = np.flatnonzero(mask.any(axis=1))
    cols = np.flatnonzero(mask.any(axis=0))
    y0, y1, x0, x1 = rows[0], rows[-1] + 1, cols[0], cols[-1] + 1
    dy, dx = round((y1 - y0) * margin), round((x1 - x0) * margin)
    height, width = mask.shape
    return max(0, x0 - dx), max(0, y0 - dy), min(width, x1 + dx), min(height, y1 + dy)


def model_crop(image_uint8: np.ndarray, box: tuple[int, int, int, int], size: int = CROP_SIZE,
               effective_side: int | None = None) -> np.ndarray:
    """The model's input: the box cut from the 8-bit image and resized to ``size`` x ``size``.

    One rule for training and inference. With ``effective_side`` (from the head card: the typical long side of
    the lung rectangle in the training radiographs, in their own pixels) a larger box is first brought down to
    that many pixels, so a crop from a 2,000-pixel film has the effective resolution the head learnt on, not a
    sharpness it never saw; a smaller box is left as it is.
    """
    x0, y0, x1, y1 = box
    region = image_uint8[y0:y1, x0:x1]
    height, width = region.shape
    if effective_side and max(height, width) > effective_side:
        scale = effective_side / max(height, width)
        region = resize_area(region, max(1, round(width * scale)), max(1, round(height * scale)))
    return resize_uint8(region, size, size)


def resize_area(image: np.ndarray, width: int, height: int) -> np.ndarray:
    """Downsample with an area filter (no aliasing), as a detector's lower resolution would."""
    return np.asarray(Image.fromarray(np.ascontiguousarray(image)).resize((width, height), Image.BOX))


def at_full_resolution(crop: LungCrop, factor: int, rows: int, columns: int) -> LungCrop:
    """A crop found on an image decoded at 1/``factor`` (``LoadedImage.reduction``), with its box and mask in the
    file's own pixels, as results report them (each reduced pixel stands for its factor x factor block)."""
    if factor == 1:
        return crop
    x0, y0, x1, y1 = crop.box
    box = (int(x0) * factor, int(y0) * factor, min(columns, int(x1) * factor), min(rows, int(y1) * factor))
    height, width = crop.mask.shape
    blocks = np.broadcast_to(crop.mask[:, None, :, None], (height, factor, width, factor))
    mask = np.ascontiguousarray(blocks.reshape(height * factor, width * factor)[:rows, :columns])
    return replace(crop, box=box, mask=mask)


def fallback_crop(image_uint8: np.ndarray, flags: tuple[Flag, ...], *, size: int = CROP_SIZE,
                  mask: np.ndarray | None = None, lung_count: int = 0, effective_side: int | None = None) -> LungCrop:
    """The centred crop used when segmentation cannot be trusted; the flags say why."""
    height, width = image_uint8.shape
    trim_y, trim_x = round(height * (1 - FALLBACK_KEEP) / 2), round(width * (1 - FALLBACK_KEEP) / 2)
    box = (trim_x, trim_y, width - trim_x, height - trim_y)
    mask = np.zeros((height, width), bool) if mask is None else mask
    flags = (*flags, Flag("fallback_crop", "fell back to a centred crop"))
    crop = model_crop(image_uint8, box, size, effective_side)
    return LungCrop(mask, box, crop, float(mask.mean()), lung_count, flags, True, {})


def quality_flags(image_uint8: np.ndarray, small_mask: np.ndarray, mask: np.ndarray,
                  regions: int) -> tuple[list[Flag], bool]:
    """Reasons to distrust the segmentation, and whether they invalidate the lung box (-> fallback)."""
    flags: list[Flag] = []
    height, width = image_uint8.shape
    if min(height, width) < MIN_SIDE_FOR_QUALITY:
        flags.append(Flag("low_resolution", f"low resolution ({width}x{height}) — results are unreliable"))
    fraction = float(mask.mean())
    if regions == 0 or not mask.any():
        return [*flags, Flag("no_lungs", "no lungs found")], True
    failed = False
    if regions == 1:
        flags.append(Flag("one_lung", "only one lung region found (lateral view, or a lung not visible)"))
        failed = True
    elif regions > 3:
        flags.append(Flag("fragmented_lungs", f"{regions} separate lung-like regions — the segmentation is fragmented"))
    if not MIN_LUNG_FRACTION <= fraction <= MAX_LUNG_FRACTION:
        flags.append(Flag("implausible_lung_area", f"implausible lung area ({fraction:.0%} of the image)"))
        failed = True
    labels, count = ndimage.label(small_mask)
    if count >= 2:
        sizes = ndimage.sum_labels(small_mask, labels, index=[1, 2])
        centres = ndimage.center_of_mass(small_mask, labels, index=[1, 2])
        if min(sizes) / max(sizes) < MIN_LUNG_BALANCE:
            flags.append(Flag("unbalanced_lungs", "one lung region is much smaller than the other"))
            failed = True
        (ya, xa), (yb, xb) = centres
        if abs(xb - xa) < 0.12 * small_mask.shape[1]:
            flags.append(Flag("lungs_not_side_by_side", "lung regions are not side by side (lateral or rotated view?)"))
            failed = True
        else:
            tilt = math.degrees(math.atan2(abs(yb - ya), abs(xb - xa)))
            if tilt > MAX_TILT_DEGREES:
                flags.append(Flag("rotated", f"image looks rotated (lungs tilted {tilt:.0f}°)"))
    x0, y0, x1, y1 = lung_box(mask, margin=0.0)
    aspect = (y1 - y0) / max(1, x1 - x0)
    if not 0.4 <= aspect <= 1.9:
        flags.append(Flag("implausible_lung_box", f"implausible lung rectangle (height/width {aspect:.2f})"))
        failed = True
    cx, cy = (x0 + x1) / 2 / width, (y0 + y1) / 2 / height
    if not (0.2 <= cx <= 0.8 and 0.2 <= cy <= 0.8):
        flags.append(Flag("lungs_off_centre", "lungs are far off-centre"))
        failed = True
    if _looks_inverted(image_uint8, mask, (x0, y0, x1, y1)):
        flags.append(Flag("looks_inverted", "lungs are brighter than the mediastinum — the image looks inverted"))
    return flags, failed


def _looks_inverted(image_uint8: np.ndarray, mask: np.ndarray, box: tuple[int, int, int, int]) -> bool:
    """On a correctly displayed frontal chest film the aerated lungs are darker than the tissue around them."""
    x0, y0, x1, y1 = box
    region = image_uint8[y0:y1, x0:x1]
    inside = mask[y0:y1, x0:x1]
    if inside.all() or not inside.any():
        return False
    return float(region[inside].mean()) > float(region[~inside].mean()) + 8.0
