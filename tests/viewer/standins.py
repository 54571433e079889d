"""STAND-IN "ILO standard" images for the viewer tests: synthetic films with dots, made here and labelled as
stand-ins in their index. The ILO's standard radiographs are licensed and never part of this repository."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from PIL import Image

from tests.dicom_factory import chest_like

STAND_IN = "STAND-IN made by the tests, not an ILO standard"
SET = (("00.png", "0/0"), ("11pp.png", "1/1 p/p"), ("22qq.png", "2/2 q/q"), ("22pp.png", "2/2 p/p"),
       ("33rr.png", "3/3 r/r"), ("A.png", "A"), ("plaques.png", "pleural plaques"))


def stand_in_film(seed: int, rows: int = 300, columns: int = 280, dots: int = 40) -> np.ndarray:
    """An 8-bit synthetic chest with ``dots`` bright round opacities (a film-like picture, nothing clinical)."""
    rng = np.random.default_rng(seed)
    film = chest_like(rows, columns, dtype=np.float32, high=1.0)
    yy, xx = np.mgrid[0:rows, 0:columns]
    for _ in range(dots):
        cy, cx = rng.uniform(0.25, 0.75) * rows, rng.uniform(0.2, 0.8) * columns
        film[(yy - cy) ** 2 + (xx - cx) ** 2 < 9] += 0.3
    return np.clip(film * 230 + rng.normal(0, 6, film.shape), 0, 255).astype(np.uint8)


def make_standards(folder: Path) -> Path:
    """A folder of stand-in standards and its index.json (each entry's note says it is a stand-in)."""
    folder.mkdir(parents=True, exist_ok=True)
    entries = []
    for seed, (name, shows) in enumerate(SET):
        Image.fromarray(stand_in_film(seed, dots=10 * seed)).save(folder / name)
        entries.append({"file": name, "shows": shows, "note": STAND_IN})
    (folder / "index.json").write_text(json.dumps(entries, indent=1))
    return folder
