"""``pneumollm triage FOLDER --out results.csv [--json]``: every radiograph in a folder tree, sorted."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from commands.common import add_json_flag, emit, guarded
from commands.predict_cmd import add_model_arguments, make_diagnoser


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("folder", type=Path, help="a folder tree of DICOM/PNG/JPEG/TIFF files")
    parser.add_argument("--out", type=Path, required=True,
                        help="results CSV (re-running with the same file resumes and skips finished images)")
    parser.add_argument("--batch-size", type=int, default=8)
    add_model_arguments(parser)
    add_json_flag(parser)


def run(args: argparse.Namespace) -> int:
    def body() -> int:
        from engine.errors import PneumoError
        from engine.triage import triage_folder

        if not args.folder.is_dir():
            raise PneumoError(f"{args.folder} is not a folder.")
        diagnoser = make_diagnoser(args)
        bar = _progress_bar(enabled=not args.json)
        try:
            summary = triage_folder(args.folder, args.out, diagnoser, batch_size=args.batch_size,
                                    progress=bar.update if bar else None)
        finally:
            if bar:
                bar.close()
        emit({"ok": True, "error": None, **summary.to_json()}, args.json, _text)
        return 0

    return guarded(args.json, body, extra={"out": str(args.out)})


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
    return f"{payload['summary']} -> {payload['out']} ({payload['images_per_second']:.2f} images/s)"
