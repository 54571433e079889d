"""Training throughput of the embedded profile on CPU: with and without the LLM, same run.

    python benchmarks/bench_training.py [--steps 8] [--batch-size 16]

Each variant runs in its own process (so peak memory is its own), trains ``--steps`` optimiser steps on
real 224x224 Kermany radiographs (after 2 warm-up steps), and reports ms per step, samples per second,
seconds per epoch of the paper-scale 630-image set and the projected minutes for 20 epochs
(aim: < 30 min for PneumoLLM-embedded on 2 cores). Ratios are within this one run.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data" / "kermany" / "train"
EPOCH_IMAGES = 630
VARIANTS = {"pneumollm": {}, "without-llm": {"use_llm": False}, "baseline-cnn": {"baseline": True}}


@dataclass
class Args:
    steps: int = 8
    batch_size: int = 16
    threads: int = 2


def child(variant: str, args: Args) -> dict[str, float]:
    import numpy as np
    import torch
    from PIL import Image

    sys.path.insert(0, str(ROOT))
    from training.config import FinetuneConfig
    from training.finetune import Trainer, make_model

    torch.set_num_threads(args.threads)
    files = sorted(DATA.glob("*/*.jpeg"))[:: 40][: args.batch_size * 4]
    crops = np.stack([np.asarray(Image.open(f).convert("L").resize((224, 224))) for f in files])
    labels = np.array([int("PNEUMONIA" in str(f)) for f in files])
    config = FinetuneConfig(batch_size=args.batch_size, epochs=1, **VARIANTS[variant])
    model, preprocess, _ = make_model(config)
    trainer = Trainer(config, model, preprocess)
    model.train()
    gen = torch.Generator().manual_seed(0)
    times = []
    for step in range(args.steps + 2):
        index = torch.randint(0, len(crops), (args.batch_size,), generator=gen)
        start = time.perf_counter()
        trainer._step(torch.from_numpy(crops[index.numpy()]), torch.from_numpy(labels[index.numpy()]))
        if step >= 2:
            times.append(time.perf_counter() - start)
    step_s = statistics.median(times)
    return {"step_ms": step_s * 1e3, "samples_per_s": args.batch_size / step_s,
            "epoch_s": EPOCH_IMAGES / args.batch_size * step_s,
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def main(args: Args) -> None:
    results = {}
    for variant in VARIANTS:
        out = subprocess.run([sys.executable, __file__, "--child", variant, "--steps", str(args.steps),
                              "--batch-size", str(args.batch_size), "--threads", str(args.threads)],
                             capture_output=True, text=True, check=True)
        results[variant] = json.loads(out.stdout.strip().splitlines()[-1])
        r = results[variant]
        print(f"{variant:14s} {r['step_ms']:8.0f} ms/step (batch {args.batch_size}) | {r['samples_per_s']:5.1f} img/s"
              f" | {r['epoch_s']:6.0f} s/epoch of {EPOCH_IMAGES} | 20 epochs {20 * r['epoch_s'] / 60:5.1f} min"
              f" | peak {r['peak_rss_mb']:6.0f} MB")
    base = results["pneumollm"]["step_ms"]
    print(f"pneumollm/without-llm {base / results['without-llm']['step_ms']:.2f}x | "
          f"pneumollm/baseline {base / results['baseline-cnn']['step_ms']:.2f}x | "
          f"aim: 20 epochs < 30 min -> {'met' if 20 * results['pneumollm']['epoch_s'] < 1800 else 'not met'}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=Args.steps)
    parser.add_argument("--batch-size", type=int, default=Args.batch_size)
    parser.add_argument("--threads", type=int, default=Args.threads)
    parser.add_argument("--child", choices=list(VARIANTS))
    ns = parser.parse_args()
    arguments = Args(ns.steps, ns.batch_size, ns.threads)
    if ns.child:
        print(json.dumps(child(ns.child, arguments)))
    else:
        main(arguments)
