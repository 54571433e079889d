"""Do the training augmentations help? Measured, not assumed — one documented command:

    python -m training.augment_study --epochs 4 --seed 0

Trains PneumoLLM-embedded three times on the same paper-scale draw (630 radiographs) from the Kermany
training split — all augmentations, none, only the resolution ones — and measures each head on the
patient-disjoint Kermany hold-out (the paper's metrics and the consistency across resolutions and encodings)
and on the adult JSRT / covid-v7 radiographs (consistency, verdicts, out-of-domain warnings). Writes
``docs/augmentation_study.md``.
"""

from __future__ import annotations

import argparse
import json
import logging
import random
from pathlib import Path
from typing import Any

from engine.paths import write_atomic

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"


def draw(rows: list[tuple[Path, str, str]], seed: int, abnormal: int = 401, normal: int = 229
         ) -> list[tuple[Path, str, str]]:
    rng = random.Random(seed)
    picked = []
    for label, count in (("PNEUMONIA", abnormal), ("NORMAL", normal)):
        picked += rng.sample([row for row in rows if row[1] == label], count)
    return sorted(picked)


def run_variant(name: str, preset: str | None, train_csv: Path, holdout_csv: Path, out: Path,
                args: argparse.Namespace) -> dict[str, Any]:
    from engine.diagnoser import Diagnoser
    from training.config import CVConfig, FinetuneConfig
    from training.cross_validation import run_training
    from training.evaluate import evaluate_head
    from training.external import external_paths, external_report
    from training.progress_bar import TqdmCallback

    run_dir = out / name
    done = run_dir / "study_result.json"
    if done.exists():
        return json.loads(done.read_text())
    config = FinetuneConfig(epochs=args.epochs, seed=args.seed, augment=preset is not None,
                            augment_preset=preset or "full")
    with TqdmCallback() as callback:
        report = run_training(train_csv, run_dir, config, CVConfig(folds=1, seed=args.seed),
                              resume=(run_dir / "run.json").exists(), callback=callback)
    diagnoser = Diagnoser(report["model"], device="cpu")
    holdout = evaluate_head(holdout_csv, diagnoser=diagnoser, consistency_images=args.consistency, seed=args.seed)
    external = external_report(diagnoser, external_paths(SHARED), consistency_images=args.consistency,
                               seed=args.seed)
    result = {"name": name, "augment": preset, "holdout": {k: holdout[k] for k in ("n", "threshold", "metrics",
                                                                                      "consistency")},
              "external": external}
    write_atomic(done, json.dumps(result, indent=2).encode())
    return result


def table(results: list[dict[str, Any]], command: str) -> str:
    lines = ["# Do the training augmentations help?", "",
             "PneumoLLM-embedded trained on the same 630-radiograph draw (401 pneumonia / 229 normal) from the "
             "Kermany training split: with all of `training.augment` (preset `full`), without, and with only the "
             "resolution ones (preset `resolution`: rescale, JPEG, blur); one inner validation split chose the "
             "checkpoint, the threshold and the temperature. Measured on the patient-disjoint Kermany hold-out and on "
             "the adult JSRT + covid-v7 radiographs (outside the paediatric intended use). Consistency: the same "
             "image at half and double resolution and as JPEG q70, against its native presentation.", "",
             "| variant | hold-out n | AUC | Sens | Spec | hold-out median / 95th pct \\|Δp\\| | flips | adult: "
             "median / 95th pct \\|Δp\\| | adult flips | adult flagged | adult out-of-domain warned |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in results:
        m, c = r["holdout"]["metrics"], r["holdout"]["consistency"]["overall"]
        e = r["external"]
        ec = e["consistency"]["overall"] if e["consistency"] else {}
        flagged = e["verdicts"].get("flagged", 0)
        lines.append(f"| {r['name']} | {r['holdout']['n']} | {m['auc']:.2f} | {m['sensitivity']:.2f} | "
                     f"{m['specificity']:.2f} | {c['median_abs_delta']} / {c['p95_abs_delta']} | "
                     f"{c['flip_rate']:.1%} | {ec.get('median_abs_delta')} / {ec.get('p95_abs_delta')} | "
                     f"{(ec.get('flip_rate') or 0):.1%} | {flagged}/{e['n']} | "
                     f"{e['out_of_domain_warned']}/{e['n']} |")
    lines += ["", f"**Reproduce.** `{command}`", ""]
    return "\n".join(lines)


def main() -> None:
    from training.kermany import HOLDOUT_FRACTION, holdout_split, kermany_rows, write_csv

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--consistency", type=int, default=150, help="images per consistency check")
    parser.add_argument("--out", type=Path, default=ROOT / "runs" / "augment_study")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    args.out.mkdir(parents=True, exist_ok=True)
    train_rows, holdout_rows = holdout_split(kermany_rows(SHARED / "kermany" / "train"), fraction=HOLDOUT_FRACTION,
                                             seed=args.seed)
    train_csv = write_csv(draw(train_rows, args.seed), args.out / "train_draw.csv")
    holdout_csv = write_csv(holdout_rows, args.out / "kermany_holdout.csv")
    results = [run_variant(name, flag, train_csv, holdout_csv, args.out, args)
               for name, flag in (("augmentations on", "full"), ("augmentations off", None),
                                  ("resolution augmentations only", "resolution"))]
    command = f"python -m training.augment_study --epochs {args.epochs} --seed {args.seed}"
    write_atomic(ROOT / "docs" / "augmentation_study.md", table(results, command).encode())
    logging.info("wrote docs/augmentation_study.md")


if __name__ == "__main__":
    main()
