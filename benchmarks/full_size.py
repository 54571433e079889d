"""The full-size radiographs, the labelled set and the head the benchmarks run (shared by bench_triage.py and
bench_model.py)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
from PIL import Image

from engine.errors import ModelLoadError
from engine.io import load_image
from engine.model.store import active_head_dir

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
FULL_SIZE = 900  # long side, pixels


def long_side(path: Path) -> int:
    if path.suffix == ".dcm":
        meta = load_image(path).meta
        return max(meta.rows, meta.columns)
    with Image.open(path) as image:
        return max(image.size)


def full_size_files() -> list[Path]:
    candidates = sorted((DATA / "dicom").glob("*.dcm")) + sorted((DATA / "samples").iterdir())
    return [path for path in candidates if long_side(path) >= FULL_SIZE]


def labelled_set(per_class: int = 20) -> tuple[list[Path], np.ndarray]:
    normal = sorted((DATA / "kermany" / "train" / "NORMAL").glob("*.jpeg"))[:per_class]
    abnormal = sorted((DATA / "kermany" / "train" / "PNEUMONIA").glob("*.jpeg"))[:per_class]
    return normal + abnormal, np.r_[np.zeros(len(normal)), np.ones(len(abnormal))]


def untrained_head(folder: Path) -> Path:
    from engine.model.checkpoint import save_checkpoint
    from engine.model.config import ModelConfig
    from engine.model.pneumollm import build_model, frozen_fingerprints

    model = build_model(ModelConfig())
    save_checkpoint(folder, model.trained_state_dict(), {
        "profile": "embedded", "model": model.config.to_json(), "labels": ["NORMAL", "PNEUMONIA"],
        "positive_index": 1, "threshold": 0.5, "temperature": 1.0, "fingerprints": frozen_fingerprints(model)})
    return folder


def unrestricted_copy(head: Path, work: Path) -> Path:
    """The head, copied, without its intended-use restriction: the shipped head is paediatric, and triage
    refuses the adult DICOMs before any model work, which would flatter the rate."""
    copy = work / "head"
    shutil.copytree(head, copy)
    card = json.loads((copy / "head.json").read_text())
    card.pop("intended_use", None)
    (copy / "head.json").write_text(json.dumps(card))
    return copy


def benchmark_head(model: Path | None, work: Path) -> tuple[Path, str]:
    """The head to measure (``model``, else the installed one) without its intended-use restriction; an untrained
    embedded head when there is none (speed is the same; the AUC then means nothing). Returns (head, note)."""
    try:
        return unrestricted_copy(model or active_head_dir(), work), ""
    except (ModelLoadError, OSError):
        return untrained_head(work / "untrained"), " (untrained head: speed only, AUC meaningless)"
