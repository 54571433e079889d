"""``pneumollm gui [PATH]``: open the viewer, optionally on a file or folder."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("path", nargs="?", type=Path, help="a file or study folder to open")


def run(args: argparse.Namespace) -> int:
    from viewer.app import main as gui_main

    return gui_main([str(args.path)] if args.path else [])
