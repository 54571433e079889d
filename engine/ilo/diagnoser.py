"""The Diagnoser for an ILO head (``engine.model.ilo_model``): the same facade, calls and results as the crop heads'
(``engine.diagnoser``), so the viewer's model process, ``pneumollm predict`` / ``triage`` and the PACS node serve
it unchanged (``DiagnoserSpec.build`` picks it for a head whose card says ``ilo-heads``).

What differs is the model's input and two outputs:

* each film is prepared exactly as the head's training films were (``engine.ilo.zone_features.features_of``): the
  whole film decoded at full resolution (never reduced), segmented, and the six zones (or the whole-lung crop, by
  the head's view) through the frozen encoder;
* the result's probability is the head's "abnormal (>= 1/0)" output, its grades the major category, and
  ``result.ilo`` holds the head's suggestion (``engine.ilo.suggestion``: 12-point profusion, zones, per-zone
  profusion; the primary shape, for a head with a shape output and a film it calls abnormal);
* there is no Grad-CAM (the ILO model starts from pooled features, not pixels) and no crop probe
  (``crop_probabilities``): the zone chart shows the head's own per-zone outputs instead.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from engine.decision import ThresholdChoice
from engine.diagnoser import Diagnoser
from engine.errors import PneumoError
from engine.ilo.suggestion import IloSuggestion
from engine.ilo.zone_features import WHOLE_SIZE, FrozenEncoder, film_features
from engine.io import LoadedImage
from engine.model.checkpoint import load_checkpoint
from engine.model.head_card import is_simulation
from engine.model.ilo_model import ilo_info, load_ilo_head
from engine.model.runtime import Runtime
from engine.model.speedups import SpeedOptions
from engine.preprocess import PreparedCase
from engine.result import DiagnosisResult
from engine.segment import LungSegmenter


class IloDiagnoser(Diagnoser):
    """``Diagnoser`` for an ILO head folder (see the module docstring); ``vision_weights`` / ``llm_path`` are not
    used (the ILO heads run on the embedded encoder)."""

    grad_cam_available = False

    def __init__(self, model_dir: str | Path, *, vision_weights: str | None = None, llm_path: str | None = None,
                 device: str = "auto", segmenter: LungSegmenter | None = None,
                 progress: Callable[[str], None] | None = None, threshold: ThresholdChoice | None = None,
                 speed: SpeedOptions | None = None) -> None:
        folder = Path(model_dir)
        if progress is not None:
            progress("Loading the ILO head and its frozen encoder…")
        self.model, _card = load_ilo_head(folder)  # refuses a crop head, checks the encoder's fingerprint
        self.checkpoint = load_checkpoint(folder)
        self.view = str((ilo_info(self.card) or {})["view"])
        self.speed = speed or SpeedOptions()
        self.runtime = Runtime.select(device)
        self.preprocess = self.card.preprocess
        # As the training features were computed (``training.ilo_train``: the default segmenter).
        self.segmenter = segmenter or LungSegmenter()
        self.encoder = FrozenEncoder(onnx=self.runtime.device.type == "cpu")
        self.runtime.place(self.model)
        self.threshold_choice = ThresholdChoice()
        self.choose_threshold(threshold or ThresholdChoice())
        self.warnings = []
        if self.runtime.note:
            from engine.flags import Flag

            self.warnings.append(Flag("cpu_fallback", self.runtime.note))
        self.reference_map = None  # the ILO heads ship no t-SNE map

    @property
    def model_side(self) -> int | None:
        return None  # the zones are cut from the full-resolution film, as in training

    def _prepare(self, images: list[LoadedImage]) -> list[PreparedCase]:
        cases = []
        for image in images:
            start = time.perf_counter()
            pixels = image.model_uint8
            lungs = self.segmenter.lung_crop(pixels, size=WHOLE_SIZE)  # as ``features_of`` does
            features = film_features(pixels, lungs.mask, lungs.box, lungs.crop, self.encoder, lungs.fallback)
            vector = features.zones if self.view == "zones" else features.whole
            timings = {**lungs.timings_ms, "ilo_features": (time.perf_counter() - start) * 1e3}
            cases.append(PreparedCase(image, lungs, torch.from_numpy(np.ascontiguousarray(vector)), timings))
        return cases

    def _extra_outputs(self, output: Any) -> dict[str, np.ndarray | None]:
        return {name: getattr(output, attribute).float().cpu().numpy() for name, attribute in (
            ("ilo_category", "grade_logits"), ("ilo_profusion", "profusion_logits"), ("ilo_zones", "zone_logits"),
            ("ilo_zone_profusion", "zone_profusion_logits"), ("ilo_shape", "shape_logits"))
            if getattr(output, attribute) is not None}  # no "ilo_shape" for a head without a shape output

    def _result(self, case: PreparedCase, outputs: dict[str, np.ndarray | None], index: int,
                timings: dict[str, float], allow_flagged: bool) -> DiagnosisResult:
        result = super()._result(case, outputs, index, timings, allow_flagged)
        rows = [outputs[name] for name in ("ilo_category", "ilo_profusion", "ilo_zones", "ilo_zone_profusion")]
        shape = outputs.get("ilo_shape")
        suggestion = IloSuggestion.from_outputs(*(row[index] for row in rows),  # type: ignore[index]
                                                simulation=is_simulation(self.card),
                                                shape_logits=None if shape is None else shape[index],
                                                abnormal=result.decision.flagged)
        return replace(result, ilo=suggestion)

    def crop_probabilities(self, crops: Any) -> np.ndarray:
        raise PneumoError("This ILO head reads zone features, not lung crops, so it has no occlusion evidence: its "
                          "own per-zone answers are in the result (`pneumollm predict --json`: ilo_suggestion).")
