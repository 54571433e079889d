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
from training.finetune import predict_logits
from training.metrics import binary_metrics, roc_points, softmax


def evaluate_head(source: str | Path | LabelledSet, model_dir: str | Path | None = None, *, device: str = "auto",
                  vision_weights: str | None = None, llm_path: str | None = None,
                  diagnoser: Diagnoser | None = None) -> dict[str, Any]:
    diagnoser = diagnoser or Diagnoser(model_dir, vision_weights=vision_weights, llm_path=llm_path, device=device)
    dataset = source if isinstance(source, LabelledSet) else load_labelled(source)
    head_labels = diagnoser.labels
    if tuple(dataset.classes) != tuple(head_labels):
        raise TrainingError(f"The data's classes {list(dataset.classes)} differ from the head's {list(head_labels)}.")
    data = prepare_data(dataset, folds=1, input_size=diagnoser.preprocess.input_size, segmenter=diagnoser.segmenter)
    logits, _ = predict_logits(diagnoser.model, data.crops, diagnoser.preprocess, diagnoser.runtime)
    card = diagnoser.card
    probability = softmax(logits, card.temperature)[:, card.positive_index]
    y = data.labels == card.positive_index
    threshold = card.threshold
    trained_on = read_training_hashes(diagnoser.checkpoint.folder)
    seen = None if trained_on is None else sum(digest in trained_on for digest in data.hashes)
    return {"n": int(len(y)), "threshold": threshold, "metrics": binary_metrics(y, probability, threshold),
            "roc": roc_points(y, probability), "model_id": card.model_id,
            "data": data.dataset.summary(), "fallback_crops": int(np.sum(data.fallback)),
            # How many of these images the head was trained on (None: the head predates keeping hashes).
            "seen_in_training": seen}
