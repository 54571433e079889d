"""``pneumollm triage FOLDER_OR_LIST --out results.csv|results.parquet [--cluster tcp://HOST:8786 | --workers N]``.

Every radiograph in a folder tree (or listed in a file, one path per line), sorted by score. With ``--cluster``
or ``--workers`` (and for a ``.parquet`` output or a list) the work runs on Dask: batches of files to workers
that each hold one Diagnoser, results appended per batch to a Parquet dataset a re-run resumes from.
"""

from __future__ import annotations

import argparse
import contextlib
import os
from pathlib import Path
from typing import Any

from commands.common import add_json_flag, emit, guarded
from commands.predict_cmd import add_model_arguments, diagnoser_spec, make_diagnoser


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("folder", type=Path, metavar="FOLDER_OR_LIST",
                        help="a folder tree of DICOM/PNG/JPEG/TIFF/MetaImage/NRRD/NIfTI files, or a text file "
                             "listing one path per line")
    parser.add_argument("--out", type=Path, required=True,
                        help="results CSV or .parquet dataset (re-running with the same output resumes and skips "
                             "finished images)")
    parser.add_argument("--batch-size", type=int, default=8)
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--cluster", metavar="tcp://HOST:PORT", help="a running Dask scheduler to send the work to")
    where.add_argument("--workers", type=int, metavar="N", help="start a local Dask cluster of N worker processes")
    parser.add_argument("--csv", type=Path, metavar="OUT.csv",
                        help="with a .parquet output: also write the sorted CSV from it at the end")
    add_model_arguments(parser)
    add_json_flag(parser)


def run(args: argparse.Namespace) -> int:
    def body() -> int:
        from engine.errors import PneumoError

        distributed = bool(args.cluster or args.workers or args.folder.is_file()
                           or args.out.suffix.lower() == ".parquet")
        if not args.folder.exists():
            raise PneumoError(f"{args.folder} does not exist.")
        if not distributed and not args.folder.is_dir():
            raise PneumoError(f"{args.folder} is not a folder.")
        if args.workers is not None and args.workers < 1:
            raise PneumoError("--workers needs at least 1 worker.")
        bar = _progress_bar(enabled=not args.json)
        try:
            summary = _on_cluster(args, bar) if distributed else _in_process(args, bar)
        finally:
            if bar:
                bar.close()
        emit({"ok": True, "error": None, **summary.to_json()}, args.json, _text)
        return 0

    return guarded(args.json, body, extra={"out": str(args.out)})


def _in_process(args: argparse.Namespace, bar: _Bar | None) -> Any:
    from engine.triage import triage_folder

    diagnoser = make_diagnoser(args)
    return triage_folder(args.folder, args.out, diagnoser, batch_size=args.batch_size,
                         progress=bar.update if bar else None)


def _on_cluster(args: argparse.Namespace, bar: _Bar | None) -> Any:
    # Dask logs every scheduler and worker event at INFO; the user sees them only with -v. Set through the
    # environment so the worker processes it spawns inherit it.
    os.environ.setdefault("DASK_LOGGING__DISTRIBUTED", "info" if args.verbose else "error")
    from distributed import Client

    from engine.errors import PneumoError
    from engine.triage.cluster import dataset_dir, local_cluster, parquet_to_csv, triage_on_cluster

    workers = args.workers or 1
    cores = os.cpu_count() or 1
    spec = diagnoser_spec(args, threads=None if args.cluster else max(1, cores // workers))
    with contextlib.ExitStack() as stack:
        cluster = None if args.cluster else stack.enter_context(local_cluster(workers))
        try:
            client = stack.enter_context(Client(args.cluster or cluster, timeout="20s"))
        except OSError as exc:
            raise PneumoError(f"Cannot reach the Dask scheduler at {args.cluster} ({exc}) — is dask-scheduler "
                              "running there, and is its port open?") from exc
        summary = triage_on_cluster(args.folder, args.out, spec, client=client, batch_size=args.batch_size,
                                    progress=bar.update if bar else None)
    if args.csv:
        parquet_to_csv(dataset_dir(args.out), args.csv)
    return summary


class _Bar:
    def __init__(self) -> None:
        from tqdm import tqdm

        self.bar = tqdm(desc="triage", unit="img")

    def update(self, progress: Any) -> None:
        self.bar.total = progress.total
        self.bar.n = progress.done
        self.bar.refresh()

    def close(self) -> None:
        self.bar.close()


def _progress_bar(enabled: bool) -> _Bar | None:
    return _Bar() if enabled else None


def _text(payload: dict[str, Any]) -> str:
    line = f"{payload['summary']} -> {payload['out']} ({payload['images_per_second']:.2f} images/s)"
    if payload.get("untrusted_rows"):
        line += (f"\n{payload['untrusted_rows']} row(s) of the earlier results could not be trusted (edited or cut "
                 "short); those files were diagnosed again")
    return line
