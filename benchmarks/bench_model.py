"""Single-image predict on full-size radiographs against this machine's roofline, per stage, in one run.

    python benchmarks/bench_model.py [--repeats 3] [--batch 8] [--model DIR]

Files: the full-size radiographs of ``../shared/data`` (``full_size.py``: long side >= 900 px). Prints

* the roofline per stage (decode, 8-bit, segmentation, crop, encoder, LLM, head) at batch 1 — a single
  predict — and at ``--batch``: measured ms/image next to max(FLOP bound, bytes bound), with the machine's
  fp32 matmul GFLOP/s and copy bandwidth measured in the same run (``roofline.py``, ``pipeline_stages.py``);
* ``Diagnoser.predict(path)`` end to end, median over files x repeats, for the reference networks and the
  default speed-ups, and the default's ratio to the batch-1 roofline (aim <= 2x).

At batch 1 the frozen LLM streams all of its fp32 weights for one image, so its bound is the bytes one.
"""

from __future__ import annotations

import argparse
import resource
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import torch
from full_size import benchmark_head, full_size_files
from pipeline_stages import measure_stages
from roofline import Machine, measure_machine, print_roofline

from engine.diagnoser import Diagnoser
from engine.model.speedups import SpeedOptions


def predict_ms(diagnoser: Diagnoser, files: list[Path], repeats: int) -> float:
    diagnoser.predict(files[0], allow_flagged=True)  # warm-up
    times = []
    for _ in range(repeats):
        for file in files:
            start = time.perf_counter()
            diagnoser.predict(file, allow_flagged=True)
            times.append(time.perf_counter() - start)
    return statistics.median(times) * 1e3


def main(repeats: int, batch: int, threads: int, model: Path | None) -> None:
    torch.set_num_threads(threads)
    work = Path(tempfile.mkdtemp(prefix="bench-model-"))
    try:
        files = full_size_files()
        head, note = benchmark_head(model, work)
        machine: Machine = measure_machine()
        fast = Diagnoser(head, speed=SpeedOptions(reduced_decode=False))
        single = measure_stages(fast, files, 1, repeats)
        print_roofline(single, machine, f"roofline, full decoding, batch 1 (single predict), {len(files)} "
                                        f"full-size files{note}")
        print_roofline(measure_stages(fast, files, batch, repeats), machine,
                       f"roofline, full decoding, batch {batch}")
        reduced = Diagnoser(head)  # the default: reduced decoding
        single_reduced = measure_stages(reduced, files, 1, repeats)
        print_roofline(single_reduced, machine, "roofline, default (reduced decoding), batch 1")
        reference = Diagnoser(head, speed=SpeedOptions.reference())
        # alternate so that all see the same machine; the fastest of two rounds counts for each
        reference_ms = fast_ms = reduced_ms = float("inf")
        for _ in range(2):
            reference_ms = min(reference_ms, predict_ms(reference, files, repeats))
            fast_ms = min(fast_ms, predict_ms(fast, files, repeats))
            reduced_ms = min(reduced_ms, predict_ms(reduced, files, repeats))
        for name, ms, stages in (("full decoding", fast_ms, single), ("default", reduced_ms, single_reduced)):
            bound = sum(machine.bound_ms(stage.flops, stage.nbytes) for stage in stages)
            ratio = ms / bound
            print(f"predict (end to end, median): reference {reference_ms:6.1f} ms | {name} {ms:6.1f} ms = "
                  f"{reference_ms / ms:4.2f}x faster | its roofline {bound:5.1f} ms -> {ratio:4.1f}x the bound "
                  f"(aim <= 2x: {'met' if ratio <= 2 else 'NOT met'})")
        print(f"peak memory {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB | {threads} threads")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--model", type=Path)
    args = parser.parse_args()
    main(args.repeats, args.batch, args.threads, args.model)
