"""Reference maps built around a given case, so that the case ranks at an exact novelty percentile."""

from __future__ import annotations

import numpy as np

from engine.reference_map import NOVELTY_K, ReferenceMap

REFERENCES = 100  # one reference per percentile point


def map_ranking(case: np.ndarray, percentile: int, seed: int = 0) -> ReferenceMap:
    """A map of 100 references on which ``case`` has a novelty percentile of exactly ``percentile``.

    ``percentile`` references sit in a tight cluster at chord distance 0.5 from the case (their own k-th
    neighbour distance is about 0.01, less than the case's 0.5); the rest each lie alone on an axis orthogonal
    to the case and the cluster (k-th neighbour distance sqrt(2), more than the case's). Novelty counts the
    references whose k-th neighbour distance is smaller than the case's: exactly ``percentile`` of 100.
    """
    width = len(case)
    outliers = REFERENCES - percentile
    if not NOVELTY_K < percentile <= REFERENCES or outliers > 2 * (width - 2):  # a cluster member needs k others
        raise ValueError(f"cannot place a case at percentile {percentile} with width {width}")
    rng = np.random.default_rng(seed)
    start = np.column_stack([case, rng.normal(0, 1, (width, width - 1))])
    basis, _ = np.linalg.qr(start)  # columns: the case's direction, then orthonormal directions away from it
    toward = basis[:, 0] * np.sign(basis[:, 0] @ case)
    angle = 2 * np.arcsin(0.25)  # chord 0.5 between unit vectors
    centre = np.cos(angle) * toward + np.sin(angle) * basis[:, 1]
    cluster = centre + 1e-3 * rng.normal(0, 1, (percentile, width))
    axes = basis[:, 2:].T
    lonely = np.concatenate([axes, -axes])[:outliers]  # +-axis pairs are 2 apart, every other pair sqrt(2)
    embeddings = np.concatenate([cluster, lonely]).astype(np.float32) * np.linalg.norm(case)
    coords = rng.normal(0, 1, (REFERENCES, 2)).astype(np.float32)
    classes = np.arange(REFERENCES) % 2
    return ReferenceMap(embeddings, coords, classes, ("normal", "abnormal"), 30.0, seed)
