"""Dask triage with 1 worker against 2 workers on this machine, the same files, one run; and the in-process path.

    python benchmarks/bench_cluster.py [--images 48] [--model DIR] [--batch-size 8]

Each worker process loads its own Diagnoser and gets cores // workers torch threads, so on a 2-core machine
the ratio shows whether two single-threaded workers beat one two-threaded one (decode overlaps, no
intra-op synchronisation), and what Dask's scheduling costs next to ``triage_folder`` in one process.
Worker start-up (the cluster and each worker's model loading) is timed separately from the triage itself.
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from pathlib import Path

from distributed import Client

from engine.diagnoser import Diagnoser
from engine.diagnoser_spec import DiagnoserSpec
from engine.triage import triage_folder
from engine.triage.cluster import local_cluster, prepare_workers, triage_on_cluster

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def copy_inputs(folder: Path, images: int) -> None:
    folder.mkdir()
    sources = sorted((DATA / "kermany" / "train" / "PNEUMONIA").glob("*.jpeg"))[: images // 2]
    sources += sorted((DATA / "jsrt" / "images").glob("*.png"))[: images - len(sources)]
    for index, source in enumerate(sources):
        shutil.copy(source, folder / f"{index:03d}{source.suffix}")


def on_cluster(folder: Path, out: Path, workers: int, spec: DiagnoserSpec, batch_size: int) -> tuple[float, float]:
    """(seconds to start the cluster and load the models, seconds of triage)."""
    started = time.perf_counter()
    with local_cluster(workers) as cluster, Client(cluster) as client:
        prepare_workers(client, spec)  # every worker loads its Diagnoser: start-up, not throughput
        ready = time.perf_counter()
        summary = triage_on_cluster(folder, out, spec, client=client, batch_size=batch_size)
        return ready - started, summary.seconds


def main(images: int, model: Path | None, batch_size: int) -> None:
    os.environ.setdefault("DASK_LOGGING__DISTRIBUTED", "error")
    cores = os.cpu_count() or 1
    work = Path(tempfile.mkdtemp(prefix="bench-cluster-"))
    try:
        folder = work / "in"
        copy_inputs(folder, images)
        count = len(list(folder.iterdir()))
        diagnoser = Diagnoser(model, device="cpu")
        triage_folder(folder, work / "warm.csv", diagnoser, batch_size=batch_size)  # warm caches and files
        single = triage_folder(folder, work / "single.csv", diagnoser, batch_size=batch_size).seconds
        del diagnoser
        results = {}
        for workers in (1, 2):
            spec = DiagnoserSpec(str(model) if model else None, device="cpu", threads=max(1, cores // workers))
            start, seconds = on_cluster(folder, work / f"w{workers}.parquet", workers, spec, batch_size)
            results[workers] = seconds
            print(f"dask, {workers} worker(s) x {max(1, cores // workers)} thread(s): {count / seconds:.2f} img/s "
                  f"(triage {seconds:.1f} s; start-up incl. model loading {start:.1f} s)")
        print(f"in-process triage_folder, {cores} threads: {count / single:.2f} img/s")
        print(f"ratio 2 workers / 1 worker: {results[1] / results[2]:.2f}x; "
              f"dask 1 worker / in-process: {single / results[1]:.2f}x   ({count} images, {cores} cores)")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=48)
    parser.add_argument("--model", type=Path)
    parser.add_argument("--batch-size", type=int, default=8)
    args = parser.parse_args()
    main(args.images, args.model, args.batch_size)
