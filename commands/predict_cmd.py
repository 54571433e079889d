"""``pneumollm predict``: filled in by its own issue."""

from __future__ import annotations

import argparse

from commands.common import add_json_flag, fail


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_json_flag(parser)


def run(args: argparse.Namespace) -> int:
    return fail("'predict' is not available in this version yet", args.json)
