"""The paper's ablation study on the ILO phantom (a SIMULATION): the draw, the folds, the kappas and the table.

    python -m training.study --data ../shared/data/ilo-phantom/labels.csv --doc docs/ilo_ablation_study.md

``training.study`` runs the variants (each in its own process); this module holds what is particular to an
ILO-graded CSV:

* ``draw_films``: a seeded draw of **whole base films** (``patient_id``), so no base film is ever split between
  folds and the phantom's per-base class mix (2 films of each category 0-3) is kept exactly;
* ``binary_view``: the plain CNN has no ordinal head, so it learns abnormal vs normal only, on the *same* folds as
  the PneumoLLM variants (stratified by the major category, as theirs are);
* ``cohen_kappa``: Cohen's kappa of the binary decision at each fold's threshold;
* ``write_ilo_table``: the paper's table plus the kappas, with the paired per-fold differences.

A smoke run needs at least 7 base films in each fold's training part (the inner validation split cuts 7
patient-level parts): on the phantom, ``--films 112 --folds 2`` (14 bases) is the smallest that runs.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import logging
import random
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np

from engine.errors import TrainingError
from engine.paths import write_atomic
from training.cross_validation import PreparedData
from training.ilo_labels import truth_from_row
from training.metrics import summarise_folds
from training.study_variants import paired_differences

PAPER_FILMS = 630  # the paper's data set size
# The variants issue 28 item 4 names (the adapters ablation runs with --only "w/o adapters").
ILO_VARIANTS = ("PneumoLLM-embedded", "w/o LLM", "w/o contextual multi-token engine", "w/o information emitter",
                "Baseline: EfficientNet-Lite0 fine-tuned")
DRAW_NAME = "ilo_draw.csv"
DEFAULT_DOC = "docs/ilo_ablation_study.md"
log = logging.getLogger("training.ilo_study")


def read_graded_rows(labels_csv: Path) -> list[dict[str, str]]:
    """The CSV's rows, each checked as an ILO reading (``training.ilo_labels``) and given a patient id."""
    with open(labels_csv, newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    if not rows or "patient_id" not in rows[0]:
        raise TrainingError(f"{labels_csv.name} needs ILO columns and patient_id (the base film) for the study.")
    for number, row in enumerate(rows, start=2):
        try:
            row["category"] = str(truth_from_row(row).category)
        except TrainingError as exc:
            raise TrainingError(f"{labels_csv.name}, line {number}: {exc.user_message}") from None
        if not row["patient_id"].strip():
            raise TrainingError(f"{labels_csv.name}, line {number}: no patient_id")
    return rows


def draw_films(labels_csv: Path, films: int = PAPER_FILMS, seed: int = 0) -> list[dict[str, str]]:
    """A seeded draw of about ``films`` films, by whole patients (base films), paths made absolute.

    All films when the CSV holds no more than ``films`` (the phantom has 608, fewer than the paper's 630); else
    patients in a seeded order until at least ``films`` films are drawn.
    """
    rows = read_graded_rows(labels_csv)
    by_patient: dict[str, list[dict[str, str]]] = {}
    for row in rows:
        row["path"] = str((labels_csv.parent / row["path"]).resolve())
        by_patient.setdefault(row["patient_id"], []).append(row)
    patients = sorted(by_patient)
    random.Random(seed).shuffle(patients)
    drawn: list[dict[str, str]] = []
    for patient in patients:
        if len(drawn) >= films:
            break
        drawn.extend(by_patient[patient])
    return sorted(drawn, key=lambda row: row["path"])


def write_draw(rows: list[dict[str, str]], path: Path) -> Path:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    write_atomic(path, buffer.getvalue().encode("utf-8"))
    return path


def describe_draw(rows: list[dict[str, str]], labels_csv: Path) -> dict[str, Any]:
    """What the doc says about the data: counts of the draw, the CSV it came from and its generator profiles."""
    categories = [int(row["category"]) for row in rows]
    with open(labels_csv, newline="", encoding="utf-8") as handle:
        available = sum(1 for _ in csv.DictReader(handle))
    return {"films": len(rows), "available": available, "patients": len({row["patient_id"] for row in rows}),
            "abnormal": sum(c >= 1 for c in categories), "normal": sum(c == 0 for c in categories),
            "per_category": {str(c): categories.count(c) for c in range(4)}, "source": str(labels_csv),
            "profiles": sorted({row.get("generator_profile", "") for row in rows} - {""})}


@dataclass
class _BinaryOnCategoryFolds(PreparedData):
    """Graded data seen as abnormal vs normal, with the splits still stratified by the major category."""

    categories: np.ndarray | None = None

    @property
    def strata(self) -> np.ndarray:
        return self.categories

    @property
    def positive(self) -> int:
        return 1  # labels are category >= 1


def binary_view(data: PreparedData) -> PreparedData:
    """For a variant without an ordinal head (the CNN): no grades, the same folds as the graded variants."""
    if data.grades is None:
        return data
    values = {f.name: getattr(data, f.name) for f in fields(PreparedData)}
    return _BinaryOnCategoryFolds(**{**values, "grades": None}, categories=data.grades)


def cohen_kappa(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Cohen's kappa of two binary ratings (scikit-learn); NaN when chance agreement is total (one class only)."""
    from sklearn.metrics import cohen_kappa_score

    y_true, y_pred = np.asarray(y_true).astype(int), np.asarray(y_pred).astype(int)
    if len(set(y_true.tolist()) | set(y_pred.tolist())) < 2:
        return float("nan")
    return float(cohen_kappa_score(y_true, y_pred))


def fold_kappas(run_dir: Path, folds: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each fold's record plus ``kappa`` (binary decision at the fold's threshold) and ``qwk`` (major category,
    0-1, when the variant grades), read from the fold's ``result.json``."""
    out = []
    for record in folds:
        saved = json.loads((run_dir / "folds" / f"fold-{record['fold']}" / "result.json").read_text())
        decided = np.asarray(saved["test_probability"]) >= saved["threshold"]
        extra = {"kappa": cohen_kappa(np.asarray(saved["test_labels"]), decided)}
        if "grade_metrics" in saved:
            extra["qwk"] = saved["grade_metrics"]["qwk"] / 100.0
        out.append({**record, **extra})
    return out


def kappa_summary(folds: list[dict[str, Any]]) -> dict[str, dict[str, float]]:
    keys = ("kappa", "qwk") if all("qwk" in f for f in folds) else ("kappa",)
    return summarise_folds([{key: f[key] for key in keys} for f in folds])


def _scale_note(draw: dict[str, Any]) -> str:
    if draw["films"] == draw["available"]:
        return f"the CSV holds {draw['available']}, and all of them are used."
    return f"this draw uses {draw['films']} of the CSV's {draw['available']} (**not the paper's scale**)."


def _cell(stats: dict[str, float] | None, scale: float = 1.0, digits: int = 2) -> str:
    if stats is None:
        return "—"
    return f"{stats['mean'] * scale:.{digits}f} ± {stats['std'] * scale:.{digits}f}"


def paired_kappa_lines(rows: list[dict[str, Any]]) -> list[str]:
    """Δ kappa per variant, fold by fold, from the first row (as ``paired_differences`` does for AUC / AVG)."""
    if len(rows) < 2:
        return []
    base = {f["fold"]: f["kappa"] for f in rows[0]["folds"]}
    lines = ["", f"**Paired difference in κ from {rows[0]['name']}** (same folds; mean ± std over folds).", "",
             "| Method | Δ κ (binary) | better on κ |", "|---|---|---|"]
    for row in rows[1:]:
        shared = [f for f in row["folds"] if f["fold"] in base]
        if shared:
            differences = [{"kappa": f["kappa"] - base[f["fold"]]} for f in shared]
            stats = summarise_folds(differences)["kappa"]
            better = sum(d["kappa"] > 0 for d in differences)
            lines.append(f"| {row['name']} | {stats['mean']:+.3f} ± {stats['std']:.3f} | {better} of {len(shared)} |")
    return lines


def write_ilo_table(rows: list[dict[str, Any]], args: argparse.Namespace, command: str, path: Path,
                    draw: dict[str, Any]) -> None:
    """The ablation table on the phantom, in the paper's format with Cohen's kappa and the category QWK."""
    c = draw["per_category"]
    lines = [
        "# Ablation study on the ILO phantom (SIMULATION — no clinical claim)",
        "",
        f"**SIMULATION.** The films are the ILO phantom (`{draw['source']}`, generator profile "
        f"{', '.join(draw['profiles']) or 'not recorded'}): synthetic small "
        "opacities painted into real normal adult JSRT radiographs. No patient has the finding and no reader graded "
        "them. **No clinical, diagnostic or screening claim may be made from these numbers**; they say how the "
        "paper's architecture and its ablations behave on \"small opacities in ILO zones\" as this generator draws "
        "them.",
        "",
        f"**Data.** {draw['films']} films of {draw['patients']} base films (seed {args.seed}; whole base films are "
        f"drawn, so each keeps its own mix): {draw['abnormal']} abnormal (category 1-3), {draw['normal']} normal "
        f"(category 0); per category 0/1/2/3: {c['0']}/{c['1']}/{c['2']}/{c['3']}. The paper has {PAPER_FILMS} "
        f"films; {_scale_note(draw)}",
        "",
        f"**Protocol.** Patient-level {args.folds}-fold cross-validation grouped by `patient_id` (the base film: the "
        "films of one base are always in the same fold) and stratified by the major category; every variant sees "
        "the same folds. In each fold, checkpoint selection, the operating threshold (Youden's J) and the temperature "
        "come from a patient-level validation split inside the training folds; the reported fold is never used for "
        "any choice. AdamW (β 0.9/0.95, weight decay 0.02), lr 3e-4, batch 16, 2 warm-up epochs then cosine, "
        f"**{args.epochs} epoch{'s' if args.epochs != 1 else ''}** (the paper trains 100 on a GPU). The PneumoLLM "
        "variants learn abnormal vs normal (>= 1/0) together with an ordinal (CORAL) head on the major category, as "
        "`pneumollm train` does on an ILO-graded CSV; the CNN has no ordinal head and learns abnormal vs normal "
        "only. Sens / Spec / Acc / AUC / AVG in percent, mean ± std over folds (AVG: the mean of the four); "
        "κ: Cohen's kappa of the binary decision at the fold's threshold; QWK: quadratic-weighted kappa "
        "(scikit-learn `cohen_kappa_score`) of the suggested major category 0-3 (— where the variant cannot grade). "
        "Peak memory: the process's peak resident memory on a CPU, peak allocated GPU memory on a GPU. Minutes: "
        "training time summed over the folds.",
        "",
        "| Method | Sens | Spec | Acc | AUC | AVG | κ (binary) | QWK (category) | Trainable params | Peak memory | "
        "Minutes |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        s, k = row["summary"], row["kappa_summary"]
        lines.append(f"| {row['name']} | {_cell(s['sensitivity'])} | {_cell(s['specificity'])} | "
                     f"{_cell(s['accuracy'])} | {_cell(s['auc'])} | {_cell(s['avg'])} | "
                     f"{_cell(k['kappa'], digits=3)} | {_cell(k.get('qwk'), digits=3)} | "
                     f"{row['trainable'] / 1e6:.2f} M | {row['peak_memory_mb'] / 1024:.1f} GB | "
                     f"{row['cv_minutes']:.0f} |")
    lines += paired_differences(rows)
    lines += paired_kappa_lines(rows)
    lines += ["", f"**Reproduce.** `{command}` (each variant's run folder keeps per-fold results, ROC points, test "
              "probabilities and training curves in `folds/fold-k/result.json`; the draw is `ilo_draw.csv`).", ""]
    write_atomic(path, "\n".join(lines).encode())


def ilo_command(args: argparse.Namespace) -> str:
    """The command line that reproduces the study, as the doc prints it."""
    parts = ["python -m training.study", f"--data {args.data}", f"--doc {args.table or DEFAULT_DOC}"]
    if args.out:
        parts.append(f"--out {args.out}")
    if args.films:
        parts.append(f"--films {args.films}")
    parts += [f"--epochs {args.epochs}", f"--folds {args.folds}", f"--seed {args.seed}"]
    if args.only:
        parts.append("--only " + " ".join(f'"{name}"' for name in args.only))
    return " ".join(parts)


def chosen_variants(only: list[str] | None) -> list[str]:
    from training.study_variants import VARIANT_CONFIG

    if not only:
        return list(ILO_VARIANTS)
    unknown = [name for name in only if name not in VARIANT_CONFIG]
    if unknown:
        raise SystemExit(f"Unknown variant(s) {unknown}; the variants are {list(VARIANT_CONFIG)}.")
    return [name for name in VARIANT_CONFIG if name in only]


def run_ilo_study(args: argparse.Namespace) -> None:
    """``python -m training.study --data LABELS.csv``: draw, run each variant in its own process, write the doc."""
    from training.study_variants import ROOT, run_variant

    command = ilo_command(args)
    table = args.table or ROOT / DEFAULT_DOC
    out = args.out or ROOT / "runs" / "ilo-study"
    args.out = out  # the children write their folds here
    if args.table_only:
        if not (out / "study.json").is_file():
            raise SystemExit(f"No finished variants in {out} (no study.json): run the study first.")
        write_ilo_table(json.loads((out / "study.json").read_text()), args, command, table,
                        json.loads((out / "draw.json").read_text()))
        return
    settings = {"source": str(args.data.resolve()), "films": args.films or PAPER_FILMS, "seed": args.seed,
                "folds": args.folds, "epochs": args.epochs}
    settings_file = out / "settings.json"
    if settings_file.is_file() and json.loads(settings_file.read_text()) != settings:
        # The children resume finished folds: a folder from other settings would mix two studies.
        raise SystemExit(f"{out} holds a study with other settings ({settings_file}): choose another --out.")
    out.mkdir(parents=True, exist_ok=True)
    write_atomic(settings_file, json.dumps(settings, indent=2).encode())
    rows = draw_films(args.data, settings["films"], args.seed)
    csv_path = write_draw(rows, out / DRAW_NAME)
    draw = describe_draw(rows, args.data)
    write_atomic(out / "draw.json", json.dumps(draw, indent=2).encode())
    results: list[dict[str, Any]] = []
    for name in chosen_variants(args.only):
        results.append(run_variant(name, csv_path, out, args))
        write_atomic(out / "study.json", json.dumps(results, indent=2).encode())
        write_ilo_table(results, args, command, table, draw)
    log.info("doc written to %s", table)
