"""Archive-scale triage on a Dask cluster: batches of files to workers that each hold one Diagnoser.

The client lists and hashes the files, skips those a Parquet dataset from an earlier run already holds (keyed
by relative path and content hash, as the CSV triage is), submits the rest as batches, and appends one Parquet
part per finished batch, written atomically. A worker killed mid-batch loses only that batch: the scheduler
re-runs it elsewhere. A batch that keeps killing workers (a decoder crashing on one file) is split into single
files, so one poisonous file costs one "unreadable" row, not the run. Workers read files by path, so every
worker must see the same paths (a shared filesystem across machines).

Dask distributed does the scheduling, retries and worker lifecycle; nothing here is a job system of its own.
"""

from __future__ import annotations

import logging
import os
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

import dask
import pyarrow as pa
import pyarrow.parquet as pq
from distributed import Client, LocalCluster, WorkerPlugin, as_completed, get_worker
from distributed.client import FutureCancelledError
from distributed.scheduler import KilledWorker

from engine.diagnoser_spec import DiagnoserSpec
from engine.errors import PneumoError
from engine.io.study_scan import iter_candidate_files
from engine.paths import file_sha256
from engine.progress import Progress
from engine.triage.rows import COLUMNS, UNREADABLE, TriageRow, TriageSummary, row_for, unreadable_row, write_csv

log = logging.getLogger(__name__)

# The Parquet columns are the CSV's, in its order, typed.
SCHEMA = pa.schema([(name, pa.float64() if name in ("probability", "threshold") else pa.string())
                    for name in COLUMNS])


class DiagnoserPlugin(WorkerPlugin):
    """Loads the Diagnoser once per worker process (again on a restarted worker)."""

    idempotent = True  # registering the same spec again keeps the loaded model

    def __init__(self, spec: DiagnoserSpec) -> None:
        self.spec = spec
        self.name = spec.plugin_name
        self.diagnoser: Any = None

    def setup(self, worker: Any) -> None:
        self.diagnoser = self.spec.build()


def diagnose_batch(items: Sequence[tuple[str, str, str]], batch_size: int, plugin_name: str) -> list[dict[str, Any]]:
    """Runs on a worker: (absolute path, relative name, sha256) per file -> one CSV row (as a dict) per file."""
    plugin = get_worker().plugins[plugin_name]
    if plugin.spec.threads:
        import torch

        # OpenMP's thread count is per calling thread, and Dask sets OMP_NUM_THREADS=1 for its workers: set it
        # here, in the thread that runs the model, not only where the plugin was set up
        torch.set_num_threads(plugin.spec.threads)
    keys = {Path(path): (relative, digest) for path, relative, digest in items}
    rows = []
    for outcome in plugin.diagnoser.iter_diagnose(list(keys), batch_size):
        relative, digest = keys[outcome.path]
        rows.append(asdict(row_for(relative, digest, outcome)))
    return rows


@dataclass(frozen=True)
class HashedFile:
    """A file to triage on the cluster: where it is, its name in the results, its content hash."""

    path: Path
    relative: str
    sha256: str


def list_inputs(source: Path) -> tuple[list[Path], Path | None]:
    """The files of a folder tree (names relative to it), or of a list file (one path per line, kept as given)."""
    if source.is_dir():
        return list(iter_candidate_files(source)), source
    if source.is_file():
        lines = source.read_text(encoding="utf-8").splitlines()
        base = source.parent
        paths = [Path(line.strip()) for line in lines if line.strip() and not line.lstrip().startswith("#")]
        return [p if p.is_absolute() else base / p for p in paths], None
    raise PneumoError(f"{source} is neither a folder nor a list of files.")


def dataset_dir(out: Path) -> Path:
    """Where the Parquet parts live: ``out`` itself for a ``.parquet`` output, beside a ``.csv`` one."""
    return out if out.suffix.lower() == ".parquet" else out.with_name(out.name + ".parts.parquet")


def read_dataset(folder: Path) -> tuple[list[TriageRow], int]:
    """Rows of every readable part (parts are written atomically; a foreign or damaged one is redone)."""
    rows: list[TriageRow] = []
    untrusted = 0
    if not folder.is_dir():
        return rows, untrusted
    names = {f.name for f in fields(TriageRow)}
    for part in sorted(folder.glob("part-*.parquet")):
        try:
            records = pq.read_table(part).to_pylist()
        except (OSError, pa.ArrowException):
            log.warning("a results part could not be read; its files are done again")
            untrusted += 1
            continue
        for record in records:
            if not record.get("file") or (not record.get("sha256") and record.get("decision") != UNREADABLE):
                untrusted += 1
                continue
            rows.append(TriageRow(**{k: (record.get(k) if k in ("probability", "threshold") else
                                          (record.get(k) or "")) for k in names}))
    return rows, untrusted


def write_part(folder: Path, rows: Iterable[dict[str, Any]]) -> Path:
    """One batch's rows as a Parquet part; a hidden temporary name until complete, so readers never see a torn one."""
    folder.mkdir(parents=True, exist_ok=True)
    table = pa.Table.from_pylist([{c: row.get(c) for c in COLUMNS} for row in rows], schema=SCHEMA)
    final = folder / f"part-{time.time_ns():020d}-{uuid.uuid4().hex[:8]}.parquet"
    temporary = folder / f".{final.name}.tmp"  # pyarrow's dataset readers skip names starting with '.'
    pq.write_table(table, temporary)
    with open(temporary, "rb") as handle:
        os.fsync(handle.fileno())
    os.replace(temporary, final)
    return final


def prepare_workers(client: Client, spec: DiagnoserSpec) -> None:
    """Every worker (and every worker that joins or restarts later) loads the Diagnoser of ``spec`` once."""
    client.register_plugin(DiagnoserPlugin(spec), name=spec.plugin_name)


def _hash_all(paths: Sequence[Path], root: Path | None) -> tuple[list[HashedFile], list[TriageRow]]:
    """Content hashes in a thread pool (hashlib releases the GIL; the work is reading files)."""
    def one(path: Path) -> HashedFile | TriageRow:
        relative = path.relative_to(root).as_posix() if root else str(path)
        try:
            return HashedFile(path, relative, file_sha256(path))
        except OSError as exc:
            return unreadable_row(relative, f"cannot read ({exc.strerror})")

    items: list[HashedFile] = []
    failed: list[TriageRow] = []
    with ThreadPoolExecutor(max_workers=min(8, (os.cpu_count() or 2) * 2)) as pool:
        for outcome in pool.map(one, paths):
            (items if isinstance(outcome, HashedFile) else failed).append(outcome)
    return items, failed


def _poisoned_rows(batch: Sequence[HashedFile], why: str) -> list[dict[str, Any]]:
    return [asdict(unreadable_row(item.relative, why, item.sha256)) for item in batch]


def triage_on_cluster(source: str | Path, out: str | Path, spec: DiagnoserSpec, *, client: Client,
                      batch_size: int = 16, progress: Callable[[Progress], None] | None = None,
                      task: Callable[..., list[dict[str, Any]]] = diagnose_batch) -> TriageSummary:
    """Triage ``source`` (a folder tree or a list file) on ``client``'s cluster into ``out``.

    ``out`` ending in ``.parquet`` is the dataset itself (a folder of parts with the CSV's columns); any other
    name gets the dataset beside it as the run's journal and the sorted CSV, exactly as ``triage_folder`` writes
    it, when every file is done.
    """
    source, out = Path(source), Path(out)
    started = time.perf_counter()
    parts = dataset_dir(out)
    paths, root = list_inputs(source)
    excluded = {out.resolve(), parts.resolve()}
    paths = [p for p in paths if p.resolve() not in excluded and parts.resolve() not in p.resolve().parents]
    earlier, untrusted = read_dataset(parts)
    done = {(row.file, row.sha256) for row in earlier}
    items, unreadable = _hash_all(paths, root)
    todo = [item for item in items if (item.relative, item.sha256) not in done]
    skipped = len(items) - len(todo)
    if unreadable:
        write_part(parts, (asdict(row) for row in unreadable if (row.file, row.sha256) not in done))

    if todo:
        prepare_workers(client, spec)
    batches = [todo[i : i + batch_size] for i in range(0, len(todo), batch_size)]
    # pure=False: a re-submitted batch after a failure is a new task, not the cached failure
    futures = {client.submit(task, [(str(i.path), i.relative, i.sha256) for i in batch], batch_size,
                             spec.plugin_name, pure=False): batch for batch in batches}
    finished = carried = skipped + len(unreadable)
    queue = as_completed(list(futures))
    for future in queue:
        batch = futures[future]
        try:
            rows = future.result()
        except KilledWorker:
            if len(batch) > 1:  # find the file that kills workers: each one alone
                log.warning("a batch of %d files kept killing workers; retrying them one by one", len(batch))
                for item in batch:
                    single = client.submit(task, [(str(item.path), item.relative, item.sha256)], 1,
                                           spec.plugin_name, pure=False)
                    futures[single] = [item]
                    queue.add(single)
                continue
            rows = _poisoned_rows(batch, "the decoder crashed on this file (its worker died each time it was read)")
        except FutureCancelledError as exc:
            raise PneumoError("The cluster cancelled the run; finished batches are kept and skipped next time.") \
                from exc
        write_part(parts, rows)
        finished += len(batch)
        if progress:
            progress(Progress.of(finished, len(paths), started, "Triage", carried=carried))

    final, untrusted_after = read_dataset(parts)
    rows_by_key = {(row.file, row.sha256): row for row in final}
    current = {(item.relative, item.sha256) for item in items} | {(row.file, row.sha256) for row in unreadable}
    kept = [row for key, row in rows_by_key.items() if key in current]  # files since removed are not reported
    summary = TriageSummary.tally(out, kept, skipped_existing=skipped, seconds=time.perf_counter() - started,
                                  untrusted_rows=untrusted + untrusted_after)
    if out.suffix.lower() != ".parquet":
        write_csv(out, kept)
    return summary


def parquet_to_csv(dataset: str | Path, out: str | Path) -> int:
    """The triage CSV (same columns, same order, sorted) from a Parquet result dataset; returns the row count."""
    rows, _ = read_dataset(Path(dataset))
    unique = list({(row.file, row.sha256): row for row in rows}.values())
    write_csv(Path(out), unique)
    return len(unique)


def worker_environment(torch_threads: int) -> dict[str, Any]:
    """The environment Dask's nannies give worker processes, fixed for PyTorch inference.

    Dask sets ``MALLOC_TRIM_THRESHOLD_=65536`` so that workers hand memory back to the system; with PyTorch's
    large, short-lived tensors that turns every allocation into an mmap/munmap pair and halved this
    pipeline's throughput when measured (16 radiographs: 6.3 s with it, 3.0 s without, one worker, 2 threads).
    Its ``OMP_NUM_THREADS=1`` is raised to the threads each worker is meant to use.
    """
    environ = dict(dask.config.get("distributed.nanny.pre-spawn-environ", {}))
    environ.pop("MALLOC_TRIM_THRESHOLD_", None)
    for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        environ[name] = torch_threads
    return environ


def local_cluster(workers: int, threads_per_worker: int = 1, torch_threads: int | None = None) -> LocalCluster:
    """A Dask cluster of ``workers`` processes on this machine (each loads its own Diagnoser), on loopback only.

    ``torch_threads``: the intra-op threads each worker's model uses (default: the cores shared out).
    """
    threads = torch_threads or max(1, (os.cpu_count() or 1) // workers)
    # nannies read this when they are created and reuse it for every worker they restart
    with dask.config.set({"distributed.nanny.pre-spawn-environ": worker_environment(threads)}):
        return LocalCluster(n_workers=workers, threads_per_worker=threads_per_worker, processes=True,
                            dashboard_address=None, host="127.0.0.1")

