"""What a diagnosis says: ``DiagnosisResult`` (one image) and ``CaseOutcome`` (one file of a batch).

Torch-free on purpose: exports, the audit trail, triage rows and the viewer's panels read results without the
model's libraries, and results cross from the model process to the window by pickling (an import-linter
contract keeps torch out of this module's imports).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from engine.decision import Decision, ThresholdSource, Verdict, decide
from engine.errors import PneumoError
from engine.flags import Flag, codes, messages
from engine.ilo.suggestion import IloSuggestion
from engine.io.image import ImageMeta
from engine.lung_crop import LungCrop
from engine.model.head_card import BinaryLabels
from engine.progress import Progress


@dataclass(frozen=True)
class DiagnosisResult(BinaryLabels):
    labels: tuple[str, ...]  # aligned with probabilities
    probabilities: tuple[float, ...]  # calibrated (temperature-scaled softmax)
    positive_index: int  # which label is the finding ("pneumoconiosis" in the paper)
    decision: Decision  # the verdict and the threshold actually used (engine.decision)
    model_threshold: float  # the head card's operating threshold (``decision.threshold`` may be an override)
    lung_crop: LungCrop
    embedding: np.ndarray = field(repr=False)  # (W,) pooled vector, the case's point on the t-SNE map
    token_mixing: np.ndarray | None = field(repr=False)  # (d, m) the token engine's M_c
    emitter_attention: np.ndarray | None = field(repr=False)  # (L, H, m, d)
    image_flags: tuple[Flag, ...]  # from the file: lateral view, other modality, ...
    timings_ms: dict[str, float]
    profile: str
    model_id: str
    device: str
    image_path: str
    warnings: tuple[Flag, ...] = ()  # from the runtime and the reference cases (out of domain)
    novelty_percentile: float | None = None  # engine.reference_map: how unlike the training cases (0-100)
    grades: tuple[str, ...] = ()  # ordered grade names when the head has an ordinal head (ILO categories)
    grade_probabilities: tuple[float, ...] | None = None  # P(grade = k), aligned with ``grades``
    ilo: IloSuggestion | None = None  # an ILO head's profusion / zones suggestion (``engine.ilo.diagnoser``)

    @property
    def suggested_grade(self) -> str | None:
        """The ordinal head's grade: how many "grade > k" tasks it answers yes (CORAL), or None."""
        if self.grade_probabilities is None:
            return None
        above = 1.0 - np.cumsum(self.grade_probabilities)[:-1]  # P(grade > k)
        return self.grades[int((above > 0.5).sum())]

    @property
    def probability(self) -> float:
        return self.probabilities[self.positive_index]

    @property
    def threshold(self) -> float:
        """The operating threshold the decision used."""
        return self.decision.threshold

    @property
    def flagged(self) -> bool:
        return self.decision.flagged

    @property
    def label(self) -> str:
        """The class the decision points to, or "not diagnosed"."""
        if not self.decision.diagnosed:
            return Verdict.NOT_DIAGNOSED.value
        return self.positive_label if self.decision.flagged else self.negative_label

    @property
    def lung_mask(self) -> np.ndarray:
        return self.lung_crop.mask

    @property
    def quality_flags(self) -> tuple[Flag, ...]:
        return self.lung_crop.flags

    @property
    def flags(self) -> tuple[Flag, ...]:
        """Every flag of the case: file, lung crop, runtime — what the screen, exports and triage show."""
        return (*self.image_flags, *self.lung_crop.flags, *self.warnings)

    def at_threshold(self, threshold: float, source: ThresholdSource = ThresholdSource.OVERRIDE) -> DiagnosisResult:
        """The same result decided at another operating threshold (the reader's override in Settings)."""
        if abs(threshold - self.model_threshold) < 1e-12:
            threshold, source = self.model_threshold, ThresholdSource.MODEL
        review_allowed = bool(self.decision.review_overridden)
        return replace(self, decision=decide(self.probability, threshold, self.flags, review_allowed=review_allowed,
                                             threshold_source=source))

    def with_warning(self, flag: Flag) -> DiagnosisResult:
        """The result with one more warning (e.g. out of the reference cases' domain); the decision is re-derived."""
        result = replace(self, warnings=(*self.warnings, flag))
        return result.at_threshold(self.threshold, self.decision.threshold_source)

    def to_json(self) -> dict[str, Any]:
        return {
            "path": self.image_path,
            "probability": round(self.probability, 6),
            "label": self.label,
            "positive_label": self.positive_label,
            "decision": self.decision.verdict.value,
            "threshold": round(self.threshold, 6),
            "threshold_source": self.decision.threshold_source.value,
            "model_threshold": round(self.model_threshold, 6),
            "decision_reasons": messages(self.decision.reasons),
            "probabilities": dict(zip(self.labels, (round(p, 6) for p in self.probabilities), strict=True)),
            "lung_crop": self.lung_crop.to_json(),
            "quality_flags": messages(self.lung_crop.flags),
            "image_flags": messages(self.image_flags),
            "warnings": messages(self.warnings),
            "flags": [flag.to_json() for flag in self.flags],
            "flag_codes": codes(self.flags),
            "timings_ms": {k: round(v, 1) for k, v in self.timings_ms.items()},
            "profile": self.profile,
            "model_id": self.model_id,
            "device": self.device,
            "novelty_percentile": None if self.novelty_percentile is None else round(self.novelty_percentile, 1),
            **({"grade": {"suggested": self.suggested_grade,
                          "probabilities": {g: round(p, 6) for g, p in zip(self.grades, self.grade_probabilities,
                                                                             strict=True)}}}
               if self.grade_probabilities is not None else {}),
            **({"ilo_suggestion": self.ilo.to_json()} if self.ilo is not None else {}),  # ILO heads only
        }


@dataclass(frozen=True)
class CaseOutcome:
    """One file through ``iter_diagnose``: a result, or the error that stopped it (never both)."""

    path: Path
    progress: Progress
    meta: ImageMeta | None = None  # None when the file could not be read
    result: DiagnosisResult | None = None
    error: PneumoError | None = None
