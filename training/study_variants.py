"""The ablation study's variants and what every study table shares (the Kermany study ``training.study`` and the
phantom's ``training.ilo_study`` both use them): each variant cross-validated in its own process, and the paired
per-fold differences from the first row."""

from __future__ import annotations

import argparse
import json
import logging
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from training.metrics import summarise_folds

ROOT = Path(__file__).resolve().parents[1]
log = logging.getLogger("training.study")


VARIANT_CONFIG: dict[str, dict[str, bool]] = {
    "PneumoLLM-embedded": {},
    "w/o LLM": {"use_llm": False},
    "w/o contextual multi-token engine": {"use_token_engine": False},
    "w/o information emitter": {"use_emitter_mask": False},
    "w/o adapters": {"use_adapters": False},
    "Baseline: EfficientNet-Lite0 fine-tuned": {"baseline": True},
}


def run_variant(name: str, csv_path: Path, out: Path, args: argparse.Namespace) -> dict[str, Any]:
    """Cross-validate one variant in a child process (its own peak memory; resumable)."""
    command = [sys.executable, "-m", "training.study", "--child", name, "--csv", str(csv_path), "--out", str(out),
               "--epochs", str(args.epochs), "--folds", str(args.folds), "--seed", str(args.seed)]
    log.info("%s: running", name)
    started = time.time()
    result = subprocess.run(command, capture_output=True, text=True, cwd=ROOT)
    if result.returncode != 0:
        raise SystemExit(f"{name} failed:\n{result.stderr[-3000:]}")
    row = json.loads(result.stdout.strip().splitlines()[-1])
    row["wall_minutes"] = (time.time() - started) / 60
    return row


def paired_differences(rows: list[dict[str, Any]]) -> list[str]:
    """Each variant minus the first row, fold by fold: every variant sees the same seeded folds, so the paired
    difference removes the fold-to-fold spread that dominates the ± of the main table."""
    if len(rows) < 2:
        return []
    reference = rows[0]
    base = {f["fold"]: f["metrics"] for f in reference["folds"]}
    lines = ["", f"**Paired difference from {reference['name']}** (same folds; percentage points, mean ± std over "
             "folds; *better* counts the folds where the variant scored higher). A mean smaller than its std is "
             "no evidence of an effect; folds share training data, so even a larger one is weaker evidence than "
             "it looks.", "",
             "| Method | Δ AUC | Δ AVG | better on AVG |", "|---|---|---|---|"]
    for row in rows[1:]:
        folds = [f for f in row["folds"] if f["fold"] in base]
        if not folds:
            continue
        differences = [{key: f["metrics"][key] - base[f["fold"]][key] for key in ("auc", "avg")} for f in folds]
        summary = summarise_folds(differences)
        better = sum(d["avg"] > 0 for d in differences)
        lines.append(f"| {row['name']} | {_delta(summary['auc'])} | {_delta(summary['avg'])} | "
                     f"{better} of {len(differences)} |")
    return lines


def _delta(stats: dict[str, float]) -> str:
    return f"{stats['mean']:+.2f} ± {stats['std']:.2f}"


