"""``pneumollm models [--vision-weights F] [--llm-path D] --json``: profiles, weights, sizes, device."""

from __future__ import annotations

import argparse
from typing import Any

from commands.common import add_json_flag, emit, guarded
from engine.model.config import DEVICE_CHOICES


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--vision-weights", help="local CLIP ViT-L/14 checkpoint file (full profile)")
    parser.add_argument("--llm-path", help="local LLaMA (Hugging Face) folder (full profile)")
    parser.add_argument("--device", default="auto", choices=DEVICE_CHOICES)
    add_json_flag(parser)


def run(args: argparse.Namespace) -> int:
    def body() -> int:
        from engine.model.inventory import describe_all

        profiles = describe_all(vision_weights=args.vision_weights, llm_path=args.llm_path, device=args.device)
        emit({"ok": True, "error": None, "profiles": profiles}, args.json, _text)
        return 0

    return guarded(args.json, body)


def _text(payload: dict[str, Any]) -> str:
    lines = []
    for profile in payload["profiles"]:
        params = profile["parameters"]
        lines.append(f"{profile['name']:9s} {profile['description']}")
        lines.append(f"          weights present: {profile['weights_present']} | device: {profile['device']}")
        lines.append(f"          parameters: {params['total']:,} total, {params['trainable']:,} trainable"
                     + (f" (paper: {params['paper_reported_trainable']:,})" if "paper_reported_trainable" in params
                        else ""))
    return "\n".join(lines)
