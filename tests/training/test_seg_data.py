"""Lung masks for the segmenter: PNG and research-format (MetaImage / NRRD / NIfTI) masks read alike."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import SimpleITK as sitk
from PIL import Image

from tests.dicom_factory import chest_like
from training.seg_data import MaskedImage, read_mask


def _lungs(rows: int = 80, columns: int = 96) -> np.ndarray:
    """Label map: right lung 1, left lung 2, deliberately not mirror images (a flip would show)."""
    labels = np.zeros((rows, columns), np.uint8)
    labels[10:70, 8:40] = 1
    labels[20:60, 56:90] = 2
    return labels


def test_research_label_map_and_png_give_the_same_mask(tmp_path: Path) -> None:
    labels = _lungs()
    for suffix in (".nii.gz", ".mha", ".nrrd"):
        sitk.WriteImage(sitk.GetImageFromArray(labels), str(tmp_path / f"mask{suffix}"))
        np.testing.assert_array_equal(read_mask(tmp_path / f"mask{suffix}", labels.shape), labels != 0)
    Image.fromarray((labels != 0).astype(np.uint8) * 255).save(tmp_path / "mask.png")
    np.testing.assert_array_equal(read_mask(tmp_path / "mask.png", labels.shape), labels != 0)


def test_masked_image_pairs_a_research_radiograph_with_its_mask(tmp_path: Path) -> None:
    labels = _lungs()
    sitk.WriteImage(sitk.GetImageFromArray(chest_like(80, 96)), str(tmp_path / "image.mha"))
    sitk.WriteImage(sitk.GetImageFromArray(labels), str(tmp_path / "mask.nii"))
    image, mask = MaskedImage("test", "p1", tmp_path / "image.mha", (tmp_path / "mask.nii",)).load()
    assert image.shape == mask.shape == labels.shape and image.dtype == np.uint8
    np.testing.assert_array_equal(mask, labels != 0)
    # resized to the image with nearest neighbours when the mask is coarser
    half = labels[::2, ::2]
    sitk.WriteImage(sitk.GetImageFromArray(half), str(tmp_path / "half.nrrd"))
    assert read_mask(tmp_path / "half.nrrd", labels.shape).shape == labels.shape
