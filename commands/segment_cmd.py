"""``pneumollm segment FILE [--mask OUT.png] [--crop OUT.png] --json``."""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

from commands.common import add_json_flag, emit, guarded
from engine.model.config import DEVICE_CHOICES


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", type=Path, help="a DICOM, PNG, JPEG, TIFF, MetaImage, NRRD or NIfTI radiograph")
    parser.add_argument("--mask", type=Path, metavar="OUT.png",
                        help="write the lung mask (original image size; lungs 255, background 0)")
    parser.add_argument("--crop", type=Path, metavar="OUT.png", help="write the 224x224 lung crop (model input)")
    parser.add_argument("--device", default="cpu", choices=DEVICE_CHOICES)
    add_json_flag(parser)


def run(args: argparse.Namespace) -> int:
    def body() -> int:
        import numpy as np
        from PIL import Image

        from engine.flags import codes, messages
        from engine.io import load_image
        from engine.model.runtime import Runtime
        from engine.segment import LungSegmenter

        start = time.perf_counter()
        image = load_image(args.file)
        decode_ms = (time.perf_counter() - start) * 1e3
        segmenter = LungSegmenter(device=Runtime.select(args.device).device)
        crop = segmenter.lung_crop(image.model_uint8)
        payload: dict[str, Any] = {"path": str(args.file), "ok": True, "error": None,
                                   "image_size": {"width": image.meta.columns, "height": image.meta.rows},
                                   **crop.to_json()}
        if image.meta.flags:
            payload["quality_flags"] = [*messages(image.meta.flags), *payload["quality_flags"]]
            payload["quality_flag_codes"] = [*codes(image.meta.flags), *payload["quality_flag_codes"]]
            payload["quality_ok"] = False
        payload["timings_ms"] = {"decode": round(decode_ms, 1), **payload["timings_ms"]}
        if args.mask:
            Image.fromarray(crop.mask.astype(np.uint8) * 255).save(args.mask)
            payload["mask"] = str(args.mask)
        if args.crop:
            Image.fromarray(crop.crop).save(args.crop)
            payload["crop"] = str(args.crop)
        emit(payload, args.json, _text)
        return 0

    return guarded(args.json, body, extra={"path": str(args.file)})


def _text(payload: dict[str, Any]) -> str:
    box = payload["lung_box"]
    flags = "; ".join(payload["quality_flags"]) or "none"
    return (f"lung rectangle x={box['x']} y={box['y']} width={box['width']} height={box['height']}"
            f" | lung area {payload['lung_area_fraction']:.1%} | quality flags: {flags}"
            f" | {payload['timings_ms'].get('decode', 0) + payload['timings_ms'].get('segmentation_total', 0):.0f} ms")
