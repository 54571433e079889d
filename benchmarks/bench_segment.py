"""Segmentation + lung crop on CPU: milliseconds per image and the share spent in the network forward pass.

    python benchmarks/bench_segment.py [--images 12] [--repeats 3]

Real radiographs from ../shared/data (JSRT, covid-v7, samples, DICOM), one image at a time as the viewer
does, measured in one run; decoding is excluded (see bench_ingest.py).
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import torch

from engine.io import load_image
from engine.segment import LungSegmenter, crop_from_probability

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def main(images: int, repeats: int, threads: int) -> None:
    torch.set_num_threads(threads)
    files = (sorted((DATA / "jsrt" / "images").glob("*.png"))[: images // 3]
             + sorted((DATA / "covid-v7" / "images").glob("*.png"))[: images // 3]
             + sorted((DATA / "dicom").glob("RG1_UNC*.dcm")) + sorted((DATA / "samples").glob("*.png"))[:2])
    inputs = [load_image(f).model_uint8 for f in files]
    segmenter = LungSegmenter()
    segmenter.lung_crop(inputs[0])  # warm-up
    forward, total = [], []
    for _ in range(repeats):
        for image in inputs:
            start = time.perf_counter()
            probability = segmenter.probabilities([image])[0]
            middle = time.perf_counter()
            crop_from_probability(image, probability)
            end = time.perf_counter()
            forward.append((middle - start) * 1e3)
            total.append((end - start) * 1e3)
    f, t = statistics.median(forward), statistics.median(total)
    sizes = sorted({f"{im.shape[1]}x{im.shape[0]}" for im in inputs})
    print(f"segmentation + crop {t:6.1f} ms/image (median of {len(total)}) | network forward {f:6.1f} ms "
          f"= {100 * f / t:4.1f}% | post-processing + crop {t - f:6.1f} ms | {threads} threads")
    print(f"image sizes: {', '.join(sizes)}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=12)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    main(args.images, args.repeats, args.threads)
