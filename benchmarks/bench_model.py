"""Per-stage CPU latency of PneumoLLM-embedded for batch 1 and 16, against the machine's own limit.

    python benchmarks/bench_model.py [--repeats 5]

Stages: preprocess (8-bit conversion, lung segmentation, crop, tensor), vision encoder (source tokens),
engine + neck, LLM, head. The model's FLOPs are counted with torch's FlopCounterMode and divided by a
matmul GFLOP/s figure measured in the same run (nanoGPT's MFU idea: how close to this machine's fp32
matmul speed the forward pass runs). Peak memory is the process's peak resident set.
"""

from __future__ import annotations

import argparse
import resource
import statistics
import time
from collections import defaultdict
from pathlib import Path

import torch
from torch.utils.flop_counter import FlopCounterMode

from engine.io import load_image
from engine.model.config import ModelConfig, PreprocessConfig
from engine.model.pneumollm import build_model
from engine.preprocess import prepare_batch
from engine.segment import LungSegmenter

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def matmul_gflops(size: int = 2048, repeats: int = 5) -> float:
    a, b = torch.randn(size, size), torch.randn(size, size)
    a @ b
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        a @ b
        times.append(time.perf_counter() - start)
    return 2 * size**3 / statistics.median(times) / 1e9


def stage_timer(model: torch.nn.Module) -> dict[str, list[float]]:
    """Wall time per stage via forward hooks (modules run one after another, so intervals do not overlap)."""
    spans: dict[str, list[float]] = defaultdict(list)
    starts: dict[str, float] = {}
    stages = {"vision": model.sources, "engine": model.token_engine, "neck": model.neck, "llm": model.decoder,
              "head": model.head}
    for name, module in stages.items():
        module.register_forward_pre_hook(lambda *_, n=name: starts.__setitem__(n, time.perf_counter()))
        module.register_forward_hook(lambda *_, n=name: spans[n].append(time.perf_counter() - starts[n]))
    return spans


def main(repeats: int, threads: int) -> None:
    torch.set_num_threads(threads)
    model = build_model(ModelConfig()).eval()
    spans = stage_timer(model)
    segmenter = LungSegmenter()
    files = sorted((DATA / "kermany" / "train" / "NORMAL").glob("*.jpeg"))[:16]
    images = [load_image(f) for f in files]
    peak_gflops = matmul_gflops()
    for batch in (1, 16):
        chosen = images[:batch]
        for image in chosen:
            image.__dict__.pop("model_uint8", None)
        prep = []
        totals = defaultdict(list)
        for repeat in range(repeats + 1):
            for image in chosen:
                image.__dict__.pop("model_uint8", None)
            start = time.perf_counter()
            cases = prepare_batch(chosen, segmenter, PreprocessConfig())
            prep_time = time.perf_counter() - start
            x = torch.stack([case.tensor for case in cases])
            for values in spans.values():
                values.clear()
            with torch.inference_mode():
                model(x, output_attentions=True)
            if repeat:  # first pass is the warm-up
                prep.append(prep_time)
                for name, values in spans.items():
                    totals[name].append(sum(values))
        with FlopCounterMode(display=False) as counter, torch.inference_mode():
            model(x)
        flops = counter.get_total_flops()
        model_s = sum(statistics.median(v) for v in totals.values())
        parts = " | ".join(f"{name} {statistics.median(v) * 1e3:7.1f}" for name, v in totals.items())
        achieved = flops / model_s / 1e9
        print(f"batch {batch:2d}: preprocess {statistics.median(prep) * 1e3:7.1f} | {parts} ms | "
              f"model {model_s * 1e3:7.1f} ms = {model_s * 1e3 / batch:6.1f} ms/img | "
              f"{flops / batch / 1e9:5.2f} GFLOP/img"
              f" | {achieved:5.1f} GFLOP/s = {100 * achieved / peak_gflops:4.1f}% of matmul {peak_gflops:.0f} GFLOP/s")
    print(f"peak memory {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB | {threads} threads")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    main(args.repeats, args.threads)
