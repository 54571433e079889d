"""The later-batch test of the default head: hold-out films later than every film the head trained on, and the
model card's paragraph for them."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from training.cross_validation import latest_split
from training.kermany import CLASSES, acquisition_order, holdout_split
from training.later_batch import card_paragraph, later_batch_rows, write_into_card


def test_later_batch_is_the_holdouts_films_at_or_after_the_validation_cutoff() -> None:
    rows = [(Path(f"IM-{n:04d}-0001.jpeg"), "NORMAL", f"IM-{n:04d}") for n in range(1, 81)]
    rows += [(Path(f"person{n}_bacteria_{n}.jpeg"), "PNEUMONIA", f"person{n}") for n in range(1, 161)]
    later = later_batch_rows(rows, fraction=0.2, seed=0, val_fraction=0.25)
    train, holdout = holdout_split(rows, fraction=0.2, seed=0)
    labels = np.array([CLASSES.index(label) for _, label, _ in train])
    groups = np.array([patient for _, _, patient in train])
    fit, _val = latest_split(np.arange(len(train)), labels, groups, 0.25, acquisition_order)
    assert later and set(later) <= set(holdout) and {label for _, label, _ in later} == set(CLASSES)
    for label in CLASSES:  # later than every film the head trains on, and every later hold-out film is in it
        newest_trained = max(acquisition_order(groups[i]) for i in fit if train[i][1] == label)
        assert all(acquisition_order(p) > newest_trained for _, c, p in later if c == label)
        assert {r for r in holdout if r[1] == label and acquisition_order(r[2]) > newest_trained} <= set(later)


def block(specificity: float) -> dict:
    return {"n": 126, "n_positive": 99, "threshold": 0.62, "per_class": {"NORMAL": 27, "PNEUMONIA": 99},
            "patients": 78, "first_patient": {"NORMAL": "NORMAL2-IM-1142", "PNEUMONIA": "person1467"},
            "metrics": {"sensitivity": 98.0, "specificity": specificity, "accuracy": 95.2, "auc": 99.0, "avg": 94.3},
            "out_of_domain": {"warned": 6, "far": 1}, "seen_in_training": 0, "apart_by_batch": True}


def test_the_card_paragraph_is_replaced_and_stays_before_the_full_size_one(tmp_path: Path) -> None:
    card = tmp_path / "MODEL_CARD.md"
    card.write_text("# Card\n\n**Full-size films** x\n\n**Reproduce.** `cmd`\n\n**Limits.** y\n")
    write_into_card(tmp_path, card_paragraph(block(85.19)))
    write_into_card(tmp_path, card_paragraph(block(92.59)))
    text = card.read_text()
    assert text.count("**Later-batch test**") == 1 and "specificity 92.59" in text and "85.19" not in text
    assert text.index("**Later-batch test**") < text.index("**Full-size films**") < text.index("**Reproduce.**")
    assert "from NORMAL2-IM-1142 and person1467 on" in text and "27 normal, 99 pneumonia" in text
    assert "by patient and by acquisition batch" in text
    write_into_card(tmp_path, card_paragraph({**block(85.19), "apart_by_batch": False}))
    assert "by patient only" in card.read_text()


def test_the_default_heads_card_has_the_later_batch_paragraph_and_says_when_no_cross_validation_ran(
        tmp_path: Path) -> None:
    import json
    import shutil

    from training.default_head import ROOT, write_model_card

    folder = tmp_path / "head"
    shutil.copytree(ROOT / "resources" / "default_head", folder)
    evaluation = {**json.loads((folder / "evaluation.json").read_text()), "later_batch": block(92.59)}
    write_model_card(folder, {"cross_validation": None}, evaluation, "python -m training.default_head --folds 1")
    text = (folder / "MODEL_CARD.md").read_text()
    assert "**Cross-validation** not run for this head (`--folds 1`)" in text and "| Sens | Spec |" not in text
    assert text.count("**Later-batch test**") == 1 and "specificity 92.59" in text
    assert text.index("**Later-batch test**") < text.index("**Full-size films**") < text.index("**Reproduce.**")
