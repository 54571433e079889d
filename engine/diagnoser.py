"""The facade the viewer, the CLI and training use: ingest -> lung crop -> PneumoLLM -> calibrated result."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from engine.errors import PneumoError, UnsupportedImageError
from engine.io import LoadedImage, load_image
from engine.model.checkpoint import HeadCheckpoint, apply_checkpoint, load_checkpoint
from engine.model.pneumollm import build_model, frozen_fingerprints
from engine.model.runtime import Runtime, is_out_of_memory
from engine.model_store import active_head_dir
from engine.preprocess import PreparedCase, prepare_batch
from engine.progress import Progress
from engine.segment import LungCrop, LungSegmenter

log = logging.getLogger(__name__)



@dataclass(frozen=True)
class DiagnosisResult:
    labels: tuple[str, ...]  # aligned with probabilities
    probabilities: tuple[float, ...]  # calibrated (temperature-scaled softmax)
    positive_index: int  # which label is the finding ("pneumoconiosis" in the paper)
    threshold: float  # operating threshold on the positive probability, from the checkpoint
    lung_crop: LungCrop
    embedding: np.ndarray = field(repr=False)  # (W,) pooled vector, the case's point on the t-SNE map
    engine_map: np.ndarray | None = field(repr=False)  # (d, m) M_c
    emitter_attention: np.ndarray | None = field(repr=False)  # (L, H, m, d)
    image_flags: tuple[str, ...]  # from the file: lateral view, other modality, ...
    timings_ms: dict[str, float]
    profile: str
    model_id: str
    device: str
    source: str
    warnings: tuple[str, ...] = ()

    @property
    def probability(self) -> float:
        return self.probabilities[self.positive_index]

    @property
    def decision(self) -> bool:
        """True = flagged (positive probability at or above the operating threshold)."""
        return self.probability >= self.threshold

    @property
    def label(self) -> str:
        negative = next(i for i in range(len(self.labels)) if i != self.positive_index)
        return self.labels[self.positive_index] if self.decision else self.labels[negative]

    @property
    def lung_mask(self) -> np.ndarray:
        return self.lung_crop.mask

    @property
    def quality_flags(self) -> tuple[str, ...]:
        return self.lung_crop.flags

    def to_json(self) -> dict[str, Any]:
        return {
            "path": self.source,
            "probability": round(self.probability, 6),
            "label": self.label,
            "positive_label": self.labels[self.positive_index],
            "decision": "flagged" if self.decision else "not flagged",
            "threshold": round(self.threshold, 6),
            "probabilities": dict(zip(self.labels, (round(p, 6) for p in self.probabilities), strict=True)),
            "lung_crop": self.lung_crop.to_json(),
            "quality_flags": list(self.lung_crop.flags),
            "image_flags": list(self.image_flags),
            "warnings": list(self.warnings),
            "timings_ms": {k: round(v, 1) for k, v in self.timings_ms.items()},
            "profile": self.profile,
            "model_id": self.model_id,
            "device": self.device,
        }


class Diagnoser:
    """Load a profile's backbones plus a trained head; diagnose images one at a time or in batches."""

    def __init__(self, model_dir: str | Path | None = None, *, vision_weights: str | None = None,
                 llm_path: str | None = None, device: str = "auto", segmenter: LungSegmenter | None = None,
                 progress: Callable[[str], None] | None = None) -> None:
        folder = Path(model_dir) if model_dir else active_head_dir()
        self.checkpoint: HeadCheckpoint = load_checkpoint(folder)
        config = self.checkpoint.model_config
        if vision_weights:
            config = replace(config, vision_weights=str(vision_weights))
        if llm_path:
            config = replace(config, llm_path=str(llm_path))
        self.runtime = Runtime.select(device)
        self.preprocess = self.checkpoint.preprocess
        self.segmenter = segmenter or LungSegmenter()
        self.model = build_model(config, baseline=self.checkpoint.baseline, progress=progress)
        apply_checkpoint(self.model, self.checkpoint, frozen_fingerprints(self.model))
        self.model.eval()
        self.runtime.place(self.model)
        self.warnings: list[str] = [self.runtime.note] if self.runtime.note else []

    @property
    def profile(self) -> str:
        return str(self.checkpoint.meta.get("profile", "?"))

    @property
    def labels(self) -> tuple[str, ...]:
        return self.checkpoint.labels

    @property
    def source_names(self) -> list[str]:
        """Names of the source tokens (encoder depths), for attention plots."""
        from engine.model.vision import ClipSources, EfficientNetSources

        sources = getattr(self.model, "sources", None)
        if isinstance(sources, EfficientNetSources):
            blocks = len(sources.backbone._blocks)
            return [f"block {tap + 1}" if tap < blocks else "head conv" for tap in sources.taps]
        if isinstance(sources, ClipSources):
            return [f"layer {index + 1}" for index in sources.take]
        return []

    # -- single images --------------------------------------------------------------------------------
    def predict(self, item: LoadedImage | str | Path, *, allow_flagged: bool = False) -> DiagnosisResult:
        """Diagnose one image. Images flagged at ingest (lateral, CT, ...) are refused unless allowed."""
        start = time.perf_counter()
        image = item if isinstance(item, LoadedImage) else load_image(item)
        decode_ms = (time.perf_counter() - start) * 1e3
        return self.predict_batch([image], allow_flagged=allow_flagged, decode_ms=[decode_ms])[0]

    def predict_batch(self, images: Sequence[LoadedImage], *, allow_flagged: bool = False,
                      decode_ms: Sequence[float] | None = None) -> list[DiagnosisResult]:
        for image in images:
            if image.meta.flags and not allow_flagged and blocking_flags(image.meta.flags):
                raise UnsupportedImageError(f"Not diagnosed: {'; '.join(blocking_flags(image.meta.flags))}.",
                                            path=image.meta.path)
        cases = prepare_batch(list(images), self.segmenter, self.preprocess)
        outputs, model_timings = self._forward(torch.stack([case.tensor for case in cases]))
        results = []
        for index, case in enumerate(cases):
            timings = {"decode": decode_ms[index] if decode_ms else 0.0, **case.timings_ms}
            timings |= {k: v / len(cases) for k, v in model_timings.items()}
            results.append(self._result(case, outputs, index, timings))
        return results

    def iter_diagnose(self, paths: Sequence[str | Path], batch_size: int = 8, *, allow_flagged: bool = False,
                      cancelled: Callable[[], bool] = lambda: False
                      ) -> Iterator[tuple[Progress, Path, DiagnosisResult | PneumoError]]:
        """Yield (progress, path, result or error) per file: one bad file never stops a batch."""
        started = time.perf_counter()
        done = 0
        for offset in range(0, len(paths), batch_size):
            if cancelled():
                return
            chunk = [Path(p) for p in paths[offset : offset + batch_size]]
            loaded: list[tuple[Path, LoadedImage, float]] = []
            outcomes: dict[Path, DiagnosisResult | PneumoError] = {}
            for path in chunk:
                t0 = time.perf_counter()
                try:
                    image = load_image(path)
                    if image.meta.flags and not allow_flagged and blocking_flags(image.meta.flags):
                        raise UnsupportedImageError(
                            f"Not diagnosed: {'; '.join(blocking_flags(image.meta.flags))}.", path=path)
                    loaded.append((path, image, (time.perf_counter() - t0) * 1e3))
                except PneumoError as exc:
                    outcomes[path] = exc
            if loaded:
                results = self.predict_batch([im for _, im, _ in loaded], allow_flagged=True,
                                             decode_ms=[ms for *_, ms in loaded])
                outcomes |= {path: result for (path, _, _), result in zip(loaded, results, strict=True)}
            for path in chunk:
                done += 1
                yield Progress.of(done, len(paths), started, "Diagnosing"), path, outcomes[path]

    def crop_probabilities(self, crops: np.ndarray | Sequence[np.ndarray]) -> np.ndarray:
        """Calibrated probability of the positive class for model-input crops (N, S, S) uint8, no segmentation.

        For probes that change the crop and ask how the answer moves (zone occlusion, consistency checks).
        """
        from engine.preprocess import crop_to_tensor

        batch = torch.stack([crop_to_tensor(np.asarray(crop, np.uint8), self.preprocess) for crop in crops])
        outputs, _ = self._forward(batch)
        probabilities = outputs["probabilities"]
        assert probabilities is not None
        return np.asarray(probabilities[:, self.checkpoint.positive_index], np.float64)

    # -- internals ------------------------------------------------------------------------------------
    def _forward(self, batch: torch.Tensor) -> tuple[dict[str, np.ndarray | None], dict[str, float]]:
        try:
            return self._forward_on(self.runtime, batch)
        except RuntimeError as exc:
            if self.runtime.device.type != "cuda" or not is_out_of_memory(exc):
                raise
            torch.cuda.empty_cache()
            message = "The GPU ran out of memory — continuing on the CPU (slower)."
            log.warning(message)
            self.warnings.append(message)
            self.runtime = Runtime.cpu(message)
            self.model.float()
            self.runtime.place(self.model)
            return self._forward_on(self.runtime, batch)

    @torch.inference_mode()
    def _forward_on(self, runtime: Runtime, batch: torch.Tensor
                    ) -> tuple[dict[str, np.ndarray | None], dict[str, float]]:
        start = time.perf_counter()
        with runtime.autocast():
            output = self.model(batch.to(runtime.device), output_attentions=True)
        if runtime.device.type == "cuda":
            torch.cuda.synchronize()
        model_ms = (time.perf_counter() - start) * 1e3
        logits = output.logits.float() / self.checkpoint.temperature
        arrays = {
            "probabilities": torch.softmax(logits, dim=-1).cpu().numpy(),
            "embedding": output.embedding.float().cpu().numpy(),
            "engine_map": None if output.engine_map is None else output.engine_map.float().cpu().numpy(),
            "attention": None if output.emitter_attention is None else output.emitter_attention.float().cpu().numpy(),
        }
        return arrays, {"model": model_ms}

    def _result(self, case: PreparedCase, outputs: dict[str, np.ndarray | None], index: int,
                timings: dict[str, float]) -> DiagnosisResult:
        def row(name: str) -> np.ndarray | None:
            value = outputs[name]
            return None if value is None else value[index]

        probabilities = row("probabilities")
        assert probabilities is not None
        return DiagnosisResult(
            labels=self.labels,
            probabilities=tuple(float(p) for p in probabilities),
            positive_index=self.checkpoint.positive_index,
            threshold=self.checkpoint.threshold,
            lung_crop=case.lung_crop,
            embedding=row("embedding"),  # type: ignore[arg-type]
            engine_map=row("engine_map"),
            emitter_attention=row("attention"),
            image_flags=case.image.meta.flags,
            timings_ms=timings,
            profile=self.profile,
            model_id=self.checkpoint.model_id,
            device=self.runtime.label,
            source=str(case.image.meta.path),
            warnings=tuple(self.warnings),
        )


def blocking_flags(flags: Sequence[str]) -> list[str]:
    """Ingest flags that stop a silent diagnosis (a grey conversion of a colour file does not)."""
    return [flag for flag in flags if not flag.startswith("colour DICOM")]
