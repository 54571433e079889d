"""The t-SNE map's caption: the ringed nearest references and the star agree, or the caption says they do not."""

from __future__ import annotations

import numpy as np

from engine.reference_map import ReferenceMap
from viewer.plots import MapCanvas


def two_cluster_map() -> ReferenceMap:
    rng = np.random.default_rng(0)
    embeddings = np.concatenate([rng.normal(c, 0.1, (60, 8)) for c in (0.0, 1.0)]).astype(np.float32)
    coords = np.concatenate([rng.normal(c, 1.0, (60, 2)) for c in (-20.0, 20.0)]).astype(np.float32)
    return ReferenceMap(embeddings, coords, np.repeat([0, 1], 60), ("NORMAL", "PNEUMONIA"), 10.0, 0)


def test_caption_says_when_the_star_is_away_from_its_ringed_references(qtbot) -> None:
    canvas = MapCanvas()
    qtbot.addWidget(canvas)
    reference = two_cluster_map()
    nearest = reference.nearest(reference.embeddings[3], k=5)
    canvas.show_map(reference, np.median(reference.coords[nearest], axis=0), nearest)
    assert "5× NORMAL" in canvas.nearest_text() and "away from" not in canvas.nearest_text()
    canvas.show_map(reference, reference.coords[100], nearest)  # the star in the other cluster
    assert "away from these ringed cases" in canvas.nearest_text()
