"""The ablation table: rows in the paper's format and paired per-fold differences from the first variant."""

from __future__ import annotations

import argparse
from pathlib import Path

from training.study import paired_differences, write_table

METRICS = ("sensitivity", "specificity", "accuracy", "auc", "avg")


def row(name: str, aucs: list[float], avgs: list[float]) -> dict:
    folds = [{"fold": k + 1, "metrics": {"sensitivity": 90.0, "specificity": 90.0, "accuracy": 90.0, "auc": auc,
                                         "avg": avg}} for k, (auc, avg) in enumerate(zip(aucs, avgs, strict=True))]
    summary = {m: {"mean": sum(f["metrics"][m] for f in folds) / len(folds), "std": 1.0} for m in METRICS}
    return {"name": name, "summary": summary, "trainable": 2_920_000, "peak_memory_mb": 3788.8, "cv_minutes": 23.4,
            "folds": folds}


def test_paired_differences_are_fold_by_fold() -> None:
    base = row("PneumoLLM-embedded", [97.0, 99.0, 95.0], [93.0, 96.0, 90.0])
    # Worse on every fold by exactly 1 AUC point, although the fold spread (±2) is larger than the effect.
    worse = row("w/o LLM", [96.0, 98.0, 94.0], [92.0, 97.0, 89.0])
    lines = paired_differences([base, worse])
    assert lines[-1] == "| w/o LLM | -1.00 ± 0.00 | -0.33 ± 1.15 | 1 of 3 |"
    assert paired_differences([base]) == []


def test_table_has_the_papers_columns(tmp_path: Path) -> None:
    rows = [row("PneumoLLM-embedded", [97.0, 99.0], [93.0, 96.0]), row("w/o adapters", [98.0, 99.5], [94.0, 95.0])]
    args = argparse.Namespace(seed=0, folds=2, epochs=6)
    path = tmp_path / "table.md"
    write_table(rows, args, "python -m training.study --epochs 6", path)
    text = path.read_text()
    assert "| Method | Sens | Spec | Acc | AUC | AVG | Trainable params | Peak memory | Minutes |" in text
    assert "| PneumoLLM-embedded | 90.00 ± 1.00 | 90.00 ± 1.00 | 90.00 ± 1.00 | 98.00 ± 1.00 | 94.50 ± 1.00 | " \
           "2.92 M | 3.7 GB | 23 |" in text
    assert "| w/o adapters | +0.75 ± 0.35 | +0.00 ± 1.41 | 1 of 2 |" in text
    assert "**6 epochs**" in text and "`python -m training.study --epochs 6`" in text


def test_variants_missing_a_fold_compare_on_shared_folds() -> None:
    base = row("PneumoLLM-embedded", [97.0, 99.0, 95.0], [93.0, 96.0, 90.0])
    partial = row("baseline", [96.0, 98.0, 94.0], [92.0, 95.0, 89.0])
    partial["folds"] = partial["folds"][:2]
    assert paired_differences([base, partial])[-1] == "| baseline | -1.00 ± 0.00 | -1.00 ± 0.00 | 0 of 2 |"
