"""What a user meets with full-size films: the shipped head on native full-resolution Kermany films and against
their 224-pixel copies (made as the training copies were), and the adult films its out-of-domain check must still
hold back. One documented command writes the numbers into the head's ``evaluation.json`` and ``MODEL_CARD.md``:

    python -m training.full_size --write

* verdicts as ``pneumollm triage`` gives them (no override of a REVIEW flag): flagged per class, not diagnosed —
  the out-of-domain check's false alarms on in-domain full-size films;
* |Δp| between each film and its copy (median, largest) and how often the decision differs;
* with ``--adults``: the verdicts on the adult JSRT / covid-v7 radiographs (``training.external``).

The full-size films are for checking, never for choosing a threshold or training (``docs/resolution_cue.md``).
"""

from __future__ import annotations

import argparse
import json
import logging
import re
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

from engine.diagnoser import Diagnoser
from engine.paths import write_atomic
from training.kermany import CLASSES, kermany_rows, training_copy

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
FULL_SIZE_FILMS = SHARED / "kermany" / "fullres-dev"
CARD_BLOCK = re.compile(r"\n\*\*Full-size (?:films|aims)\*\*.*?(?=\n\*\*|\Z)", re.S)


def verdicts(diagnoser: Diagnoser, paths: list[Path]) -> list[dict[str, Any]]:
    """One row per file, as triage decides it."""
    rows = []
    for outcome in diagnoser.iter_diagnose(paths, batch_size=8):
        result = outcome.result
        if result is None:
            rows.append({"path": str(outcome.path), "verdict": "not diagnosed", "probability": None,
                         "novelty": None, "out_of_domain": False})
            continue
        rows.append({"path": str(outcome.path), "verdict": result.decision.verdict.value,
                     "probability": result.probability, "novelty": result.novelty_percentile,
                     "out_of_domain": any(f.code in ("out_of_domain", "far_out_of_domain") for f in result.warnings)})
    return rows


def full_size_report(diagnoser: Diagnoser, films: Path) -> dict[str, Any]:
    rows = kermany_rows(films)
    paths = [path for path, _label, _patient in rows]
    with tempfile.TemporaryDirectory() as scratch:
        copies = [training_copy(path, Path(scratch) / label / path.name) for path, label, _ in rows]
        full, small = verdicts(diagnoser, paths), verdicts(diagnoser, copies)
    threshold, _ = diagnoser.threshold_in_force()
    per_class: dict[str, dict[str, int]] = {}
    for (_path, label, _patient), row in zip(rows, full, strict=True):
        counts = per_class.setdefault(label, {"n": 0, "flagged": 0, "not flagged": 0, "not diagnosed": 0})
        counts["n"] += 1
        counts[row["verdict"]] += 1
    deltas = [abs(a["probability"] - b["probability"]) for a, b in zip(full, small, strict=True)
              if a["probability"] is not None and b["probability"] is not None]
    flips = sum((a["probability"] >= threshold) != (b["probability"] >= threshold)
                for a, b in zip(full, small, strict=True)
                if a["probability"] is not None and b["probability"] is not None)
    held = sum(row["verdict"] == "not diagnosed" for row in full)
    return {
        "films": str(films.relative_to(SHARED)) if films.is_relative_to(SHARED) else str(films), "n": len(rows),
        "threshold": threshold, "per_class": per_class,
        "not_diagnosed": held, "not_diagnosed_fraction": round(held / len(rows), 4) if rows else None,
        "out_of_domain_warned": sum(row["out_of_domain"] for row in full),
        "novelty_median": round(statistics.median(r["novelty"] for r in full if r["novelty"] is not None), 1),
        "copy_novelty_median": round(statistics.median(r["novelty"] for r in small if r["novelty"] is not None), 1),
        "copy_median_abs_delta": round(statistics.median(deltas), 4) if deltas else None,
        "copy_max_abs_delta": round(max(deltas), 4) if deltas else None,
        "copy_decision_flips": int(flips),
        "rows": [{**f, "path": Path(f["path"]).name, "copy_probability": c["probability"],
                  "copy_novelty": c["novelty"]} for f, c in zip(full, small, strict=True)],
    }


def card_paragraph(block: dict[str, Any], adults: dict[str, Any] | None) -> str:
    """The model card's "Full-size films" paragraph from ``evaluation.json``'s ``full_size`` block."""
    classes = "; ".join(f"{name}: {c['flagged']} of {c['n']} flagged, {c['not diagnosed']} not diagnosed"
                        for name, c in sorted(block["per_class"].items()) if name in CLASSES)
    command = "python -m training.full_size" + (" --adults" if adults else "") + " --write"
    text = (f"\n**Full-size films** (what a user meets; `{command}`; every film brought "
            f"to the training films' grid first, `engine.presentation`, `docs/resolution_cue.md`). On the "
            f"{block['n']} native full-resolution Kermany films of `{block['films']}` (patients apart from the "
            f"training films, a later acquisition batch; too few for `pneumollm evaluate`, which needs 10 per "
            f"class — these are `pneumollm triage` verdicts at the shipped threshold {block['threshold']:.3f}): "
            f"{classes}. The out-of-domain check held back {block['not_diagnosed']} of {block['n']} "
            f"({100 * block['not_diagnosed_fraction']:.1f} %) and noted {block['out_of_domain_warned']} (median "
            f"novelty percentile {block['novelty_median']}; their 224-pixel copies {block['copy_novelty_median']}). "
            f"Each film against its 224-pixel copy (made as the training copies were): median |Δp| "
            f"{block['copy_median_abs_delta']}, largest {block['copy_max_abs_delta']}, decision differs on "
            f"{block['copy_decision_flips']} of {block['n']}.")
    if adults:
        verdict = ", ".join(f"{k}: {v}" for k, v in sorted(adults["verdicts"].items()))
        text += (f" Adults, as films are presented now: of the {adults['n']} JSRT and covid-v7 radiographs "
                 f"{verdict}; the out-of-domain hint warned on {adults['out_of_domain_warned']}.")
    return text + "\n\n" + aims(block) + "\n"


def aims(block: dict[str, Any]) -> str:
    """The issue-29 aims, each met or not, from the measured numbers (at most 1 in 8 normals flagged, at least 7 in
    8 pneumonias, under 5 % held back, median |Δp| film vs copy <= 0.05)."""
    normal, pneumonia = block["per_class"].get("NORMAL"), block["per_class"].get("PNEUMONIA")

    def verdict(ok: bool) -> str:
        return "met" if ok else "**not met**"

    parts = []
    if normal:
        parts.append(f"normals flagged {normal['flagged']} of {normal['n']} (aim at most 1 in 8: "
                     f"{verdict(normal['flagged'] / normal['n'] <= 1 / 8)})")
    if pneumonia:
        parts.append(f"pneumonias flagged {pneumonia['flagged']} of {pneumonia['n']} (aim at least 7 in 8: "
                     f"{verdict(pneumonia['flagged'] / pneumonia['n'] >= 7 / 8)})")
    parts.append(f"held back {100 * block['not_diagnosed_fraction']:.1f} % (aim under 5 %: "
                 f"{verdict(block['not_diagnosed_fraction'] < 0.05)})")
    if block["copy_median_abs_delta"] is not None:
        parts.append(f"median |Δp| film vs copy {block['copy_median_abs_delta']} (aim <= 0.05: "
                     f"{verdict(block['copy_median_abs_delta'] <= 0.05)})")
    return ("**Full-size aims** (issue 29, on these few films; an independent test split with AUC and specificity "
            "was not reachable here): " + "; ".join(parts) + ".")


def write_into_card(folder: Path, paragraph: str) -> None:
    """Replace (or add before **Reproduce.**) the card's full-size paragraph."""
    path = folder / "MODEL_CARD.md"
    card = CARD_BLOCK.sub("", path.read_text())
    marker = "\n**Reproduce.**"
    card = card.replace(marker, paragraph + marker, 1) if marker in card else card + paragraph
    write_atomic(path, card.encode())


def main() -> None:
    from training.external import external_paths, external_report

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=ROOT / "resources" / "default_head")
    parser.add_argument("--films", type=Path, default=FULL_SIZE_FILMS)
    parser.add_argument("--adults", action="store_true", help="also the adult JSRT / covid-v7 verdicts")
    parser.add_argument("--write", action="store_true", help="into the head's evaluation.json and MODEL_CARD.md")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    diagnoser = Diagnoser(args.model, device="cpu")
    block = full_size_report(diagnoser, args.films)
    adults = None
    if args.adults:
        adults = external_report(diagnoser, external_paths(SHARED), consistency_images=0)
        block["adults"] = {k: adults[k] for k in ("n", "verdicts", "out_of_domain_warned", "novelty_median")}
    sys.stdout.write(json.dumps({k: v for k, v in block.items() if k != "rows"}, indent=2) + "\n")
    if args.write:
        evaluation_path = args.model / "evaluation.json"
        evaluation = json.loads(evaluation_path.read_text()) if evaluation_path.exists() else {}
        evaluation["full_size"] = block
        write_atomic(evaluation_path, json.dumps(evaluation, indent=2).encode())
        write_into_card(args.model, card_paragraph(block, block.get("adults")))


if __name__ == "__main__":
    main()
