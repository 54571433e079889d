"""Training augmentations that model how real radiographs vary between scanners, exports and clinics.

Each one is applied to the cached lung region *before* the model crop is made (``engine.segment.model_crop``,
the function inference uses), so a "lower resolution" really is fewer source pixels, not a blur painted on the
final crop. All are on by default; their names and ranges go into the head card.

* box jitter: the lung rectangle shifted and scaled a little (segmentations differ);
* rotation: a few degrees (patient positioning);
* rescale: the rectangle brought to fewer pixels than the head's effective side (a low-resolution or downsized
  export); the crop is then upsampled like any small source;
* JPEG: re-compression at a random quality (exports, PACS previews);
* blur / sharpen: detector and processing differences;
* gamma, contrast, brightness: exposure and processing look-up tables;
* noise: quantum noise of a low dose.
"""

from __future__ import annotations

import io
from dataclasses import asdict, dataclass

import numpy as np
import torch
from PIL import Image, ImageFilter

from training.cache import CachedRegion


@dataclass(frozen=True)
class AugmentConfig:
    """Ranges of each augmentation (probability, then the range it draws from)."""

    box_shift: float = 0.05  # of the rectangle's size, each axis
    box_scale: tuple[float, float] = (0.92, 1.08)
    rotation_degrees: float = 7.0
    rescale_p: float = 0.6
    rescale: tuple[float, float] = (0.4, 1.0)  # factor on the effective side
    jpeg_p: float = 0.4
    jpeg_quality: tuple[int, int] = (30, 95)
    blur_p: float = 0.25
    blur_radius: tuple[float, float] = (0.3, 1.2)  # pixels of the 224 crop
    sharpen_p: float = 0.2
    gamma: tuple[float, float] = (0.7, 1.4)
    contrast: tuple[float, float] = (0.8, 1.25)
    brightness: float = 0.06  # on a 0..1 scale, each way
    noise_p: float = 0.3
    noise_sigma: tuple[float, float] = (1.0, 5.0)  # grey levels

    def describe(self) -> dict[str, object]:
        """For the head card: every augmentation and its range."""
        return asdict(self)

    def active(self) -> list[str]:
        """The augmentations this config applies, in words (for model cards)."""
        parts = []
        if self.box_shift or self.box_scale != (1.0, 1.0):
            parts.append(f"lung box shift ±{self.box_shift:.0%} and scale {self.box_scale[0]}–{self.box_scale[1]}")
        if self.rotation_degrees:
            parts.append(f"rotation ±{self.rotation_degrees:g}°")
        if self.rescale_p:
            low, high = self.rescale
            parts.append(f"rescale to {low:g}–{high:g} of the effective side (p {self.rescale_p})")
        if self.jpeg_p:
            parts.append(f"JPEG q{self.jpeg_quality[0]}–{self.jpeg_quality[1]} (p {self.jpeg_p})")
        if self.blur_p:
            parts.append(f"blur radius {self.blur_radius[0]}–{self.blur_radius[1]} px (p {self.blur_p})")
        if self.sharpen_p:
            parts.append(f"unsharp mask (p {self.sharpen_p})")
        if self.gamma != (1.0, 1.0) or self.contrast != (1.0, 1.0) or self.brightness:
            parts.append(f"gamma {self.gamma[0]}–{self.gamma[1]}, contrast {self.contrast[0]}–{self.contrast[1]}, "
                         f"brightness ±{self.brightness}")
        if self.noise_p:
            parts.append(f"noise σ {self.noise_sigma[0]}–{self.noise_sigma[1]} grey levels (p {self.noise_p})")
        return parts


# Named sets: "full" varies everything above; "resolution" only what changes between files of the same film
# (fewer source pixels, re-compression, the detector's blur), leaving geometry and exposure as they are.
PRESETS: dict[str, AugmentConfig] = {
    "full": AugmentConfig(),
    "resolution": AugmentConfig(box_shift=0.0, box_scale=(1.0, 1.0), rotation_degrees=0.0, gamma=(1.0, 1.0),
                                contrast=(1.0, 1.0), brightness=0.0, noise_p=0.0, sharpen_p=0.0),
}


def augmented_crop(entry: CachedRegion, size: int, effective_side: int | None, rng: np.random.Generator,
                   config: AugmentConfig) -> np.ndarray:
    """One randomly varied model crop of a cached region (uint8, size x size)."""
    region = Image.fromarray(entry.region)
    x0, y0, x1, y1 = entry.box
    width, height = x1 - x0, y1 - y0
    scale = rng.uniform(*config.box_scale)
    cx = (x0 + x1) / 2 + rng.uniform(-1, 1) * config.box_shift * width
    cy = (y0 + y1) / 2 + rng.uniform(-1, 1) * config.box_shift * height
    half_w, half_h = width * scale / 2, height * scale / 2
    angle = rng.uniform(-1, 1) * config.rotation_degrees
    if abs(angle) > 0.1:
        fill = int(np.median(entry.region))
        region = region.rotate(angle, resample=Image.BILINEAR, center=(cx, cy), fillcolor=fill)
    box = (max(0, round(cx - half_w)), max(0, round(cy - half_h)),
           min(region.width, round(cx + half_w)), min(region.height, round(cy + half_h)))
    if box[2] - box[0] < 4 or box[3] - box[1] < 4:
        box = entry.box
    side = effective_side or max(width, height)
    if rng.random() < config.rescale_p:
        side = max(16, round(side * rng.uniform(*config.rescale)))
    cut = region.crop(box)
    if max(cut.size) > side:  # fewer source pixels: a smaller or downsized export
        factor = side / max(cut.size)
        cut = cut.resize((max(1, round(cut.width * factor)), max(1, round(cut.height * factor))), Image.BOX)
    if rng.random() < config.jpeg_p:
        cut = _jpeg(cut, int(rng.integers(config.jpeg_quality[0], config.jpeg_quality[1] + 1)))
    crop = cut.resize((size, size), Image.BILINEAR)  # the final resize of engine.segment.model_crop
    draw = rng.random()
    if draw < config.blur_p:
        crop = crop.filter(ImageFilter.GaussianBlur(rng.uniform(*config.blur_radius)))
    elif draw < config.blur_p + config.sharpen_p:
        crop = crop.filter(ImageFilter.UnsharpMask(radius=rng.uniform(1.0, 2.0), percent=int(rng.integers(50, 150)),
                                                   threshold=2))
    values = np.asarray(crop, np.float32) / 255.0
    values = values ** rng.uniform(*config.gamma)
    values = (values - 0.5) * rng.uniform(*config.contrast) + 0.5 + rng.uniform(-1, 1) * config.brightness
    if rng.random() < config.noise_p:
        values = values + rng.normal(0.0, rng.uniform(*config.noise_sigma) / 255.0, values.shape)
    return np.clip(values * 255.0 + 0.5, 0, 255).astype(np.uint8)


def _jpeg(picture: Image.Image, quality: int) -> Image.Image:
    buffer = io.BytesIO()
    picture.save(buffer, format="JPEG", quality=quality)
    buffer.seek(0)
    with Image.open(buffer) as decoded:
        return decoded.convert("L")


class RegionAugmenter:
    """Batches of augmented crops of cached regions, reproducible from (seed, epoch)."""

    def __init__(self, entries: list[CachedRegion], size: int, effective_side: int | None,
                 config: AugmentConfig | None = None, seed: int = 0) -> None:
        self.entries, self.size, self.effective_side = entries, size, effective_side
        self.config = config or AugmentConfig()
        self.seed = seed

    def batch(self, indices: np.ndarray, epoch: int, step: int) -> torch.Tensor:
        """(B, S, S) uint8 crops of ``entries[indices]``."""
        rng = np.random.default_rng((self.seed, epoch, step))
        crops = [augmented_crop(self.entries[int(i)], self.size, self.effective_side, rng, self.config)
                 for i in indices]
        return torch.from_numpy(np.stack(crops))
