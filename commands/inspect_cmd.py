"""``pneumollm inspect FILE [--png OUT] --json``."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from commands.common import add_json_flag, emit, guarded

FIELDS = ("path", "modality", "view", "photometric_interpretation", "transfer_syntax", "rows", "columns",
          "bits_stored", "pixel_spacing")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", type=Path, help="a DICOM, PNG, JPEG, TIFF, MetaImage, NRRD or NIfTI file")
    parser.add_argument("--png", type=Path, metavar="OUT", help="also write the 8-bit display image as PNG")
    add_json_flag(parser)


def run(args: argparse.Namespace) -> int:
    empty: dict[str, Any] = {name: None for name in FIELDS} | {"path": str(args.file)}

    def body() -> int:
        from PIL import Image

        from engine.io import load_image

        image = load_image(args.file)
        payload = image.meta.to_json() | {"ok": True, "error": None}
        if args.png is not None:
            Image.fromarray(image.display).save(args.png)
            payload["png"] = str(args.png)
        emit(payload, args.json, _text)
        return 0

    return guarded(args.json, body, extra=empty)


def _text(payload: dict[str, Any]) -> str:
    lines = [f"{name:28s} {payload.get(name)}" for name in (*FIELDS, "transfer_syntax_name", "flags")]
    return "\n".join(lines)
