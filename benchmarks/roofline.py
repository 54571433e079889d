"""This machine's roofline, measured in the same run as the stages it judges (the machine is shared, so only
numbers from one run are compared).

A stage's bound is max(FLOPs / matmul FLOP/s, bytes / copy bandwidth): the time it could not beat even if it
ran at this machine's fp32 matmul speed and moved only the bytes it must (its weights once, its input and
output once). Both counts are lower bounds, so measured / bound >= 1 and says how far from the limit it runs.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass

import torch
from torch import nn


@dataclass(frozen=True)
class Machine:
    gflops: float  # fp32 matmul, GFLOP/s, with torch's current thread count
    gbytes: float  # large-buffer copy, GB/s counted as bytes read + bytes written

    def bound_ms(self, flops: float, nbytes: float) -> float:
        return max(flops / (self.gflops * 1e9), nbytes / (self.gbytes * 1e9)) * 1e3

    def limit(self, flops: float, nbytes: float) -> str:
        return "FLOP" if flops / self.gflops >= nbytes / self.gbytes else "bytes"

    def line(self) -> str:
        return f"machine: fp32 matmul {self.gflops:.0f} GFLOP/s | memory copy {self.gbytes:.1f} GB/s | " \
               f"{torch.get_num_threads()} threads"


@dataclass(frozen=True)
class Stage:
    name: str
    ms: float  # measured, per image
    flops: float  # per image
    nbytes: float  # per image: minimum traffic (see the module docstring)


def _median_seconds(work, repeats: int) -> float:
    work()  # warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        work()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def matmul_gflops(size: int = 2048, repeats: int = 5) -> float:
    a, b = torch.randn(size, size), torch.randn(size, size)
    return 2 * size**3 / _median_seconds(lambda: a @ b, repeats) / 1e9


def copy_gbytes(megabytes: int = 256, repeats: int = 5) -> float:
    """Bandwidth of a copy far larger than the caches (read once + written once)."""
    source = torch.ones(megabytes * 2**20 // 4)
    target = torch.empty_like(source)
    return 2 * source.numel() * 4 / _median_seconds(lambda: target.copy_(source), repeats) / 1e9


def measure_machine() -> Machine:
    return Machine(matmul_gflops(), copy_gbytes())


def parameter_bytes(*modules: nn.Module | None) -> int:
    """Bytes of the weights (parameters and buffers) a forward pass must read at least once."""
    return sum(t.numel() * t.element_size() for m in modules if m is not None
               for t in (*m.parameters(), *m.buffers()))


def print_roofline(stages: list[Stage], machine: Machine, title: str) -> None:
    print(f"{title} — {machine.line()}")
    print(f"  {'stage':<13}{'measured ms/img':>16}{'GFLOP/img':>11}{'MB/img':>9}{'bound ms':>10}{'limit':>7}"
          f"{'measured/bound':>16}")
    total_ms = total_bound = 0.0
    for stage in stages:
        bound = machine.bound_ms(stage.flops, stage.nbytes)
        total_ms += stage.ms
        total_bound += bound
        print(f"  {stage.name:<13}{stage.ms:16.1f}{stage.flops / 1e9:11.3f}{stage.nbytes / 1e6:9.1f}{bound:10.2f}"
              f"{machine.limit(stage.flops, stage.nbytes):>7}{stage.ms / max(bound, 1e-9):15.1f}x")
    print(f"  {'total':<13}{total_ms:16.1f}{'':11}{'':9}{total_bound:10.2f}{'':7}"
          f"{total_ms / max(total_bound, 1e-9):15.1f}x")
