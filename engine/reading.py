"""Reading one case, as the viewer shows it: a Qt-free generator of typed events.

``read_case`` runs the model, then the aids that help a reader trust or doubt the result (the case on the
t-SNE map of reference cases, Grad-CAM), yielding an event after each stage so a caller can draw as results
arrive and stop between stages (napari's and TagStudio's workers drain such generators). The viewer only
renders the events; it never runs a stage itself.

``ModelSession`` owns the model a window uses: built once, on first use, on whichever worker thread asks
first; replaced when the model settings change.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from engine.decision import ThresholdChoice
from engine.io import LoadedImage
from engine.lung_crop import lung_outline
from engine.reference_map import ReferenceMap
from engine.result import DiagnosisResult

if TYPE_CHECKING:
    from engine.diagnoser import Diagnoser

log = logging.getLogger(__name__)
DiagnoserFactory = Callable[[Callable[[str], None]], "Diagnoser"]  # (progress line sink) -> Diagnoser
MAP_NEIGHBOURS = 5


@dataclass(frozen=True)
class StageStarted:
    text: str  # what is running now, for a status line


@dataclass(frozen=True)
class ResultReady:
    result: DiagnosisResult
    source_names: tuple[str, ...]  # the source tokens' names (encoder depths), for attention plots
    outline: np.ndarray  # (H, W) bool, the lung mask's contour for the overlay


@dataclass(frozen=True)
class MapPlacement:
    """The case on the head's reference map (openTSNE rebuilds its affinities: worker side)."""

    reference: ReferenceMap | None
    point: np.ndarray | None  # (2,) t-SNE coordinates
    nearest: np.ndarray | None  # indices of the nearest reference cases in embedding space
    message: str = ""  # why there is no map


@dataclass(frozen=True)
class MapReady:
    placement: MapPlacement


@dataclass(frozen=True)
class SaliencyReady:
    saliency: np.ndarray | None  # (H, W) float32 in [0, 1], or None when Grad-CAM failed


ReadingEvent = StageStarted | ResultReady | MapReady | SaliencyReady


class ModelSession:
    """The model a window uses, built once by ``factory`` on the first thread that needs it."""

    def __init__(self, factory: DiagnoserFactory) -> None:
        self._factory = factory
        self._lock = threading.Lock()
        self._diagnoser: Diagnoser | None = None
        self._threshold = ThresholdChoice()

    @property
    def current(self) -> Diagnoser | None:
        """The model if it is built (never builds it)."""
        return self._diagnoser

    def choose_threshold(self, choice: ThresholdChoice) -> None:
        """The reader's choice for every later result (``ThresholdChoice``), applied to the model now if it is
        built, else when it is.

        Raises:
            ModelLoadError: an operating point the built model's head does not offer.
        """
        self._threshold = choice
        if self._diagnoser is not None:
            self._diagnoser.choose_threshold(choice)

    def diagnoser(self, progress: Callable[[str], None] | None = None) -> Diagnoser:
        """The model, built on first use (worker threads only: loading it touches torch and takes seconds).

        Raises:
            ModelLoadError: the factory's, or the chosen operating point is not offered by the model's head.
        """
        with self._lock:
            if self._diagnoser is None:
                diagnoser = self._factory(progress or (lambda _text: None))
                diagnoser.choose_threshold(self._threshold)
                self._diagnoser = diagnoser
            return self._diagnoser


def read_case(session: ModelSession, image: LoadedImage | str | Path, *, allow_flagged: bool = False,
              saliency: bool = True) -> Iterator[ReadingEvent]:
    """Diagnose ``image`` (a decoded image, or a file the Diagnoser decodes as its model path does) and compute
    the reading aids, one event per stage. The operating threshold is the session's model's
    (``ModelSession.choose_threshold`` carries the reader's Settings).

    Raises whatever ``Diagnoser.predict`` raises (``UnsupportedImageError`` for flagged files, ...); a failing
    aid (map, Grad-CAM) is logged and reported as an empty event, never as a lost result.
    """
    if session.current is None:
        yield StageStarted("Loading the model…")
    diagnoser = session.diagnoser()
    yield StageStarted("Diagnosing: lung segmentation and PneumoLLM…")
    result = diagnoser.predict(image, allow_flagged=allow_flagged)
    outline = lung_outline(result.lung_crop.mask)
    yield ResultReady(result, tuple(diagnoser.source_names), outline)
    yield StageStarted("Placing the case on the reference map…")
    yield MapReady(place_on_map(diagnoser, result))
    if saliency and diagnoser.grad_cam_available:
        yield StageStarted("Computing the saliency map (Grad-CAM)…")
        yield SaliencyReady(_grad_cam(diagnoser, result))


def place_on_map(diagnoser: Diagnoser, result: DiagnosisResult) -> MapPlacement:
    reference = diagnoser.reference_map
    if reference is None:
        return MapPlacement(None, None, None, "No reference map: this model has no t-SNE map of reference cases.")
    try:
        point = reference.place(result.embedding)[0]
    except Exception:
        log.warning("placing the case on the reference map failed", exc_info=True)
        point = None
    return MapPlacement(reference, point, reference.nearest(result.embedding, k=MAP_NEIGHBOURS))


def _grad_cam(diagnoser: Diagnoser, result: DiagnosisResult) -> np.ndarray | None:
    from engine.saliency import grad_cam

    try:
        return grad_cam(diagnoser, result)
    except Exception:
        log.warning("Grad-CAM failed", exc_info=True)
        return None
