"""Training augmentations: reproducible, varied, the right shape, and made from the region before the crop."""

from __future__ import annotations

import numpy as np

from tests.dicom_factory import chest_like
from training.augment import AugmentConfig, RegionAugmenter, augmented_crop
from training.cache import CachedRegion, cut_region


def region() -> CachedRegion:
    image = chest_like(600, 560, dtype=np.uint8, high=250)
    cut, box = cut_region(image, (80, 60, 480, 540))
    return CachedRegion(cut, box, 480, 600, (), False, image[:224, :224])


def test_batches_are_reproducible_and_vary_between_steps() -> None:
    augmenter = RegionAugmenter([region()] * 3, 224, 180, seed=5)
    first = augmenter.batch(np.arange(3), epoch=1, step=2)
    again = augmenter.batch(np.arange(3), epoch=1, step=2)
    other = augmenter.batch(np.arange(3), epoch=1, step=3)
    assert first.shape == (3, 224, 224) and first.dtype.is_floating_point is False
    assert np.array_equal(first.numpy(), again.numpy())
    assert not np.array_equal(first.numpy(), other.numpy())
    assert not np.array_equal(first[0].numpy(), first[1].numpy())  # each image draws its own variation


def test_without_any_augmentation_the_crop_is_the_model_crop() -> None:
    entry = region()
    off = AugmentConfig(box_shift=0.0, box_scale=(1.0, 1.0), rotation_degrees=0.0, rescale_p=0.0, jpeg_p=0.0,
                        blur_p=0.0, sharpen_p=0.0, gamma=(1.0, 1.0), contrast=(1.0, 1.0), brightness=0.0, noise_p=0.0)
    crop = augmented_crop(entry, 224, 180, np.random.default_rng(0), off)
    reference = entry.crop(224, 180)
    assert np.abs(crop.astype(int) - reference.astype(int)).max() <= 1  # rounding of the intensity pass only


def test_rescale_really_removes_detail() -> None:
    entry = region()
    only_rescale = AugmentConfig(box_shift=0.0, box_scale=(1.0, 1.0), rotation_degrees=0.0, rescale_p=1.0,
                                 rescale=(0.25, 0.25), jpeg_p=0.0, blur_p=0.0, sharpen_p=0.0, gamma=(1.0, 1.0),
                                 contrast=(1.0, 1.0), brightness=0.0, noise_p=0.0)
    low = augmented_crop(entry, 224, 180, np.random.default_rng(0), only_rescale).astype(float)
    native = entry.crop(224, 180).astype(float)
    assert np.abs(np.diff(low, axis=1)).mean() < np.abs(np.diff(native, axis=1)).mean()


def test_the_card_names_every_augmentation() -> None:
    names = set(AugmentConfig().describe())
    assert {"rescale", "jpeg_quality", "blur_radius", "gamma", "contrast", "noise_sigma", "rotation_degrees",
            "box_shift"} <= names
