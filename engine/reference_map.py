"""The t-SNE map of reference cases, and placing a new case on it with openTSNE's ``transform``.

Stored without pickle: ``reference_map.safetensors`` holds the reference embeddings, their 2-D map
coordinates and class indices; ``reference_map.json`` the labels and t-SNE parameters. openTSNE's
affinity index is rebuilt from the stored embeddings on load (seeded, exact neighbours), which is what
``transform`` needs.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from engine.errors import ModelLoadError
from engine.flags import Flag
from engine.paths import write_atomic

MAP_WEIGHTS = "reference_map.safetensors"
MAP_META = "reference_map.json"
NOVELTY_K = 5  # k-th nearest reference: robust to one near-duplicate, still local
ATYPICAL_PERCENTILE = 95.0  # a NOTE from here: unlike the training cases, the score may not be reliable
FAR_PERCENTILE = 99.0  # a REVIEW flag from here: like none of them — no verdict unless the reader asks



# -- the out-of-domain policy: how far from the reference cases a case may lie ---------------------------
def is_out_of_domain(novelty: float | None) -> bool:
    return novelty is not None and novelty >= ATYPICAL_PERCENTILE


def out_of_domain_flag(novelty: float) -> Flag:
    """The warning for a case farther from its nearest reference cases than nearly all of them are."""
    return Flag("out_of_domain", f"unlike the model's training cases (farther from them than {_share(novelty)} from "
                                 "each other): the score may not be reliable")


def domain_flags(novelty: float | None) -> tuple[Flag, ...]:
    """Nothing; a NOTE from the 95th percentile of the training cases' own spread; a REVIEW flag — no verdict
    unless the reader asks — from the 99th, where a radiograph looks like none the head was trained on."""
    if not is_out_of_domain(novelty):
        return ()
    assert novelty is not None
    if novelty >= FAR_PERCENTILE:
        return (Flag("far_out_of_domain", "unlike any radiograph the model was trained on (farther from them than "
                                          f"{_share(novelty)} from each other): no verdict unless the reader asks "
                                          "for one"),)
    return (out_of_domain_flag(novelty),)


def _share(novelty: float) -> str:
    """'97 % of them are', capped at 'any of them are': a rounded '100 %' would claim more than a percentile can."""
    return "any of them are" if novelty >= 99.5 else f"{novelty:.0f} % of them are"


@dataclass
class ReferenceMap:
    embeddings: np.ndarray  # (N, W) float32
    coords: np.ndarray  # (N, 2) float32, fitted t-SNE
    classes: np.ndarray  # (N,) int
    labels: tuple[str, ...]
    perplexity: float
    seed: int
    domain: np.ndarray | None = None  # (N, F) whole-radiograph features (PneumoLLM.domain_features), unit length
    _embedding_object: object | None = None
    _unit_references: np.ndarray | None = None  # the vectors novelty is measured in, with _reference_knn
    _reference_knn: np.ndarray | None = None  # (N,) leave-one-out k-th neighbour distances, sorted

    def __getstate__(self) -> dict[str, object]:
        """Pickled without openTSNE's embedding object (rebuilt on first ``place``): a map sent to the window
        must not pull openTSNE and scikit-learn into it."""
        state = dict(self.__dict__)
        state["_embedding_object"] = None
        return state

    @classmethod
    def fit(cls, embeddings: np.ndarray, classes: np.ndarray, labels: tuple[str, ...], *, perplexity: float = 30.0,
            seed: int = 0, n_jobs: int = 2, domain: np.ndarray | None = None) -> ReferenceMap:
        from openTSNE import TSNE

        embeddings = np.asarray(embeddings, np.float32)
        perplexity = min(perplexity, max(2.0, (len(embeddings) - 1) / 3))
        fitted = TSNE(perplexity=perplexity, random_state=seed, n_jobs=n_jobs, neighbors="exact").fit(embeddings)
        result = cls(embeddings, np.asarray(fitted, np.float32), np.asarray(classes, np.int64), labels,
                     perplexity, seed, None if domain is None else np.asarray(domain, np.float32))
        result._embedding_object = fitted
        return result

    def save(self, folder: Path) -> None:
        from safetensors.numpy import save

        arrays = {"embeddings": self.embeddings, "coords": self.coords, "classes": self.classes}
        if self.domain is not None:
            arrays["domain"] = self.domain.astype(np.float16)  # a distance check: half precision is plenty
        blob = save(arrays)
        write_atomic(folder / MAP_WEIGHTS, blob)
        meta = {"labels": list(self.labels), "perplexity": self.perplexity, "seed": self.seed, "n": len(self.coords)}
        write_atomic(folder / MAP_META, json.dumps(meta, indent=2).encode())

    @classmethod
    def load(cls, folder: Path) -> ReferenceMap:
        from safetensors.numpy import load_file

        try:
            arrays = load_file(str(folder / MAP_WEIGHTS))
            meta = json.loads((folder / MAP_META).read_text())
        except FileNotFoundError:
            raise ModelLoadError("This model has no reference map (t-SNE).", path=folder) from None
        except (OSError, ValueError):
            raise ModelLoadError("The reference map is damaged.", path=folder) from None
        domain = arrays.get("domain")
        return cls(arrays["embeddings"], arrays["coords"], arrays["classes"], tuple(meta["labels"]),
                   float(meta["perplexity"]), int(meta["seed"]),
                   None if domain is None else np.asarray(domain, np.float32))

    def _embedding(self) -> object:
        if self._embedding_object is None:
            from openTSNE import TSNEEmbedding, affinity

            affinities = affinity.PerplexityBasedNN(self.embeddings, perplexity=self.perplexity, method="exact",
                                                    random_state=self.seed, n_jobs=2)
            self._embedding_object = TSNEEmbedding(self.coords.astype(np.float64), affinities,
                                                   random_state=self.seed)
        return self._embedding_object

    def place(self, embeddings: np.ndarray) -> np.ndarray:
        """2-D positions (K, 2) of new cases on the existing map (openTSNE transform), in ``coords``' frame."""
        points = np.atleast_2d(np.asarray(embeddings, np.float32))
        embedding = self._embedding()
        placed = np.asarray(embedding.transform(points), np.float32)  # type: ignore[attr-defined]
        # transform() first centres the reference embedding in place and answers in that centred frame; the map is
        # drawn from ``coords``, so shift back (uncorrected, the star sat ~11 % of the map's span off its neighbours).
        shift = self.coords.mean(axis=0) - np.asarray(embedding, np.float32).mean(axis=0)
        return placed + shift

    def strays_from(self, point: np.ndarray, nearest: np.ndarray) -> bool:
        """Whether the placed ``point`` lies outside the spread of its ``nearest`` references on the map: farther
        from their median than the farthest of them, plus 5 % of the map's span (t-SNE and embedding distances
        can disagree, so the viewer says so rather than let the rings look like the star's neighbourhood)."""
        near = self.coords[np.asarray(nearest, int)]
        if not len(near):
            return False
        centre = np.median(near, axis=0)
        reach = float(np.max(np.linalg.norm(near - centre, axis=1)))
        span = float(np.ptp(self.coords, axis=0).max()) or 1.0
        return float(np.linalg.norm(np.asarray(point, np.float32) - centre)) > reach + 0.05 * span

    def nearest(self, embedding: np.ndarray, k: int = 5) -> np.ndarray:
        """Indices of the k reference cases closest to ``embedding`` in embedding space."""
        distances = np.linalg.norm(self.embeddings - np.asarray(embedding, np.float32)[None], axis=1)
        return np.argsort(distances)[:k]

    def novelty_percentile(self, embedding: np.ndarray, domain: np.ndarray | None = None) -> float | None:
        """How unlike the reference cases a case is, as a percentile of the references themselves.

        The case's distance to its k-th nearest reference is ranked against each reference's own leave-one-out
        k-th-neighbour distance: 50 is a typical training case, 99 is farther out than 99 % of them (a deep
        nearest-neighbour out-of-distribution score). Measured in whole-radiograph features (``domain``) when the
        map has them — they tell an adult's film from a child's far better than the trained embedding, which keeps
        only what the classes need — else in the unit-normalised embedding. A hint, not a guarantee either way;
        None with too few references.
        """
        k = NOVELTY_K  # fixed: the cached reference distances below are for this k
        if len(self.embeddings) <= k:
            return None
        use_domain = self.domain is not None and domain is not None
        if self._unit_references is None or self._reference_knn is None:  # once per map: N x N distances
            self._unit_references = _unit(self.domain if self.domain is not None else self.embeddings)
            distances = _chord(self._unit_references, self._unit_references)
            np.fill_diagonal(distances, np.inf)
            self._reference_knn = np.sort(np.partition(distances, k - 1, axis=1)[:, k - 1])
        if self.domain is not None and not use_domain:
            return None  # a domain map needs the case's domain features
        query = _unit(np.asarray(domain if use_domain else embedding, np.float32)[None])
        case = np.partition(_chord(query, self._unit_references)[0], k - 1)[k - 1]
        return float(100.0 * np.searchsorted(self._reference_knn, case, side="left") / len(self._reference_knn))


def _chord(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Euclidean distances (len(a), len(b)) between unit vectors, from their dot products."""
    return np.sqrt(np.maximum(2.0 - 2.0 * a @ b.T, 0.0))


def _unit(vectors: np.ndarray) -> np.ndarray:
    vectors = np.asarray(vectors, np.float32)
    return vectors / np.maximum(np.linalg.norm(vectors, axis=-1, keepdims=True), 1e-12)
