"""The default head's later-batch test: the Kermany hold-out films of patients numbered at or after the first patient
of the shipped head's validation split, per class. Every film the head was trained on is earlier
(``training.cross_validation.latest_split``), so these are apart from its training films by patient *and* by
acquisition batch — what a clinic's next films are — unlike the whole hold-out, drawn at random from every period.

    python -m training.later_batch --model resources/default_head --write   # into evaluation.json, MODEL_CARD.md
    python -m training.later_batch --csv /tmp/later_batch.csv                # the films, for pneumollm evaluate

The split is recomputed from the file names with ``training.default_head``'s settings (hold-out fraction, seed,
validation fraction), so it needs no run folder. A head trained with a random validation split (before
``latest_split``) has trained on other patients of these batches: for it these films are apart by patient only.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import tempfile
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from engine.paths import write_atomic
from training.config import FinetuneConfig
from training.cross_validation import latest_split
from training.kermany import CLASSES, HOLDOUT_FRACTION, acquisition_order, holdout_split, kermany_rows, write_csv

if TYPE_CHECKING:
    from engine.diagnoser import Diagnoser

Row = tuple[Path, str, str]
CARD_BLOCK = re.compile(r"\n\*\*Later-batch test\*\*.*?(?=\n\*\*|\Z)", re.S)
COMMAND = "python -m training.later_batch --write"
ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"


def later_batch_rows(rows: list[Row], *, fraction: float, seed: int, val_fraction: float) -> list[Row]:
    """The hold-out rows of ``holdout_split(rows)`` at or after each class's validation cutoff."""
    train, holdout = holdout_split(rows, fraction=fraction, seed=seed)
    labels = np.array([CLASSES.index(label) for _, label, _ in train])
    groups = np.array([patient for _, _, patient in train])
    _, val = latest_split(np.arange(len(train)), labels, groups, val_fraction, acquisition_order)
    cutoff = {CLASSES[label]: min(acquisition_order(groups[i]) for i in val if labels[i] == label)
              for label in np.unique(labels[val])}
    return [row for row in holdout if row[1] in cutoff and acquisition_order(row[2]) >= cutoff[row[1]]]


def later_batch_report(diagnoser: Diagnoser, rows: list[Row], *, seed: int = 0) -> dict[str, Any]:
    """``pneumollm evaluate``'s measures of the head on these films (no consistency probe: the hold-out has it)."""
    from training.evaluate import evaluate_head

    with tempfile.TemporaryDirectory() as scratch:
        report = evaluate_head(write_csv(rows, Path(scratch) / "later_batch.csv"), diagnoser=diagnoser,
                               consistency_images=0, seed=seed)
    first = {label: min((p for _, c, p in rows if c == label), key=acquisition_order, default=None)
             for label in CLASSES}
    return {"n": report["n"], "n_positive": report["n_positive"], "threshold": report["threshold"],
            "metrics": report["metrics"], "out_of_domain": report["out_of_domain"],
            "seen_in_training": report["seen_in_training"], "per_class": dict(Counter(c for _, c, _ in rows)),
            "patients": len({p for _, _, p in rows}), "first_patient": first,
            # a head whose validation split was a random draw trained on other patients of these batches
            "apart_by_batch": "latest-acquired" in str(diagnoser.card.training.get("validation_split", ""))}


def card_paragraph(block: dict[str, Any]) -> str:
    """The model card's "Later-batch test" paragraph from ``evaluation.json``'s ``later_batch`` block."""
    m, ood = block["metrics"], block["out_of_domain"] or {}
    counts = ", ".join(f"{block['per_class'].get(label, 0)} {label.lower()}" for label in CLASSES)
    first = " and ".join(str(patient) for patient in block["first_patient"].values() if patient)
    apart = ("apart from every training film by patient and by acquisition batch" if block.get("apart_by_batch") else
             "apart from the training films by patient only: this head's validation split was a random draw, so it "
             "trained on other patients of these batches")
    return (f"\n**Later-batch test** (`{COMMAND}`; the hold-out films of the patients numbered at or after the "
            f"validation split's first, from {first} on; {apart}; {block['n']} radiographs, {counts}, "
            f"{block['patients']} patients; at the shipped threshold {block['threshold']:.3f}): sensitivity "
            f"{m['sensitivity']:.2f}, specificity {m['specificity']:.2f}, accuracy {m['accuracy']:.2f}, AUC "
            f"{m['auc']:.2f}, AVG {m['avg']:.2f}; the out-of-domain check noted {ood.get('warned', '—')} and held "
            f"back {ood.get('far', '—')}. Few normals: one normal moves specificity by "
            f"{100 / max(1, block['per_class'].get('NORMAL', 1)):.1f} points.\n")


def write_into_card(folder: Path, paragraph: str) -> None:
    """Replace (or add before the full-size paragraph, else before **Reproduce.**) the later-batch paragraph."""
    path = folder / "MODEL_CARD.md"
    card = CARD_BLOCK.sub("", path.read_text())
    for marker in ("\n**Full-size films**", "\n**Reproduce.**"):
        if marker in card:
            write_atomic(path, card.replace(marker, paragraph + marker, 1).encode())
            return
    write_atomic(path, (card + paragraph).encode())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=SHARED / "kermany" / "train")
    parser.add_argument("--seed", type=int, default=0, help="training.default_head's --seed")
    parser.add_argument("--csv", type=Path, help="also write the films there (path,label,patient_id)")
    parser.add_argument("--model", type=Path, default=ROOT / "resources" / "default_head")
    parser.add_argument("--write", action="store_true", help="into the head's evaluation.json and MODEL_CARD.md")
    args = parser.parse_args()
    rows = later_batch_rows(kermany_rows(args.data), fraction=HOLDOUT_FRACTION, seed=args.seed,
                            val_fraction=FinetuneConfig().val_fraction)
    if args.csv:
        write_csv(rows, args.csv)
        if not args.write:
            sys.stdout.write(json.dumps({"csv": str(args.csv), "n": len(rows)}) + "\n")
            return
    from engine.diagnoser import Diagnoser

    block = later_batch_report(Diagnoser(args.model, device="cpu"), rows, seed=args.seed)
    sys.stdout.write(json.dumps(block, indent=2) + "\n")
    if args.write:
        evaluation_path = args.model / "evaluation.json"
        evaluation = json.loads(evaluation_path.read_text()) if evaluation_path.exists() else {}
        evaluation["later_batch"] = block
        write_atomic(evaluation_path, json.dumps(evaluation, indent=2).encode())
        write_into_card(args.model, card_paragraph(block))


if __name__ == "__main__":
    main()
