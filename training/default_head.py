"""Train the head that ships in ``resources/default_head`` — one documented command:

    python -m training.default_head --epochs 4 --folds 2

Embedded profile on ``../shared/data/kermany/train`` (5,216 paediatric radiographs; patient ids from file names)
minus a patient-level hold-out (15 % of the patients) that no step of the training sees: patient-level
cross-validation on the rest for the reported metrics, then the final model on all of the rest with a validation
split inside it (checkpoint, operating threshold and temperature come from there). That validation split is each
class's latest-acquired patients (``training.kermany.acquisition_order``), apart from the training films by patient
and by acquisition batch, as the later films a user sends are. The head is then measured on
the hold-out (the paper's metrics, the operating points, consistency across resolutions and encodings) and on the
adult JSRT / covid-v7 radiographs (outside its intended use). Writes the head, its t-SNE reference map, the
measurements (``evaluation.json``) and ``MODEL_CARD.md``.
"""

from __future__ import annotations

import argparse
import json
import logging
import shutil
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from engine.model.checkpoint import write_card
from engine.model.head_card import IntendedUse, load_head_card
from engine.paths import write_atomic
from training.augment import PRESETS
from training.full_size import FULL_SIZE_FILMS, card_paragraph, full_size_report
from training.kermany import COPY_QUALITY, COPY_SIDE, HOLDOUT_FRACTION
from training.later_batch import card_paragraph as later_batch_paragraph
from training.later_batch import later_batch_report

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
STAND_IN_NOTE = ("Trained on paediatric pneumonia vs normal chest radiographs (Kermany et al. 2018, CC BY 4.0) as a "
                 "stand-in: no public pneumoconiosis radiographs were reachable. It is not a pneumoconiosis "
                 "detector and is not for diagnostic use.")
# The Kermany set: anterior-posterior chest radiographs of children aged one to five (Kermany et al., Cell 2018).
INTENDED_USE = IntendedUse(population="paediatric", age_years=(1.0, 5.0), views=("PA", "AP"),
                           modalities=("CR", "DX"),
                           description="paediatric (1–5 years) frontal chest radiographs, as its Kermany training set")


def pct(value: float | None) -> str:
    return "—" if value is None else f"{value:.2f}"


def write_model_card(folder: Path, report: dict[str, Any], evaluation: dict[str, Any], command: str) -> None:
    """MODEL_CARD.md beside the head, and the head card's stand-in note."""
    card = load_head_card(folder)
    cv = report.get("cross_validation") or {}
    summary = cv.get("summary", {})
    val = card.metrics["validation"]
    training = card.training
    holdout, external = evaluation["holdout"], evaluation["external"]
    ood = holdout["out_of_domain"]
    per_class = ", ".join(f"{name}: {count}" for name, count in training["per_class"].items())
    geometry = card.preprocess

    def cv_cell(key: str) -> str:
        return f"{summary[key]['mean']:.2f} ± {summary[key]['std']:.2f}" if key in summary else "—"

    def consistency_row(name: str, block: dict[str, Any] | None) -> str:
        if not block:
            return f"| {name} | — | — | — |"
        rows = [f"| {name}, {key} | {v['median_abs_delta']} | {v['p95_abs_delta']} | {v['flip_rate']:.1%} |"
                for key, v in block["presentations"].items()]
        o = block["overall"]
        rows.append(f"| {name}, all | {o['median_abs_delta']} | {o['p95_abs_delta']} | {o['flip_rate']:.1%} |")
        return "\n".join(rows)

    m = holdout["metrics"]
    points = "\n".join(
        f"| {rule} | {p['threshold']:.3f} [{p['threshold_ci'][0]:.3f}, {p['threshold_ci'][1]:.3f}] | "
        f"{p['sensitivity']:.1f} [{p['sensitivity_ci'][0]:.1f}, {p['sensitivity_ci'][1]:.1f}] | "
        f"{p['specificity']:.1f} [{p['specificity_ci'][0]:.1f}, {p['specificity_ci'][1]:.1f}] | "
        f"{evaluation['holdout_at'][rule]['sensitivity']:.1f} | {evaluation['holdout_at'][rule]['specificity']:.1f} |"
        for rule, p in card.operating_points.items())
    verdicts = ", ".join(f"{k}: {v}" for k, v in sorted(external["verdicts"].items()))
    lines = [
        "# Model card: default PneumoLLM-embedded head (`resources/default_head`)",
        "",
        f"> {STAND_IN_NOTE}",
        "",
        "**Model.** PneumoLLM, embedded profile: frozen EfficientNet-Lite0 (ImageNet) source tokens from six depths,"
        " contextual multi-token engine (m = 4), adapter neck, frozen SmolLM2-135M-Instruct behind the information-"
        f"emitter mask, classification head. Trainable parameters: {card.parameters['trainable']:,} of "
        f"{card.parameters['total']:,}.",
        "",
        f"**Intended use.** {card.intended_use.description}; views {', '.join(card.intended_use.views)}; modalities "
        f"{', '.join(card.intended_use.modalities)}. DICOM files whose tags say otherwise (age, view, modality) are "
        "not diagnosed unless the reader asks for it (`outside_intended_use`).",
        "",
        f"**Data.** {training['images']} radiographs ({per_class}), {training['patients']} patients; patient ids: "
        f"{training['patient_id_source']}. Positive class: {card.positive_label}. A further {holdout['n']} radiographs "
        f"of {evaluation['holdout_patients']} other patients were held out for the independent test below.",
        "",
        f"**Geometry.** Training radiographs are {geometry.source_long_side} px on the long side; their lung rectangle "
        f"is {geometry.effective_side} px (median). At inference a larger lung rectangle is first brought down to "
        f"{geometry.effective_side} px (`engine.segment.model_crop`, the function training uses too), so a crop from a "
        "full-size film has the resolution the head learnt on." + (
            f" Before that, every film of another size is brought to the training films' grid ({geometry.film_grid} x "
            f"{geometry.film_grid}, antialiased, JPEG q{geometry.film_jpeg_quality}, as the 224-pixel copies were "
            "made; `engine.presentation`, `docs/resolution_cue.md`): the out-of-domain check otherwise answers the "
            "missing 224-pixel JPEG texture, not the lungs." if geometry.film_grid else ""),
        "",
        f"**Augmentations** (on in training, `training.augment`, preset `{training['augmentations']['preset']}` — "
        f"chosen in `docs/augmentation_study.md`): "
        f"{'; '.join(PRESETS[training['augmentations']['preset']].active())}.",
        "",
        *([f"**Cross-validation** ({len(cv['folds'])}-fold, patient-level, on the training part; threshold and "
           "temperature chosen inside each training fold; mean ± std, percent):",
           "",
           "| Sens | Spec | Acc | AUC | AVG |",
           "|---|---|---|---|---|",
           f"| {cv_cell('sensitivity')} | {cv_cell('specificity')} | {cv_cell('accuracy')} | {cv_cell('auc')} | "
           f"{cv_cell('avg')} |"] if cv.get("folds") else
          ["**Cross-validation** not run for this head (`--folds 1`): the independent tests below are its measures."]),
        "",
        f"**Shipped model.** Trained on the training part except a patient-level validation split ({training['n_val']} "
        f"images: {training.get('validation_split', 'patients drawn at random, class-stratified')}; "
        "`training.cross_validation.latest_split`, patient numbers as `training.kermany.acquisition_order` reads them"
        + ("; the cross-validation folds choose their thresholds the same way" if cv.get("folds") else "") + ") for "
        f"{training['epochs']} epochs (best epoch {training['best_epoch']}, {training['minutes']} min on a "
        f"2-core CPU). Operating threshold {card.threshold:.4f} ({card.threshold_source}); calibration temperature "
        f"{card.temperature:.3f}. On its validation split: sensitivity {val['sensitivity']:.2f}, specificity "
        f"{val['specificity']:.2f}, AUC {val['auc']:.2f} (optimistic: the same split chose the threshold).",
        "",
        f"**Independent test** (the patient-disjoint Kermany hold-out, {holdout['n']} radiographs: "
        f"{HOLDOUT_FRACTION:.0%} of the training folder's patients drawn at random, class-stratified — the same "
        "acquisition period and site mix as the training films, so independent by patient but not by acquisition "
        "batch; at the shipped "
        f"threshold): sensitivity {pct(m['sensitivity'])}, specificity {pct(m['specificity'])}, accuracy "
        f"{pct(m['accuracy'])}, AUC {pct(m['auc'])}, AVG {pct(m['avg'])}.",
        "",
        "**Operating points** (chosen on the validation split, 95 % bootstrap intervals; the last two columns: the "
        "same threshold on the independent hold-out). Settings can switch between them.",
        "",
        "| rule | threshold | sensitivity (val) | specificity (val) | sensitivity (hold-out) | specificity "
        "(hold-out) |",
        "|---|---|---|---|---|---|",
        points,
        "",
        "**Consistency** (the same radiograph at half and double resolution and re-encoded as JPEG q70, through the "
        "full pipeline, against its native presentation; |Δp| of the calibrated probability; flips of the decision):",
        "",
        "| images, presentation | median \\|Δp\\| | 95th percentile \\|Δp\\| | decision flips |",
        "|---|---|---|---|",
        consistency_row(f"Kermany hold-out ({holdout['consistency']['n']})", holdout["consistency"]),
        consistency_row(f"adult JSRT + covid-v7 ({(external['consistency'] or {}).get('n', 0)})",
                        external["consistency"]),
        "",
        f"**Outside the intended use.** On the {external['n']} adult radiographs of JSRT and covid-v7 (PNG, no tags "
        f"that could say they are adults): {verdicts}; the out-of-domain hint warned on "
        f"{external['out_of_domain_warned']} of them (median novelty percentile {external['novelty_median']}).",
        f"Its false alarms on in-domain cases: on the {holdout['n']} hold-out radiographs it noted "
        f"{ood['warned']} ({pct(100 * ood['fraction'])} %) and held back {ood['far']} "
        f"({pct(100 * ood['far_fraction'])} %) as not diagnosed unless the reader asks.",
        "",
        f"**Reproduce.** `{command}` (measurements in `evaluation.json` beside the head).",
        "",
        "**Limits.** Children's radiographs from one centre; adult occupational-health films differ. Not validated "
        "for any clinical use.",
        "",
    ]
    if "later_batch" in evaluation:  # before the full-size paragraph, which goes in before the limits below
        lines.insert(lines.index(f"**Reproduce.** `{command}` (measurements in `evaluation.json` beside the head).")
                     , later_batch_paragraph(evaluation["later_batch"]).strip("\n") + "\n")
    if "full_size" in evaluation:
        lines.insert(lines.index("**Limits.** Children's radiographs from one centre; adult occupational-health films "
                                 "differ. Not validated for any clinical use.") - 2,
                     card_paragraph(evaluation["full_size"], None).strip("\n") + "\n")
    write_atomic(folder / "MODEL_CARD.md", "\n".join(lines).encode())
    write_card(folder, replace(card, stand_in_note=STAND_IN_NOTE, model_card="MODEL_CARD.md"))


def evaluate_shipped(folder: Path, holdout_csv: Path, holdout_patients: int, seed: int,
                     consistency_images: int, later_rows: list[tuple[Path, str, str]] | None = None) -> dict[str, Any]:
    from engine.diagnoser import Diagnoser
    from training.evaluate import evaluate_head
    from training.external import external_paths, external_report
    from training.metrics import binary_metrics

    diagnoser = Diagnoser(folder, device="cpu")
    holdout = evaluate_head(holdout_csv, diagnoser=diagnoser, consistency_images=consistency_images, seed=seed,
                            scores=True)
    y, p = np.asarray(holdout.pop("labels")), np.asarray(holdout.pop("probabilities"))
    at = {rule: binary_metrics(y, p, point["threshold"]) for rule, point in diagnoser.card.operating_points.items()}
    external = external_report(diagnoser, external_paths(SHARED), consistency_images=consistency_images // 2,
                               seed=seed)
    evaluation = {"holdout": holdout, "holdout_patients": holdout_patients, "holdout_at": at, "external": external}
    if later_rows:
        evaluation["later_batch"] = later_batch_report(diagnoser, later_rows, seed=seed)
    if FULL_SIZE_FILMS.is_dir():
        evaluation["full_size"] = full_size_report(diagnoser, FULL_SIZE_FILMS)
    return evaluation


def on_training_grid(folder: Path) -> None:
    """Name the Kermany copies' grid in the head card: every film of another size is then presented as they were
    (``engine.presentation``; the copies themselves pass unchanged, so training is not affected)."""
    card = load_head_card(folder)
    preprocess = replace(card.preprocess, film_grid=COPY_SIDE, film_jpeg_quality=COPY_QUALITY)
    write_card(folder, replace(card, preprocess=preprocess))


def main() -> None:
    from training.config import CVConfig, FinetuneConfig
    from training.cross_validation import run_training
    from training.kermany import acquisition_order, holdout_split, kermany_rows, write_csv
    from training.later_batch import later_batch_rows
    from training.progress_bar import TqdmCallback

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=SHARED / "kermany" / "train")
    parser.add_argument("--run", type=Path, default=ROOT / "runs" / "default_head")
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--folds", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--operating-point", default="youden", help="the shipped threshold's rule")
    parser.add_argument("--consistency", type=int, default=300, help="hold-out images in the consistency check")
    parser.add_argument("--resume", action="store_true")
    parser.add_argument("--out", type=Path, default=ROOT / "resources" / "default_head")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    args.run.mkdir(parents=True, exist_ok=True)
    rows = kermany_rows(args.data)
    train_rows, holdout_rows = holdout_split(rows, fraction=HOLDOUT_FRACTION, seed=args.seed)
    train_csv = write_csv(train_rows, args.run / "kermany_train.csv")
    holdout_csv = write_csv(holdout_rows, args.run / "kermany_holdout.csv")
    config = FinetuneConfig(epochs=args.epochs, seed=args.seed, operating_point=args.operating_point)
    with TqdmCallback() as callback:
        report = run_training(train_csv, args.run, config, CVConfig(folds=args.folds, seed=args.seed),
                              resume=args.resume, callback=callback, data_note=STAND_IN_NOTE,
                              intended_use=INTENDED_USE, val_order=acquisition_order)
    on_training_grid(Path(report["model"]))
    later = later_batch_rows(rows, fraction=HOLDOUT_FRACTION, seed=args.seed, val_fraction=config.val_fraction)
    evaluation = evaluate_shipped(Path(report["model"]), holdout_csv, len({r[2] for r in holdout_rows}), args.seed,
                                  args.consistency, later)
    staging = args.out.with_name(args.out.name + ".partial")
    shutil.rmtree(staging, ignore_errors=True)
    shutil.copytree(report["model"], staging)
    write_atomic(staging / "evaluation.json", json.dumps(evaluation, indent=2).encode())
    command = (f"python -m training.default_head --epochs {args.epochs} --folds {args.folds} --seed {args.seed}"
               + (f" --operating-point {args.operating_point}" if args.operating_point != "youden" else ""))
    write_model_card(staging, report, evaluation, command)
    if args.out.exists():
        shutil.rmtree(args.out)
    staging.replace(args.out)
    logging.info("default head written to %s", args.out)


if __name__ == "__main__":
    main()
