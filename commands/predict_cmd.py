"""``pneumollm predict FILE [--model DIR] --json``: diagnose one radiograph with a trained head."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING, Any

from commands.common import add_json_flag, emit, guarded
from engine.diagnoser_spec import DiagnoserSpec
from engine.model.config import DEVICE_CHOICES

if TYPE_CHECKING:
    from engine.diagnoser import Diagnoser


def add_model_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", type=Path, metavar="DIR",
                        help="a trained head folder (default: the installed head, else the shipped default)")
    parser.add_argument("--vision-weights", help="local CLIP ViT-L/14 checkpoint (heads for the full profile)")
    parser.add_argument("--llm-path", help="local LLaMA folder (heads for the full profile)")
    parser.add_argument("--device", default="auto", choices=DEVICE_CHOICES)
    choice = parser.add_mutually_exclusive_group()
    choice.add_argument("--threshold", type=float, metavar="P",
                        help="decide at this operating threshold (0-1) instead of the head card's")
    choice.add_argument("--operating-point", metavar="RULE",
                        help="decide at one of the head card's operating points, e.g. sensitivity:0.95 "
                             "(`pneumollm models` lists them)")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", type=Path, help="a DICOM, PNG, JPEG, TIFF, MetaImage, NRRD or NIfTI chest radiograph")
    add_model_arguments(parser)
    parser.add_argument("--allow-flagged", action="store_true",
                        help="diagnose even images flagged at ingest (lateral view, CT/MR/US, ...)")
    add_json_flag(parser)


def diagnoser_spec(args: argparse.Namespace, threads: int | None = None) -> DiagnoserSpec:
    """The model the flags of ``add_model_arguments`` ask for: every subcommand builds its Diagnoser from this."""
    return DiagnoserSpec.of(args.model, vision_weights=args.vision_weights, llm_path=args.llm_path,
                            device=args.device, threshold=args.threshold, operating_point=args.operating_point,
                            threads=threads)


def make_diagnoser(args: argparse.Namespace) -> Diagnoser:
    return diagnoser_spec(args).build()


def run(args: argparse.Namespace) -> int:
    def body() -> int:
        from engine.io import load_image

        image = load_image(args.file)  # read first: an unreadable file is refused before the model's seconds
        diagnoser = make_diagnoser(args)
        result = diagnoser.predict(image, allow_flagged=args.allow_flagged)
        emit({"ok": True, "error": None, **result.to_json()}, args.json, _text)
        return 0

    return guarded(args.json, body, extra={"path": str(args.file)})


def _text(payload: dict[str, Any]) -> str:
    flags = "; ".join(payload["quality_flags"] + payload["image_flags"]) or "none"
    return (f"{payload['label']}: p({payload['positive_label']}) = {payload['probability']:.3f} "
            f"(threshold {payload['threshold']:.3f}, {payload['decision']}) | quality flags: {flags} | "
            f"{payload['device']}")
