"""Does the model answer the radiograph or its file format? The same image presented at other resolutions and
encodings should get (nearly) the same probability.

``present`` makes the presentations from a radiograph's 8-bit image: half and double resolution (area-filtered
down, bicubic up) and a JPEG re-encoding at quality 70 — what a downsized export, an upsampled thumbnail and a
PACS preview do to a film. ``consistency`` runs each through the full inference path (segmentation, crop,
model) and reports how far the probability moves from the native presentation and how often the decision flips.
"""

from __future__ import annotations

import io
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from engine.decision import decide
from engine.diagnoser import Diagnoser
from engine.errors import PneumoError
from engine.io import ImageMeta, LoadedImage, load_image
from engine.progress import Progress

PRESENTATIONS = ("half", "double", "jpeg70")  # each compared with "native"


def present(image_uint8: np.ndarray, name: str) -> np.ndarray:
    """One presentation of an 8-bit radiograph."""
    picture = Image.fromarray(np.ascontiguousarray(image_uint8))
    if name == "native":
        return image_uint8
    if name == "half":
        return np.asarray(picture.resize((max(1, picture.width // 2), max(1, picture.height // 2)), Image.BOX))
    if name == "double":
        return np.asarray(picture.resize((picture.width * 2, picture.height * 2), Image.BICUBIC))
    if name.startswith("jpeg"):
        buffer = io.BytesIO()
        picture.save(buffer, format="JPEG", quality=int(name.removeprefix("jpeg")))
        buffer.seek(0)
        with Image.open(buffer) as decoded:
            return np.asarray(decoded.convert("L"))
    raise ValueError(f"unknown presentation {name!r}; valid: native, {', '.join(PRESENTATIONS)}")


def as_image(pixels: np.ndarray, source: ImageMeta, name: str) -> LoadedImage:
    """An in-memory radiograph read as a raster file would be (its source's DICOM tags are not carried over)."""
    meta = ImageMeta(path=source.path.with_name(f"{source.path.name}#{name}"), kind="raster", rows=pixels.shape[0],
                     columns=pixels.shape[1], bits_stored=8, decoder="presentation", photometric="MONOCHROME2")
    return LoadedImage(meta, pixels, pixels)


def consistency(diagnoser: Diagnoser, paths: Sequence[str | Path], *,
                presentations: Sequence[str] = PRESENTATIONS,
                progress: Callable[[Progress], None] | None = None) -> dict[str, Any]:
    """|delta p| against the native presentation (median, 95th percentile) and the decision flip rate, per
    presentation and over all of them. Files that cannot be read or diagnosed are counted, not fatal."""
    started = time.perf_counter()
    deltas: dict[str, list[float]] = {name: [] for name in presentations}
    flips: dict[str, list[bool]] = {name: [] for name in presentations}
    skipped = 0
    threshold, _ = diagnoser.threshold_in_force()
    for number, path in enumerate(paths, start=1):
        try:
            source = load_image(path)
            eight_bit = source.model_uint8
            images = [as_image(eight_bit, source.meta, "native")]
            images += [as_image(present(eight_bit, name), source.meta, name) for name in presentations]
            results = diagnoser.predict_batch(images, allow_flagged=True, intended_use_checked=True)
        except PneumoError:
            skipped += 1
            continue
        native = results[0].probability
        native_flagged = decide(native, threshold, ()).flagged
        for name, result in zip(presentations, results[1:], strict=True):
            deltas[name].append(abs(result.probability - native))
            flips[name].append(decide(result.probability, threshold, ()).flagged != native_flagged)
        if progress is not None:
            progress(Progress.of(number, len(paths), started, "Consistency"))
    per = {name: _summary(deltas[name], flips[name]) for name in presentations}
    pooled = _summary([d for name in presentations for d in deltas[name]],
                      [f for name in presentations for f in flips[name]])
    return {"n": len(paths) - skipped, "skipped": skipped, "threshold": threshold, "presentations": per,
            "overall": pooled}


def _summary(deltas: list[float], flips: list[bool]) -> dict[str, float | None]:
    if not deltas:
        return {"median_abs_delta": None, "p95_abs_delta": None, "flip_rate": None}
    values = np.asarray(deltas)
    return {"median_abs_delta": round(float(np.median(values)), 4),
            "p95_abs_delta": round(float(np.percentile(values, 95)), 4),
            "flip_rate": round(float(np.mean(flips)), 4)}
