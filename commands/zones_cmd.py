"""``pneumollm zones FILE --json``: the six ILO lung zones and the model's evidence in each (not a reading)."""

from __future__ import annotations

import argparse
from typing import Any

from commands.common import emit, guarded
from commands.predict_cmd import add_arguments, make_diagnoser  # the same FILE, model and --allow-flagged options

__all__ = ["add_arguments", "run"]


def run(args: argparse.Namespace) -> int:
    def body() -> int:
        from engine.ilo.zone_evidence import evidence_for_result

        diagnoser = make_diagnoser(args)
        result = diagnoser.predict(args.file, allow_flagged=args.allow_flagged)
        _zones, evidence = evidence_for_result(diagnoser, result)
        emit({"ok": True, "error": None, "path": str(args.file), **evidence.to_json(),
              "threshold": round(result.threshold, 6), "positive_label": result.positive_label}, args.json, _text)
        return 0

    return guarded(args.json, body, extra={"path": str(args.file)})


def _text(payload: dict[str, Any]) -> str:
    lines = [f"lung area {payload['lung_area_px']} px | p({payload['positive_label']}) = {payload['probability']:.3f}"
             f" | {payload['note']}"]
    for zone in payload["zones"]:
        mass = "-" if zone["gradcam_mass"] is None else f"{zone['gradcam_mass']:.2f}"
        lines.append(f"{zone['name']:<13} {zone['area_px']:>8} px  occlusion {zone['occlusion_evidence']:+.4f}"
                     f"  Grad-CAM mass {mass}")
    return "\n".join(lines)
