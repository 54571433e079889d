"""The linear probe on zone features: it finds a zone signal that is there, and none where there is none."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np

from training.ilo_probe import probe_zone_scores, summarise


def _feature_set(signal: float, seed: int = 0) -> SimpleNamespace:
    rng = np.random.default_rng(seed)
    films, zones, dim = 120, 6, 8
    present = rng.random((films, zones)) < 0.4
    features = rng.normal(size=(films, zones, dim)).astype(np.float32)
    features[..., 0] += signal * present  # one feature carries the zone's truth
    truth = SimpleNamespace(zone_present=present, abnormal=present.any(axis=1),
                            category=present.any(axis=1).astype(int), groups=np.arange(films) // 2)
    return SimpleNamespace(view=lambda name: features, truth=truth, hashes=[str(i) for i in range(films)])


def test_the_probe_finds_a_zone_signal_and_no_more() -> None:
    strong = summarise(fs := _feature_set(3.0), probe_zone_scores(fs, folds=3, seed=0, c=1.0))
    assert strong["zone_auc"] > 95 and strong["film_auc_max_zone"] > 85
    noise = summarise(fs := _feature_set(0.0), probe_zone_scores(fs, folds=3, seed=0, c=1.0))
    assert 35 < noise["zone_auc"] < 65
