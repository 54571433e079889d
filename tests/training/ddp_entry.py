"""Entry point of the data-parallel test's processes: the tiny test profile, then the real ``pneumollm`` CLI."""

import sys

import tests.training.conftest  # noqa: F401  (registers the "tiny-test" profile in this process)
from commands import main
from training.distributed import rank_and_world

if __name__ == "__main__":
    code = main()
    rank, world = rank_and_world()
    sys.stderr.write(f"ddp-entry rank {rank} of {world} exit {code}\n")
    sys.exit(code)
