"""The ablation study on an ILO-graded CSV: the draw, the folds, the kappas and the doc (no training here)."""

from __future__ import annotations

import argparse
import csv
import json
from pathlib import Path

import numpy as np
import pytest
from sklearn.metrics import cohen_kappa_score

from training.cross_validation import PreparedData, patient_folds
from training.ilo_study import (
    binary_view,
    chosen_variants,
    cohen_kappa,
    describe_draw,
    draw_films,
    fold_kappas,
    ilo_command,
    kappa_summary,
    run_ilo_study,
    write_draw,
    write_ilo_table,
)

GRADES = ("0/0", "0/1", "1/0", "1/1", "2/1", "2/2", "3/2", "3/3")  # two per major category, as the phantom has


def write_labels(folder: Path, bases: int = 10) -> Path:
    """A phantom-like labels.csv: ``bases`` base films with 8 films each (no images: the draw reads the CSV)."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "labels.csv"
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["path", "label", "patient_id", "grade", "category", "zones", "generator_profile"])
        for base in range(bases):
            for k, grade in enumerate(GRADES):
                category = grade[0]
                writer.writerow([f"images/b{base:02d}_{k}.png", "normal" if category == "0" else "pneumoconiosis",
                                 f"B{base:02d}", grade, category, "none" if category == "0" else "right_upper",
                                 "dev-T"])
    return path


def test_the_draw_takes_whole_patients_seeded(tmp_path: Path) -> None:
    labels = write_labels(tmp_path / "phantom")
    drawn = draw_films(labels, films=40, seed=3)
    assert drawn == draw_films(labels, films=40, seed=3)
    assert {r["patient_id"] for r in drawn} != {r["patient_id"] for r in draw_films(labels, films=40, seed=4)}
    assert len(drawn) == 40 and len({r["patient_id"] for r in drawn}) == 5  # 5 whole bases of 8
    summary = describe_draw(drawn, labels)
    assert summary["per_category"] == {"0": 10, "1": 10, "2": 10, "3": 10}
    assert (summary["abnormal"], summary["normal"], summary["available"]) == (30, 10, 80)
    assert summary["profiles"] == ["dev-T"]
    first = Path(drawn[0]["path"])
    assert first.is_absolute() and first.parent == (labels.parent / "images").resolve()
    assert len(draw_films(labels, films=630, seed=0)) == 80  # fewer films than asked for: all of them


def test_folds_never_split_a_base_film(tmp_path: Path) -> None:
    labels = write_labels(tmp_path / "phantom", bases=12)
    draw = write_draw(draw_films(labels, films=630, seed=0), tmp_path / "draw.csv")
    with open(draw, newline="") as handle:
        rows = list(csv.DictReader(handle))
    groups = np.array([r["patient_id"] for r in rows])
    strata = np.array([int(r["category"]) for r in rows])
    seen: dict[str, int] = {}
    for fold, (train, test) in enumerate(patient_folds(strata, groups, 4, seed=0)):
        assert not set(groups[train]) & set(groups[test])
        for patient in set(groups[test]):
            assert seen.setdefault(patient, fold) == fold
    assert len(seen) == 12


def prepared(grades: np.ndarray, groups: np.ndarray) -> PreparedData:
    n = len(grades)
    return PreparedData(dataset=None, crops=np.zeros((n, 4, 4), np.uint8), regions=[], preprocess=None,
                        labels=(grades >= 1).astype(int), groups=groups, fallback=np.zeros(n, bool),
                        hashes=[""] * n, grades=grades)


def test_the_cnn_sees_the_graded_variants_folds() -> None:
    grades = np.tile(np.repeat(np.arange(4), 2), 10)
    groups = np.repeat([f"B{i}" for i in range(10)], 8)
    graded = prepared(grades, groups)
    view = binary_view(graded)
    assert view.grades is None and view.positive == 1
    assert np.array_equal(view.labels, graded.labels) and np.array_equal(view.strata, grades)
    for (a_train, a_test), (b_train, b_test) in zip(patient_folds(graded.strata, groups, 5, 0),
                                                    patient_folds(view.strata, groups, 5, 0), strict=True):
        assert np.array_equal(a_test, b_test) and np.array_equal(a_train, b_train)
    plain = prepared(grades, groups)
    plain.grades = None
    assert binary_view(plain) is plain


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_kappa_is_cohens(seed: int) -> None:
    rng = np.random.default_rng(seed)
    truth = rng.integers(0, 2, 60)
    decided = np.where(rng.random(60) < 0.7, truth, 1 - truth)
    assert cohen_kappa(truth, decided) == pytest.approx(cohen_kappa_score(truth, decided))
    assert cohen_kappa(truth, truth) == pytest.approx(1.0)
    assert np.isnan(cohen_kappa(np.ones(5), np.ones(5)))


def test_fold_kappas_use_the_folds_threshold(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 2, 40)
    probability = np.clip(labels * 0.4 + rng.random(40) * 0.6, 0, 1)
    folder = tmp_path / "folds" / "fold-1"
    folder.mkdir(parents=True)
    (folder / "result.json").write_text(json.dumps({"threshold": 0.55, "test_labels": labels.tolist(),
                                                    "test_probability": probability.tolist(),
                                                    "grade_metrics": {"qwk": 81.0}}))
    [fold] = fold_kappas(tmp_path, [{"fold": 1, "metrics": {"auc": 90.0}}])
    assert fold["kappa"] == pytest.approx(cohen_kappa_score(labels, probability >= 0.55))
    assert fold["qwk"] == pytest.approx(0.81) and fold["metrics"] == {"auc": 90.0}


METRICS = ("sensitivity", "specificity", "accuracy", "auc", "avg")


def row(name: str, aucs: list[float], kappas: list[float], qwks: list[float] | None) -> dict:
    folds = []
    for k, (auc, kappa) in enumerate(zip(aucs, kappas, strict=True)):
        fold = {"fold": k + 1, "metrics": {"sensitivity": 90.0, "specificity": 80.0, "accuracy": 85.0, "auc": auc,
                                           "avg": (255.0 + auc) / 4}, "kappa": kappa}
        if qwks is not None:
            fold["qwk"] = qwks[k]
        folds.append(fold)
    summary = {m: {"mean": float(np.mean([f["metrics"][m] for f in folds])),
                   "std": float(np.std([f["metrics"][m] for f in folds], ddof=1))} for m in METRICS}
    return {"name": name, "summary": summary, "trainable": 2_930_000, "peak_memory_mb": 3788.8, "cv_minutes": 23.4,
            "folds": folds, "kappa_summary": kappa_summary(folds)}


def test_the_doc_renders_the_table(tmp_path: Path) -> None:
    labels = write_labels(tmp_path / "phantom")
    draw = describe_draw(draw_films(labels, films=630, seed=0), labels)
    rows = [row("PneumoLLM-embedded", [96.0, 98.0], [0.70, 0.80], [0.60, 0.70]),
            row("Baseline: EfficientNet-Lite0 fine-tuned", [97.0, 98.0], [0.75, 0.75], None)]
    args = argparse.Namespace(seed=0, folds=2, epochs=3, data=labels, table=tmp_path / "doc.md", out=None,
                              films=None, only=None)
    command = ilo_command(args)
    write_ilo_table(rows, args, command, args.table, draw)
    text = args.table.read_text()
    assert "SIMULATION" in text and "No clinical, diagnostic or screening claim" in text
    assert "| Method | Sens | Spec | Acc | AUC | AVG | κ (binary) | QWK (category) |" in text
    assert ("| PneumoLLM-embedded | 90.00 ± 0.00 | 80.00 ± 0.00 | 85.00 ± 0.00 | 97.00 ± 1.41 | 88.00 ± 0.35 | "
            "0.750 ± 0.071 | 0.650 ± 0.071 | 2.93 M | 3.7 GB | 23 |") in text
    assert "| Baseline: EfficientNet-Lite0 fine-tuned | 90.00 ± 0.00 |" in text
    assert "0.750 ± 0.000 | — |" in text  # the CNN cannot grade
    assert "| Baseline: EfficientNet-Lite0 fine-tuned | +0.50 ± 0.71 | +0.12 ± 0.18 | 1 of 2 |" in text
    assert "| Baseline: EfficientNet-Lite0 fine-tuned | +0.000 ± 0.071 | 1 of 2 |" in text
    assert "80 films of 10 base films" in text and "0/1/2/3: 20/20/20/20" in text and "dev-T" in text
    assert f"`{command}`" in text and "--data " in command and "--epochs 3 --folds 2 --seed 0" in command


def test_variants_default_to_the_issues_five() -> None:
    assert chosen_variants(None)[0] == "PneumoLLM-embedded" and len(chosen_variants(None)) == 5
    assert "w/o adapters" not in chosen_variants(None)
    assert chosen_variants(["w/o adapters", "w/o LLM"]) == ["w/o LLM", "w/o adapters"]
    with pytest.raises(SystemExit, match="Unknown variant"):
        chosen_variants(["w/o everything"])


def test_a_folder_from_other_settings_is_refused(tmp_path: Path) -> None:
    labels = write_labels(tmp_path / "phantom")
    out = tmp_path / "run"
    out.mkdir()
    (out / "settings.json").write_text(json.dumps({"films": 40}))
    args = argparse.Namespace(seed=0, folds=2, epochs=1, data=labels, table=tmp_path / "doc.md", out=out,
                              films=None, only=None, table_only=False)
    with pytest.raises(SystemExit, match="other settings"):
        run_ilo_study(args)
    assert not (tmp_path / "doc.md").exists()
