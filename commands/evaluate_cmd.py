"""``pneumollm evaluate DATA --model DIR --json``: the paper's metrics for an existing head on labelled data."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from commands.common import add_json_flag, emit, guarded
from engine.model.config import DEVICE_CHOICES


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("data", type=Path, help="a folder with one sub-folder per class, or a CSV")
    parser.add_argument("--model", type=Path, help="trained head folder (default: the installed head)")
    parser.add_argument("--device", default="auto", choices=DEVICE_CHOICES)
    parser.add_argument("--vision-weights")
    parser.add_argument("--llm-path")
    parser.add_argument("--consistency-images", type=int, default=300, metavar="N",
                        help="images whose half/double-resolution and JPEG presentations are compared (0 = skip)")
    add_json_flag(parser)


def run(args: argparse.Namespace) -> int:
    def body() -> int:
        from engine.model.ilo_model import is_ilo_head

        if args.model is not None and is_ilo_head(args.model):  # the ILO heads: grades and zones too
            from training.ilo_evaluate import evaluate_ilo_head

            report = evaluate_ilo_head(args.data, args.model)
            emit({"ok": True, "error": None, **report}, args.json, _ilo_text)
            return 0
        from training.evaluate import evaluate_head

        report = evaluate_head(args.data, args.model, device=args.device, vision_weights=args.vision_weights,
                               llm_path=args.llm_path, consistency_images=args.consistency_images)
        emit({"ok": True, "error": None, **report}, args.json, _text)
        warning = small_data_warning(report)
        if warning:  # on stderr: the JSON on stdout keeps its fields
            sys.stderr.write(f"pneumollm: {warning}\n")
        return 0

    return guarded(args.json, body)


def small_data_warning(report: dict[str, Any]) -> str:
    """The wizard's small-split warning for this evaluation ('' when the data is big enough)."""
    from training.metrics import small_split_warning

    return small_split_warning("the data", int(report["n"]), report.get("n_positive"),
                               float(report["metrics"].get("sensitivity", float("nan"))))


def _text(report: dict[str, Any]) -> str:
    m = report["metrics"]
    line = (f"{report['n']} images at threshold {report['threshold']:.3f}: sensitivity {m['sensitivity']:.2f}, "
            f"specificity {m['specificity']:.2f}, accuracy {m['accuracy']:.2f}, AUC {m['auc']:.2f}, "
            f"AVG {m['avg']:.2f}")
    consistency = report.get("consistency")
    if consistency:
        overall = consistency["overall"]
        line += (f"\nconsistency over {consistency['n']} images (half, double, JPEG q70 vs native): median |dp| "
                 f"{overall['median_abs_delta']}, 95th percentile {overall['p95_abs_delta']}, decision flips "
                 f"{overall['flip_rate']:.1%}")
    grades = report.get("grades")
    if grades:
        per_grade = ", ".join(f"grade {k.removeprefix('sensitivity_grade_')} {v:.1f}" for k, v in grades.items()
                              if k.startswith("sensitivity_grade_"))
        line += f"\ngrades: quadratic weighted kappa {grades['qwk']:.1f}; sensitivity per grade: {per_grade}"
    return line


def _ilo_text(report: dict[str, Any]) -> str:
    m = report["metrics"]
    zones = ", ".join(f"{name} {z['auc']:.1f}/{z['kappa']:.2f}" for name, z in m["zones"].items())
    lines = [f"{'SIMULATION - ' if report['simulation'] else ''}{report['n']} films ({report['split']}; "
             f"{report['excluded_seen_in_training']} training films left out), threshold {report['threshold']:.3f}",
             f"abnormal (>= 1/0): AUC {m['auc']:.1f}, sensitivity {m['sensitivity']:.1f}, specificity "
             f"{m['specificity']:.1f}",
             f"quadratic kappa: categories {m['kappa_category']:.3f}, 12-point grade {m['kappa_grade']:.3f}; grade "
             f"within one subcategory {m['within_one_subcategory']:.1f} %",
             f"zones (presence AUC / profusion kappa): mean AUC {m['zone_auc']:.1f}; {zones}"]
    return "\n".join(lines)
