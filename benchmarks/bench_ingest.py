"""Ingest benchmark: our decode-to-display per real DICOM next to pydicom's plain ``pixel_array``.

    python benchmarks/bench_ingest.py [--repeats 7] [--data ../shared/data/dicom]

Both paths read the file from disk and decode it; ours also applies the Modality LUT, the window and the
MONOCHROME1 polarity to produce the 8-bit display image. Medians over interleaved repeats in one run; the
ratio is what to read (aim: <= 1.2).
"""

from __future__ import annotations

import argparse
import statistics
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pydicom

from engine.io import load_image

DEFAULT_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "dicom"


@dataclass
class Args:
    data: Path = DEFAULT_DATA
    repeats: int = 7


def plain_pixel_array(path: Path) -> np.ndarray:
    return pydicom.dcmread(path).pixel_array


def ours(path: Path) -> np.ndarray:
    return load_image(path).display


def main(args: Args) -> None:
    files = sorted(args.data.glob("*.dcm"))
    if not files:
        raise SystemExit(f"no DICOM files in {args.data}")
    ratios = []
    for path in files:
        plain_pixel_array(path), ours(path)  # warm-up: plugin imports, file cache
        t_plain, t_ours = [], []
        for _ in range(args.repeats):  # interleaved so machine noise hits both alike
            start = time.perf_counter()
            plain_pixel_array(path)
            t_plain.append(time.perf_counter() - start)
            start = time.perf_counter()
            ours(path)
            t_ours.append(time.perf_counter() - start)
        p, o = statistics.median(t_plain) * 1e3, statistics.median(t_ours) * 1e3
        ratios.append(o / p)
        print(f"{path.name[:40]:40s} pixel_array {p:8.1f} ms | decode-to-display {o:8.1f} ms | ratio {o / p:5.2f}x")
    print(f"median ratio {statistics.median(ratios):.2f}x  worst {max(ratios):.2f}x  (aim <= 1.2x)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Args.data)
    parser.add_argument("--repeats", type=int, default=Args.repeats)
    main(Args(**vars(parser.parse_args())))
