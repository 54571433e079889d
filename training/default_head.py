"""Train the head that ships in ``resources/default_head`` — one documented command:

    python -m training.default_head --epochs 6 --folds 5

Embedded profile, all of ``../shared/data/kermany/train`` (5,216 paediatric radiographs; patient ids from
file names), patient-level cross-validation for the reported metrics, then the final model on all data
with a patient-level validation split inside it (checkpoint, threshold and temperature come from there).
Writes the head, its t-SNE reference map and ``MODEL_CARD.md``.
"""

from __future__ import annotations

import argparse
import logging
import shutil
from dataclasses import replace
from pathlib import Path
from typing import Any

from engine.model.checkpoint import write_card
from engine.model.head_card import load_head_card
from engine.paths import write_atomic

ROOT = Path(__file__).resolve().parents[1]
STAND_IN_NOTE = ("Trained on paediatric pneumonia vs normal chest radiographs (Kermany et al. 2018, CC BY 4.0) as a "
                 "stand-in: no public pneumoconiosis radiographs were reachable. It is not a pneumoconiosis "
                 "detector and is not for diagnostic use.")


def write_model_card(folder: Path, report: dict[str, Any], command: str) -> None:
    """MODEL_CARD.md beside the head, and the head card's stand-in note."""
    card = load_head_card(folder)
    meta = card.to_json()
    cv = report.get("cross_validation") or {}
    summary = cv.get("summary", {})
    val = meta["metrics"]["validation"]
    training = meta["training"]

    per_class = ", ".join(f"{name}: {count}" for name, count in training["per_class"].items())

    def cv_cell(key: str) -> str:
        return f"{summary[key]['mean']:.2f} ± {summary[key]['std']:.2f}" if key in summary else "—"

    lines = [
        "# Model card: default PneumoLLM-embedded head (`resources/default_head`)",
        "",
        f"> {STAND_IN_NOTE}",
        "",
        "**Model.** PneumoLLM, embedded profile: frozen EfficientNet-Lite0 (ImageNet) source tokens from six depths,"
        " contextual multi-token engine (m = 4), adapter neck, frozen SmolLM2-135M-Instruct behind the information-"
        f"emitter mask, classification head. Trainable parameters: {meta['parameters']['trainable']:,} of "
        f"{meta['parameters']['total']:,}.",
        "",
        f"**Data.** {training['images']} radiographs ({per_class}), {training['patients']} patients; "
        f"patient ids: {training['patient_id_source']}. Positive class: "
        f"{meta['labels'][meta['positive_index']]}.",
        "",
        f"**Cross-validation** ({cv and len(cv.get('folds', []))}-fold, patient-level; threshold and temperature "
        "chosen inside each training fold; mean ± std, percent):",
        "",
        "| Sens | Spec | Acc | AUC | AVG |",
        "|---|---|---|---|---|",
        f"| {cv_cell('sensitivity')} | {cv_cell('specificity')} | {cv_cell('accuracy')} | {cv_cell('auc')} | "
        f"{cv_cell('avg')} |",
        "",
        f"**Shipped model.** Trained on all images except a patient-level validation split ({training['n_val']} "
        f"images) for {training['epochs']} epochs (best epoch {training['best_epoch']}, {training['minutes']} min on a "
        f"2-core CPU). Operating threshold {meta['threshold']:.4f} (Youden's J on the validation split); calibration "
        f"temperature {meta['temperature']:.3f}. On its validation split: sensitivity {val['sensitivity']:.2f}, "
        f"specificity {val['specificity']:.2f}, accuracy {val['accuracy']:.2f}, AUC {val['auc']:.2f} (this split "
        "also chose the threshold, so these are optimistic; the cross-validation table is the honest estimate).",
        "",
        f"**Reproduce.** `{command}`",
        "",
        "**Limits.** Children's radiographs from one centre; adult occupational-health films differ. Not validated "
        "for any clinical use.",
        "",
    ]
    write_atomic(folder / "MODEL_CARD.md", "\n".join(lines).encode())
    write_card(folder, replace(card, stand_in_note=STAND_IN_NOTE, model_card="MODEL_CARD.md"))


def main() -> None:
    from training.config import CVConfig, FinetuneConfig
    from training.cross_validation import run_training
    from training.kermany import kermany_rows, write_csv
    from training.progress_bar import TqdmCallback

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data" / "kermany" / "train")
    parser.add_argument("--run", type=Path, default=ROOT / "runs" / "default_head")
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--resume", action="store_true")
    parser.add_argument("--out", type=Path, default=ROOT / "resources" / "default_head")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    args.run.mkdir(parents=True, exist_ok=True)
    csv_path = write_csv(kermany_rows(args.data), args.run / "kermany_train.csv")
    config = FinetuneConfig(epochs=args.epochs, seed=args.seed)
    with TqdmCallback() as callback:
        report = run_training(csv_path, args.run, config, CVConfig(folds=args.folds, seed=args.seed),
                              resume=args.resume, callback=callback, data_note=STAND_IN_NOTE)
    staging = args.out.with_name(args.out.name + ".partial")
    shutil.rmtree(staging, ignore_errors=True)
    shutil.copytree(report["model"], staging)
    command = f"python -m training.default_head --epochs {args.epochs} --folds {args.folds} --seed {args.seed}"
    write_model_card(staging, report, command)
    if args.out.exists():
        shutil.rmtree(args.out)
    staging.replace(args.out)
    logging.info("default head written to %s", args.out)


if __name__ == "__main__":
    main()
