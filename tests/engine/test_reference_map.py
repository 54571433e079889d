"""The reference map's novelty percentile: typical cases rank low, cases far from every reference rank high."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from engine.reference_map import ATYPICAL_PERCENTILE, ReferenceMap


def clustered_map(rng: np.random.Generator, per_class: int = 150, width: int = 32) -> ReferenceMap:
    centres = rng.normal(0, 1, (2, width))
    embeddings = np.concatenate([c + 0.1 * rng.normal(0, 1, (per_class, width)) for c in centres])
    classes = np.repeat([0, 1], per_class)
    coords = rng.normal(0, 1, (len(embeddings), 2))  # novelty never looks at the 2-D map
    return ReferenceMap(embeddings.astype(np.float32), coords.astype(np.float32), classes, ("A", "B"), 30.0, 0)


def test_new_cases_from_the_reference_distribution_are_typical_far_ones_are_not() -> None:
    rng = np.random.default_rng(0)
    reference = clustered_map(rng)
    centres = reference.embeddings[:150].mean(axis=0), reference.embeddings[150:].mean(axis=0)
    centre = centres[0]
    fresh = [reference.novelty_percentile(centres[i % 2] + 0.1 * rng.normal(0, 1, centre.shape)) for i in range(400)]
    # Drawn like the references (both classes alike): their percentiles spread over the references' own.
    assert 30 < np.median(fresh) < 70
    assert np.mean(np.array(fresh) >= ATYPICAL_PERCENTILE) < 0.15
    far = rng.normal(0, 1, centre.shape)  # a direction neither cluster lies in
    assert reference.novelty_percentile(far) == 100.0
    assert reference.novelty_percentile((centres[0] + centres[1]) / 2) > ATYPICAL_PERCENTILE


def test_scale_does_not_matter_and_tiny_maps_give_none() -> None:
    rng = np.random.default_rng(1)
    reference = clustered_map(rng)
    case = reference.embeddings[3] + 0.05
    assert reference.novelty_percentile(case) == pytest.approx(reference.novelty_percentile(10 * case))
    tiny = ReferenceMap(reference.embeddings[:5], reference.coords[:5], reference.classes[:5], ("A", "B"), 2.0, 0)
    assert tiny.novelty_percentile(case) is None


def test_survives_save_and_load(tmp_path: Path) -> None:
    reference = clustered_map(np.random.default_rng(2))
    case = reference.embeddings[7] * 1.01
    reference.save(tmp_path)
    assert ReferenceMap.load(tmp_path).novelty_percentile(case) == reference.novelty_percentile(case)


def test_placed_cases_sit_among_their_nearest_references_on_the_shipped_map() -> None:
    """Issue 17: the star was drawn far from its ringed neighbours (openTSNE answers in a re-centred frame).

    Held-out references of the shipped map are placed on a map of the others: each star must lie within the
    spread of its five nearest references (embedding space) and close to where the full fit put that case.
    """
    from engine.paths import DEFAULT_HEAD

    if not (DEFAULT_HEAD / "reference_map.safetensors").exists():
        pytest.skip("the shipped head's reference map is not installed")
    full = ReferenceMap.load(DEFAULT_HEAD)
    held = np.random.default_rng(0).choice(len(full.coords), 20, replace=False)
    keep = np.setdiff1d(np.arange(len(full.coords)), held)
    rest = ReferenceMap(full.embeddings[keep], full.coords[keep], full.classes[keep], full.labels, full.perplexity,
                        full.seed)
    span = float(np.ptp(rest.coords, axis=0).max())
    stars = rest.place(full.embeddings[held])
    for star, case in zip(stars, held, strict=True):
        nearest = rest.nearest(full.embeddings[case], k=5)
        assert not rest.strays_from(star, nearest)
        assert np.linalg.norm(star - np.median(rest.coords[nearest], axis=0)) < 0.1 * span
    assert np.median(np.linalg.norm(stars - full.coords[held], axis=1)) < 0.02 * span
    # a second placement answers in the same frame (transform re-centres the stored embedding in place)
    assert rest.place(full.embeddings[held[:2]]) == pytest.approx(stars[:2], abs=0.05 * span)


def test_a_star_away_from_its_references_is_noticed() -> None:
    reference = clustered_map(np.random.default_rng(3))
    reference.coords[:150] += 50.0  # class A's references in one corner of the map
    nearest = np.arange(5)
    assert not reference.strays_from(np.median(reference.coords[nearest], axis=0), nearest)
    assert reference.strays_from(reference.coords[200], nearest)


@pytest.mark.parametrize("percentile", [6, 50, 95, 97, 99, 100])
def test_a_map_built_around_a_case_ranks_it_where_asked(percentile: int) -> None:
    """The test helper other tests rely on (tests/engine/reference_maps.py) puts a case at an exact percentile."""
    from tests.engine.reference_maps import map_ranking

    case = np.random.default_rng(4).normal(0, 3, 64).astype(np.float32)
    assert map_ranking(case, percentile).novelty_percentile(case) == percentile
