"""Which stage of the model path answers a film's size: native full-size Kermany films against their 224-pixel
copies (made as the training set's were, ``training.kermany.training_copy``), stage by stage.

    python benchmarks/resolution_cue.py [--films ../shared/data/kermany/fullres-dev] [--model DIR] [--json OUT]

Per film, both through the product's path (``Diagnoser.predict_batch`` on ``load_image``): the calibrated
probability and the out-of-domain novelty; then what each stage changes and how far swapping it moves the score:

* 8-bit: the autocontrast range (full film vs copy) and the grey-level difference of the two 8-bit images on
  the copy's grid; ``grid``: the full film brought to the copy's grid *without* the JPEG step (the copy's
  compression alone is p(grid) - p(copy));
* segmentation: the lung boxes in relative coordinates (IoU) and p of the full film's crop cut with the copy's box;
* crop: mean |difference| of the two 224 crops, their sharpness (mean |Laplacian|);
* encoder: per tapped depth, 1 - cosine of the pooled features, and p of the copy with that one depth's pooled
  features taken from the full film (how much of the shift that depth carries);
* token engine: the L1 distance of the mixing weights.

The 8 films are for finding and checking the cue, never for training or choosing anything.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from scipy import ndimage

from engine.diagnoser import Diagnoser
from engine.io import LoadedImage, load_image
from engine.preprocess import PreparedCase, crop_to_tensor, prepare_batch
from engine.presentation import present
from engine.segment import model_crop
from training.kermany import COPY_SIDE, kermany_rows, training_copy

ROOT = Path(__file__).resolve().parents[1]
FILMS = ROOT.parent / "shared" / "data" / "kermany" / "fullres-dev"


def relative_box(box: tuple[int, int, int, int], shape: tuple[int, int]) -> np.ndarray:
    height, width = shape
    x0, y0, x1, y1 = box
    return np.array([x0 / width, y0 / height, x1 / width, y1 / height])


def iou(a: np.ndarray, b: np.ndarray) -> float:
    inter = max(0.0, min(a[2], b[2]) - max(a[0], b[0])) * max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    area = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return float(inter / area) if area > 0 else 0.0


def sharpness(crop: np.ndarray) -> float:
    return float(np.abs(ndimage.laplace(crop.astype(np.float32))).mean())


def on_grid(image: LoadedImage) -> LoadedImage:
    """The full film on the copy's grid (squashed to 224 x 224 the same way) but never JPEG-compressed."""
    from PIL import Image

    from engine.consistency import as_image

    picture = Image.fromarray(image.model_uint8).resize((COPY_SIDE, COPY_SIDE), Image.BICUBIC)
    return as_image(np.asarray(picture), image.meta, "grid")


class Probe:
    """The head's probability for crops, with the encoder's pooled features swappable per depth."""

    def __init__(self, diagnoser: Diagnoser) -> None:
        self.diagnoser = diagnoser
        self.sources = diagnoser.model.sources

    def pooled(self, crop: np.ndarray) -> dict[int, torch.Tensor]:
        return self.pooled_tensor(crop_to_tensor(crop, self.diagnoser.preprocess))

    def pooled_tensor(self, tensor: torch.Tensor) -> dict[int, torch.Tensor]:
        with torch.inference_mode():
            return self.sources.pooled_features(tensor[None])

    def probability(self, crop: np.ndarray, pooled: dict[int, torch.Tensor] | None = None) -> float:
        if pooled is None:
            return float(self.diagnoser.crop_probabilities([crop])[0])
        saved = self.sources.onnx_pooled
        self.sources.onnx_pooled = lambda _images: pooled  # the rest of the model runs on these features
        try:
            return float(self.diagnoser.crop_probabilities([crop])[0])
        finally:
            self.sources.onnx_pooled = saved


def film_report(diagnoser: Diagnoser, probe: Probe, path: Path, copy_path: Path) -> dict[str, Any]:
    full, copy = load_image(path), load_image(copy_path)
    threshold = diagnoser.threshold_in_force()[0]
    grid = on_grid(full)
    results = diagnoser.predict_batch([full, grid, copy], allow_flagged=True, intended_use_checked=True)
    names = ("full", "grid", "copy")
    cases: list[PreparedCase] = prepare_batch([full, grid, copy], diagnoser.segmenter, diagnoser.preprocess)
    full_case, copy_case = cases[0], cases[2]
    size, side = diagnoser.preprocess.input_size, diagnoser.preprocess.effective_side
    full8, copy8 = present(full, diagnoser.preprocess).pixels, present(copy, diagnoser.preprocess).pixels
    from PIL import Image

    full_on_grid = np.asarray(Image.fromarray(full8).resize(copy8.shape[::-1], Image.BICUBIC), np.float32)
    box_full = relative_box(full_case.lung_crop.box, (full.meta.rows, full.meta.columns))
    box_copy = relative_box(copy_case.lung_crop.box, (copy.meta.rows, copy.meta.columns))
    whole_full, whole_copy = probe.pooled_tensor(full_case.whole), probe.pooled_tensor(copy_case.whole)
    whole_distance = {str(tap): round(1.0 - float(torch.nn.functional.cosine_similarity(
        whole_full[tap][0], whole_copy[tap][0], dim=0)), 4) for tap in whole_full}
    h, w = full8.shape
    copy_box_on_full = (round(box_copy[0] * w), round(box_copy[1] * h), round(box_copy[2] * w), round(box_copy[3] * h))
    crop_full, crop_copy = full_case.lung_crop.crop, copy_case.lung_crop.crop
    pooled_full, pooled_copy = probe.pooled(crop_full), probe.pooled(crop_copy)
    p_copy = probe.probability(crop_copy)
    depth_swap, depth_distance = {}, {}
    for tap in pooled_full:
        a, b = pooled_full[tap][0], pooled_copy[tap][0]
        depth_distance[str(tap)] = round(1.0 - float(torch.nn.functional.cosine_similarity(a, b, dim=0)), 4)
        swapped = dict(pooled_copy) | {tap: pooled_full[tap]}
        depth_swap[str(tap)] = round(probe.probability(crop_copy, swapped) - p_copy, 4)
    mixing = [r.token_mixing for r in (results[0], results[2])]
    return {
        "film": path.name, "label": path.parent.name, "size": [full.meta.columns, full.meta.rows],
        "p": {name: round(r.probability, 4) for name, r in zip(names, results, strict=True)},
        "novelty": {name: None if r.novelty_percentile is None else round(r.novelty_percentile, 1)
                    for name, r in zip(names, results, strict=True)},
        "flagged": {name: r.probability >= threshold for name, r in zip(names, results, strict=True)},
        "eight_bit": {"range_full": [float(v) for v in full.value_range],
                      "range_copy": [float(v) for v in copy.value_range],
                      "mean_abs_grey_difference_on_grid": round(float(np.abs(full_on_grid - copy8).mean()), 2)},
        "segmentation": {"box_iou": round(iou(box_full, box_copy), 3),
                         "box_full": np.round(box_full, 3).tolist(), "box_copy": np.round(box_copy, 3).tolist(),
                         "p_full_with_copy_box": round(probe.probability(
                             model_crop(full8, copy_box_on_full, size, side)), 4)},
        "crop": {"mean_abs_difference": round(float(np.abs(crop_full.astype(float) - crop_copy).mean()), 2),
                 "sharpness_full": round(sharpness(crop_full), 2), "sharpness_copy": round(sharpness(crop_copy), 2)},
        "encoder": {"cosine_distance": depth_distance, "dp_swapping_in_full_depth": depth_swap,
                    "p_copy_with_all_full_features": round(probe.probability(crop_copy, pooled_full), 4)},
        "whole_image_encoder": {"cosine_distance": whole_distance},
        "token_engine": {"mixing_l1": None if mixing[0] is None
                         else round(float(np.abs(mixing[0] - mixing[1]).sum()), 4)},
    }


def summarise(rows: list[dict[str, Any]], threshold: float) -> dict[str, Any]:
    def median(values: list[float]) -> float:
        return round(statistics.median(values), 4)

    dp = [abs(r["p"]["full"] - r["p"]["copy"]) for r in rows]
    return {
        "threshold": threshold,
        "median_abs_dp_full_vs_copy": median(dp),
        "median_abs_dp_full_vs_grid": median([abs(r["p"]["full"] - r["p"]["grid"]) for r in rows]),
        "median_abs_dp_grid_vs_copy (JPEG)": median([abs(r["p"]["grid"] - r["p"]["copy"]) for r in rows]),
        "median_abs_dp_segmentation_box": median([abs(r["segmentation"]["p_full_with_copy_box"] - r["p"]["full"])
                                                  for r in rows]),
        "flagged_full": {label: sum(r["flagged"]["full"] for r in rows if r["label"] == label)
                         for label in ("NORMAL", "PNEUMONIA")},
        "flagged_copy": {label: sum(r["flagged"]["copy"] for r in rows if r["label"] == label)
                         for label in ("NORMAL", "PNEUMONIA")},
        "far_out_of_domain_full": sum((r["novelty"]["full"] or 0) >= 99.0 for r in rows),
        "far_out_of_domain_copy": sum((r["novelty"]["copy"] or 0) >= 99.0 for r in rows),
        "n": len(rows),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--films", type=Path, default=FILMS)
    parser.add_argument("--model", type=Path, default=None)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    torch.set_num_threads(2)
    diagnoser = Diagnoser(args.model, device="cpu")
    probe = Probe(diagnoser)
    card_preprocess = diagnoser.preprocess
    # "own size": every film at the size it was decoded (the model path before engine.presentation);
    # "training grid": the head card's presentation, as the product runs it now.
    modes = {"own size": replace(card_preprocess, film_grid=None, film_jpeg_quality=None),
             "training grid": card_preprocess}
    report: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as scratch:
        copies = [(path, training_copy(path, Path(scratch) / path.parent.name / path.name))
                  for path, _label, _patient in kermany_rows(args.films)]
        for mode, preprocess in modes.items():
            if mode == "training grid" and preprocess.film_grid is None:
                continue  # a head without a film grid: nothing more to compare
            diagnoser.preprocess = preprocess
            print(f"== {mode}", flush=True)
            rows = []
            for path, copy in copies:
                rows.append(film_report(diagnoser, probe, path, copy))
                print_row(rows[-1])
            summary = summarise(rows, diagnoser.threshold_in_force()[0])
            print(json.dumps(summary, indent=2))
            report[mode] = {"summary": summary, "films": rows}
    diagnoser.preprocess = card_preprocess
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))


def print_row(r: dict[str, Any]) -> None:
    p, crop = r["p"], r["crop"]
    print(f"{r['label']:9s} {r['film']:32s} {r['size'][0]}x{r['size'][1]}  p full {p['full']:.3f} grid "
          f"{p['grid']:.3f} copy {p['copy']:.3f}  novelty {r['novelty']}  box IoU {r['segmentation']['box_iou']}  "
          f"crop |d| {crop['mean_abs_difference']} sharp {crop['sharpness_full']}/{crop['sharpness_copy']}  "
          f"all-full-features p {r['encoder']['p_copy_with_all_full_features']}", flush=True)
    print("    crop depth 1-cos:", r["encoder"]["cosine_distance"], " dp swap:",
          r["encoder"]["dp_swapping_in_full_depth"])
    print("    whole depth 1-cos:", r["whole_image_encoder"]["cosine_distance"], flush=True)


if __name__ == "__main__":
    main()
