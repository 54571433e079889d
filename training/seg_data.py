"""Public lung-mask data for the segmenter: JSRT/SCR and covid-chestxray/v7labs, split by patient.

Images go through the product's own ingest (``load_image(...).model_uint8``), so the segmenter trains
on exactly the 8-bit images it will see at run time.
"""

from __future__ import annotations

import csv
import random
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from engine.io import is_research_file, load_image
from engine.io.research_image import read_research_array


@dataclass(frozen=True)
class MaskedImage:
    dataset: str  # "jsrt" or "covid-v7"
    patient: str
    image_path: Path
    mask_paths: tuple[Path, ...]  # union of these is the lung mask

    def load(self) -> tuple[np.ndarray, np.ndarray]:
        """(8-bit image, bool lung mask) at the image's own resolution."""
        image = load_image(self.image_path).model_uint8
        mask = np.zeros(image.shape, bool)
        for path in self.mask_paths:
            mask |= read_mask(path, image.shape)
        return image, mask


def read_mask(path: Path, shape: tuple[int, int]) -> np.ndarray:
    """A lung mask file as a bool (H, W) array of ``shape``: PNG and friends above mid-grey, MetaImage / NRRD /
    NIfTI label maps wherever they are not 0 (left and right lung may carry different labels)."""
    if is_research_file(path):
        grid, _ = read_research_array(path)
        labels = grid[..., 0] if grid.ndim == 3 else grid
        picture = Image.fromarray(((labels != 0) * 255).astype(np.uint8))
        return np.asarray(picture.resize(shape[::-1], Image.NEAREST)) > 127
    return np.asarray(Image.open(path).convert("L").resize(shape[::-1], Image.NEAREST)) > 127


def jsrt_items(root: Path) -> list[MaskedImage]:
    folder = root / "jsrt"
    items = []
    for image in sorted((folder / "images").glob("*.png")):
        masks = tuple(folder / "masks" / side / image.name for side in ("left_lung", "right_lung"))
        if all(m.exists() for m in masks):
            items.append(MaskedImage("jsrt", image.stem, image, masks))  # one radiograph per patient
    return items


def covid_items(root: Path) -> list[MaskedImage]:
    folder = root / "covid-v7"
    patients: dict[str, str] = {}
    with open(folder / "metadata.csv", newline="") as handle:
        for row in csv.DictReader(handle):
            patients[row["image"]] = row["patientid"]
    items = []
    for image in sorted((folder / "images").iterdir()):
        mask = folder / "masks" / image.name
        if mask.exists():
            items.append(MaskedImage("covid-v7", f"covid-{patients.get(image.name, image.stem)}", image, (mask,)))
    return items


def split_by_patient(items: list[MaskedImage], fractions: tuple[float, float], seed: int
                     ) -> tuple[list[MaskedImage], list[MaskedImage], list[MaskedImage]]:
    """(train, validation, test): no patient appears in two parts. ``fractions`` = (validation, test)."""
    patients = sorted({item.patient for item in items})
    random.Random(seed).shuffle(patients)
    n_val, n_test = round(len(patients) * fractions[0]), round(len(patients) * fractions[1])
    test = set(patients[:n_test])
    val = set(patients[n_test : n_test + n_val])
    return ([i for i in items if i.patient not in test | val], [i for i in items if i.patient in val],
            [i for i in items if i.patient in test])
