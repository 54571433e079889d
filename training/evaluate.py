"""Measure an existing head on a labelled set (the wizard shows it next to a newly trained head)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from engine.diagnoser import Diagnoser
from engine.errors import TrainingError
from engine.model.head_card import read_training_hashes
from training.cross_validation import prepare_data
from training.data import LabelledSet, load_labelled
from training.finetune import domain_features, predict_outputs
from training.metrics import binary_metrics, grade_metrics, roc_points, softmax

CONSISTENCY_IMAGES = 300  # the consistency check runs 4 presentations of each image through the full pipeline


def evaluate_head(source: str | Path | LabelledSet, model_dir: str | Path | None = None, *, device: str = "auto",
                  vision_weights: str | None = None, llm_path: str | None = None,
                  diagnoser: Diagnoser | None = None, consistency_images: int = CONSISTENCY_IMAGES,
                  seed: int = 0, scores: bool = False) -> dict[str, Any]:
    """The paper's metrics at the head's threshold, and (``consistency_images`` > 0) how much the probability
    moves across resolutions and encodings of the same images (``engine.consistency``, a seeded sample)."""
    diagnoser = diagnoser or Diagnoser(model_dir, vision_weights=vision_weights, llm_path=llm_path, device=device)
    dataset = source if isinstance(source, LabelledSet) else load_labelled(source)
    card = diagnoser.card
    # graded data (ILO categories) meets a graded head: its binary labels are "grade 0" against "any higher"
    expected = tuple(card.grades) if card.grades else tuple(diagnoser.labels)
    if tuple(dataset.classes) != expected:
        raise TrainingError(f"The data's classes {list(dataset.classes)} differ from the head's {list(expected)}.")
    data = prepare_data(dataset, folds=1, preprocess=diagnoser.preprocess, segmenter=diagnoser.segmenter)
    logits, embeddings, grade_logits = predict_outputs(diagnoser.model, data.crops, diagnoser.preprocess,
                                                       diagnoser.runtime)
    probability = softmax(logits, card.temperature)[:, card.positive_index]
    y = data.labels == card.positive_index
    threshold, _ = diagnoser.threshold_in_force()
    trained_on = read_training_hashes(diagnoser.checkpoint.folder)
    seen = None if trained_on is None else sum(digest in trained_on for digest in data.hashes)
    per_image = {"labels": y.astype(int).tolist(), "probabilities": probability.tolist()} if scores else {}
    return {**per_image, "n": int(len(y)), "n_positive": int(y.sum()), "threshold": threshold,
            "metrics": binary_metrics(y, probability, threshold),
            "roc": roc_points(y, probability), "model_id": card.model_id,
            "data": data.dataset.summary(), "fallback_crops": int(np.sum(data.fallback)),
            # How many of these images the head was trained on (None: the head predates keeping hashes).
            "seen_in_training": seen,
            "out_of_domain": _novelty(diagnoser, embeddings, data),
            "consistency": _consistency(diagnoser, data, consistency_images, seed),
            # ordered grades: quadratic weighted kappa, per-grade sensitivity, the confusion matrix
            "grades": (grade_metrics(data.grades, grade_logits, tuple(card.grades))
                       if grade_logits is not None and data.grades is not None else None)}


def _novelty(diagnoser: Diagnoser, embeddings: np.ndarray, data: Any) -> dict[str, Any] | None:
    """How often the out-of-domain flags fire on these images (on in-domain data: their false-alarm rate)."""
    from engine.reference_map import domain_flags

    reference = diagnoser.reference_map
    if reference is None or not len(embeddings):
        return None
    domain = None
    if reference.domain is not None:
        wholes = np.stack([entry.whole for entry in data.regions])
        domain = domain_features(diagnoser.model, wholes, diagnoser.preprocess, diagnoser.runtime)
    scores = [reference.novelty_percentile(e, domain=None if domain is None else domain[i])
              for i, e in enumerate(embeddings)]
    codes = [[flag.code for flag in domain_flags(score)] for score in scores]
    warned = sum("out_of_domain" in c for c in codes)
    far = sum("far_out_of_domain" in c for c in codes)
    valid = [s for s in scores if s is not None]
    return {"warned": int(warned), "fraction": round(warned / len(scores), 4), "far": int(far),
            "far_fraction": round(far / len(scores), 4),
            "median_percentile": round(float(np.median(valid)), 1) if valid else None}


def _consistency(diagnoser: Diagnoser, data: Any, images: int, seed: int) -> dict[str, Any] | None:
    if images <= 0:
        return None
    from engine.consistency import consistency

    items = data.dataset.items
    chosen = np.sort(np.random.default_rng(seed).permutation(len(items))[:images])
    return consistency(diagnoser, [items[i].path for i in chosen])
