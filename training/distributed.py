"""Data-parallel fine-tuning through Hugging Face ``accelerate`` (one process per GPU, or per CPU for tests).

``pneumollm train ... --launcher accelerate`` re-runs the same command under ``accelerate launch``; each
process sees ``PNEUMOLLM_ACCELERATE=1`` and builds one ``Accelerator``. Every rank runs the same pipeline on
the same data (so validation, thresholds and early stopping agree without communication); each takes its
slice of every batch, DDP averages the gradients, and only the main process writes files. Resuming reads the
run folder the main process wrote, so all ranks must see it (one machine, or a shared filesystem).
"""

from __future__ import annotations

import contextlib
import functools
import os
from collections.abc import Iterator
from typing import Any

ENV_FLAG = "PNEUMOLLM_ACCELERATE"
ENV_ACCUMULATION = "PNEUMOLLM_GRAD_ACCUMULATION"
ENV_CPU = "PNEUMOLLM_ACCELERATE_CPU"


def launched() -> bool:
    """True in a process started by ``--launcher accelerate``."""
    return os.environ.get(ENV_FLAG) == "1"


@functools.cache
def accelerator() -> Any:
    """The process's Accelerator, or None when training runs as one plain process."""
    if not launched():
        return None
    from accelerate import Accelerator, DistributedDataParallelKwargs

    steps = int(os.environ.get(ENV_ACCUMULATION, "1"))
    # mixed precision comes from `accelerate launch --mixed_precision` (bf16 on CUDA); CPU runs in fp32.
    # cpu=True makes torchrun's processes a gloo process group on CPU (the tests' data-parallel run).
    # unused parameters: heads that a run does not train through (e.g. no ordinal grades) get no gradient
    return Accelerator(gradient_accumulation_steps=steps, cpu=os.environ.get(ENV_CPU) == "1",
                       kwargs_handlers=[DistributedDataParallelKwargs(find_unused_parameters=True)])


def is_main_process() -> bool:
    acc = accelerator()
    return acc is None or acc.is_main_process


def rank_and_world() -> tuple[int, int]:
    acc = accelerator()
    return (0, 1) if acc is None else (acc.process_index, acc.num_processes)


def wait_for_everyone() -> None:
    acc = accelerator()
    if acc is not None:
        acc.wait_for_everyone()


@contextlib.contextmanager
def main_process_first() -> Iterator[None]:
    """The main process runs the block first (e.g. fills the crop cache), the others then find it done."""
    acc = accelerator()
    if acc is None:
        yield
    else:
        with acc.main_process_first():
            yield


def launch(argv: list[str], processes: int, *, cpu: bool, mixed_precision: str | None,
           accumulation: int = 1, module: str = "commands") -> tuple[list[str], dict[str, str]]:
    """The ``accelerate launch`` command line (and environment) that re-runs this CLI call per process.

    Several processes always go through accelerate's torchrun launcher (``--multi_gpu``): its ``--cpu`` mode
    starts several processes only under MPI, so CPU runs use the same launcher with ``Accelerator(cpu=True)``.
    """
    import sys

    command = [sys.executable, "-m", "accelerate.commands.launch", "--num_processes", str(processes),
               "--num_machines", "1", "--dynamo_backend", "no", "--mixed_precision", mixed_precision or "no"]
    if processes > 1:
        command.append("--multi_gpu")
    elif cpu:
        command.append("--cpu")
    command += ["-m", module, *argv]
    env = {**os.environ, ENV_FLAG: "1", ENV_ACCUMULATION: str(accumulation), ENV_CPU: "1" if cpu else "0"}
    return command, env
