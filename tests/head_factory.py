"""Tiny but complete trained-head folders for tests: real classes, random weights, real file formats."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from engine.model.checkpoint import save_checkpoint
from engine.model.config import PreprocessConfig
from engine.model.head_card import HeadCard
from engine.model.pneumollm import frozen_fingerprints
from engine.reference_map import ReferenceMap
from tests.engine.model_fixtures import TINY, tiny_model

LABELS = ("normal", "abnormal")


def make_tiny_head(folder: Path, *, threshold: float = 0.5, temperature: float = 1.0, with_map: bool = True,
                   seed: int = 0, preprocess: PreprocessConfig | None = None) -> Path:
    model = tiny_model()
    torch.manual_seed(seed)
    with torch.no_grad():
        for name, parameter in model.named_parameters():
            if parameter.requires_grad and "adapters" in name:
                parameter.normal_(0, 0.02)
    card = HeadCard(profile="tiny-test", model=TINY, preprocess=preprocess or PreprocessConfig(), labels=LABELS,
                    positive_index=1,
                    threshold=threshold, temperature=temperature, fingerprints=frozen_fingerprints(model),
                    training={"data": "random weights for tests", "images": 0})
    save_checkpoint(folder, model.trained_state_dict(), card)
    if with_map:
        rng = np.random.default_rng(seed)
        embeddings = np.concatenate([rng.normal(0, 1, (30, model.width)), rng.normal(2, 1, (30, model.width))])
        classes = np.r_[np.zeros(30), np.ones(30)].astype(int)
        ReferenceMap.fit(embeddings.astype(np.float32), classes, LABELS, perplexity=10, seed=seed).save(folder)
    return folder
