"""The ``pneumollm`` command line: one entry point, one subcommand per job.

Every subcommand that reports a result takes ``--json``; failures exit non-zero with one line on stderr
(and ``{"ok": false, "error": ...}`` on stdout with ``--json``). Heavy imports (torch, Qt) happen inside
the subcommand that needs them, so ``pneumollm inspect`` starts quickly.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from engine.notices import RESEARCH_USE

# subcommand -> (module in this package, one-line help)
SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "gui": ("gui", "open the viewer (the default with no arguments)"),
    "inspect": ("inspect_cmd", "read one DICOM/PNG/JPEG/TIFF/MetaImage/NRRD/NIfTI file and report its metadata"),
    "segment": ("segment_cmd", "segment the lungs and make the 224x224 lung crop"),
    "predict": ("predict_cmd", "diagnose one radiograph with the installed model"),
    "triage": ("triage_cmd", "diagnose every radiograph in a folder tree into a CSV"),
    "train": ("train_cmd", "fine-tune on a labelled folder or CSV with cross-validation"),
    "evaluate": ("evaluate_cmd", "measure an existing model on a labelled set"),
    "models": ("models_cmd", "list model profiles, their weights, sizes and device"),
    "serve": ("serve_cmd", "run a DICOM node: receive studies, triage them as they arrive, send results back"),
    "worklist": ("worklist_cmd", "list what the DICOM node received and its results, flagged first"),
    "pacs": ("pacs_cmd", "query (C-FIND) and retrieve (C-GET / C-MOVE) studies from a PACS"),
    "zones": ("zones_cmd", "the six ILO lung zones and the model's evidence in each"),
    "report": ("report_cmd", "the clue-grounded draft report and the ILO reading's SR/PDF"),
    "readings": ("readings_cmd", "the signed ILO readings: double reading, adjudication queue, reader agreement"),
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="pneumollm",
        description=f"PneumoLLM Viewer — chest radiograph screening ({RESEARCH_USE}).",
    )
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more log output (-vv for debug)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (module_name, help_text) in SUBCOMMANDS.items():
        module = importlib.import_module(f"commands.{module_name}")
        sub_parser = sub.add_parser(name, help=help_text, description=help_text)
        module.add_arguments(sub_parser)
        sub_parser.set_defaults(_module=module)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    from commands.common import configure_logging

    parser = build_parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parser.parse_args(argv)
    configure_logging(args.verbose)
    if args.command is None:
        args = parser.parse_args(["gui", *argv])
    args._argv = argv  # the command line as given (a launcher re-runs it in its processes)
    return int(args._module.run(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
