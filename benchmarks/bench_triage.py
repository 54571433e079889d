"""Triage throughput next to decode-only and inference-only throughput, on the same real files, one run.

    python benchmarks/bench_triage.py [--images 48] [--model DIR]

Aim: triage >= 0.8 x the slower of decode-only and inference-only, i.e. decoding overlaps with the model
instead of adding to it. Without --model the installed head is used; if none is installed, an untrained
embedded head is built for the measurement (speed does not depend on the trained weights).
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

import torch

from engine.diagnoser import Diagnoser
from engine.errors import ModelLoadError
from engine.io import load_image
from engine.triage import triage_folder

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def untrained_head(folder: Path) -> Path:
    from engine.model.checkpoint import save_checkpoint
    from engine.model.config import ModelConfig
    from engine.model.pneumollm import build_model, frozen_fingerprints

    model = build_model(ModelConfig())
    save_checkpoint(folder, model.trained_state_dict(), {
        "profile": "embedded", "model": model.config.to_json(), "labels": ["NORMAL", "PNEUMONIA"],
        "positive_index": 1, "threshold": 0.5, "temperature": 1.0, "fingerprints": frozen_fingerprints(model)})
    return folder


def main(images: int, model: Path | None, batch_size: int, threads: int) -> None:
    torch.set_num_threads(threads)
    work = Path(tempfile.mkdtemp(prefix="bench-triage-"))
    try:
        folder = work / "in"
        folder.mkdir()
        sources = sorted((DATA / "kermany" / "train" / "PNEUMONIA").glob("*.jpeg"))[: images // 2]
        sources += sorted((DATA / "covid-v7" / "images").glob("*.png"))[: images - len(sources) - 2]
        sources += sorted((DATA / "dicom").glob("RG1_UNC*.dcm"))
        for index, source in enumerate(sources):
            shutil.copy(source, folder / f"{index:03d}{source.suffix}")
        files = sorted(folder.iterdir())
        try:
            diagnoser = Diagnoser(model)
            note = ""
        except ModelLoadError:
            diagnoser = Diagnoser(untrained_head(work / "head"))
            note = " (untrained head: speed only)"
        diagnoser.predict_batch([load_image(files[0])])  # warm-up
        start = time.perf_counter()
        decoded = []
        for file in files:
            image = load_image(file)
            image.model_uint8  # noqa: B018
            decoded.append(image)
        decode_rate = len(files) / (time.perf_counter() - start)
        start = time.perf_counter()
        for offset in range(0, len(decoded), batch_size):
            diagnoser.predict_batch(decoded[offset : offset + batch_size], allow_flagged=True)
        infer_rate = len(files) / (time.perf_counter() - start)
        summary = triage_folder(folder, work / "out.csv", diagnoser, batch_size=batch_size)
        triage_rate = summary.images_per_second
        slower = min(decode_rate, infer_rate)
        print(f"{len(files)} files{note} | decode-only {decode_rate:6.2f} img/s | "
              f"inference-only {infer_rate:6.2f} img/s | triage {triage_rate:6.2f} img/s = "
              f"{triage_rate / slower:4.2f}x the slower (aim >= 0.8) | "
              f"{summary.line()}")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=48)
    parser.add_argument("--model", type=Path)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    main(args.images, args.model, args.batch_size, args.threads)
