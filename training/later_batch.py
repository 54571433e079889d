"""The default head's later-batch test: the Kermany hold-out films of patients numbered at or after the first patient
of the shipped head's validation split, per class. Every film the head was trained on is earlier
(``training.cross_validation.latest_split``), so these are apart from its training films by patient *and* by
acquisition batch — what a clinic's next films are — unlike the whole hold-out, drawn at random from every period.

    python -m training.later_batch --csv /tmp/later_batch.csv
    pneumollm evaluate /tmp/later_batch.csv --model resources/default_head --json

The split is recomputed from the file names with ``training.default_head``'s settings (hold-out fraction, seed,
validation fraction), so it needs no run folder.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path

import numpy as np

from training.config import FinetuneConfig
from training.cross_validation import latest_split
from training.kermany import CLASSES, acquisition_order, holdout_split, kermany_rows, write_csv

Row = tuple[Path, str, str]


def later_batch_rows(rows: list[Row], *, fraction: float, seed: int, val_fraction: float) -> list[Row]:
    """The hold-out rows of ``holdout_split(rows)`` at or after each class's validation cutoff."""
    train, holdout = holdout_split(rows, fraction=fraction, seed=seed)
    labels = np.array([CLASSES.index(label) for _, label, _ in train])
    groups = np.array([patient for _, _, patient in train])
    _, val = latest_split(np.arange(len(train)), labels, groups, val_fraction, acquisition_order)
    cutoff = {CLASSES[label]: min(acquisition_order(groups[i]) for i in val if labels[i] == label)
              for label in np.unique(labels[val])}
    return [row for row in holdout if row[1] in cutoff and acquisition_order(row[2]) >= cutoff[row[1]]]


def main() -> None:
    from training.default_head import HOLDOUT_FRACTION, SHARED

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=SHARED / "kermany" / "train")
    parser.add_argument("--seed", type=int, default=0, help="training.default_head's --seed")
    parser.add_argument("--csv", type=Path, required=True, help="where to write the films (path,label,patient_id)")
    args = parser.parse_args()
    rows = later_batch_rows(kermany_rows(args.data), fraction=HOLDOUT_FRACTION, seed=args.seed,
                            val_fraction=FinetuneConfig().val_fraction)
    write_csv(rows, args.csv)
    summary = {"csv": str(args.csv), "n": len(rows), "per_class": dict(Counter(label for _, label, _ in rows)),
               "patients": len({patient for _, _, patient in rows})}
    sys.stdout.write(json.dumps(summary, indent=2) + "\n")


if __name__ == "__main__":
    main()
