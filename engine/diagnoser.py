"""The facade the viewer, the CLI, triage and training use: ingest -> lung crop -> PneumoLLM -> calibrated result.

``Diagnoser(model_dir).predict(path) -> DiagnosisResult``; batches through ``predict_batch``; whole lists of
files through ``iter_diagnose``, which decodes the next batch on a second thread while the model runs and
yields one ``CaseOutcome`` per file (one bad file never stops a batch). Every result carries its ``Decision``
(``engine.decision``): the one place a probability meets a threshold.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from engine.decision import ThresholdChoice, ThresholdSource, decide
from engine.errors import ModelLoadError, PneumoError, UnsupportedImageError
from engine.flags import Flag, blocking, messages
from engine.intended_use import with_intended_use_flags
from engine.io import ImageMeta, LoadedImage, load_for_model, load_image
from engine.io.reduced import reduction_for
from engine.model.checkpoint import HeadCheckpoint, apply_checkpoint, load_checkpoint
from engine.model.head_card import HeadCard
from engine.model.pneumollm import build_model, frozen_fingerprints
from engine.model.runtime import Runtime, is_out_of_memory
from engine.model.speedups import SpeedOptions, run_encoder_on_onnx, speed_up_model
from engine.model.store import active_head_dir
from engine.preprocess import PreparedCase, crop_to_tensor, model_min_side, prepare_batch
from engine.progress import Progress
from engine.reference_map import ReferenceMap, domain_flags
from engine.result import CaseOutcome, DiagnosisResult
from engine.segment import LungSegmenter

log = logging.getLogger(__name__)


class Diagnoser:
    """Load a profile's backbones plus a trained head; diagnose images one at a time or in batches.

    Args:
        model_dir: a head folder; default: the installed head, else the shipped one.
        vision_weights, llm_path: local weights of the full profile.
        device: "auto" (CUDA when present), "cpu" or "cuda".
        segmenter: a loaded lung segmenter to share (default: the shipped one).
        progress: receives one-line messages while the backbones load.
        threshold: which operating threshold results are decided at (``engine.decision.ThresholdChoice``);
            default: the head card's. Changed later only through ``choose_threshold``.
        speed: inference speed-ups of the frozen networks (``engine.model.speedups``); default: the measured,
            accuracy-checked ones; ``SpeedOptions.reference()`` runs the networks exactly as built.
    """

    grad_cam_available = True  # the reading computes Grad-CAM for this model (not for the ILO heads' features)

    def __init__(self, model_dir: str | Path | None = None, *, vision_weights: str | None = None,
                 llm_path: str | None = None, device: str = "auto", segmenter: LungSegmenter | None = None,
                 progress: Callable[[str], None] | None = None, threshold: ThresholdChoice | None = None,
                 speed: SpeedOptions | None = None) -> None:
        folder = Path(model_dir) if model_dir else active_head_dir()
        self.checkpoint: HeadCheckpoint = load_checkpoint(folder)
        config = self.card.model
        if vision_weights:
            config = replace(config, vision_weights=str(vision_weights))
        if llm_path:
            config = replace(config, llm_path=str(llm_path))
        self.speed = speed or SpeedOptions()
        self.runtime = Runtime.select(device)
        if self.speed.cpu_bfloat16 and self.runtime.device.type == "cpu":
            self.runtime = Runtime.cpu_bfloat16(self.runtime.note)
        self.preprocess = self.card.preprocess
        self.segmenter = segmenter or LungSegmenter(speed=self.speed)
        self.model = build_model(config, baseline=self.card.baseline, progress=progress)
        apply_checkpoint(self.model, self.checkpoint, frozen_fingerprints(self.model))
        self.model.eval()
        self.runtime.place(self.model)
        speed_up_model(self.model, self.speed)  # after the fingerprint check: fusing rewrites the backbone's weights
        if self.speed.onnx_runtime and self.runtime.device.type == "cpu" and self.runtime.amp_dtype is None:
            run_encoder_on_onnx(self.model, self.preprocess.input_size)  # exported per head (its adapters)
        self.threshold_choice = ThresholdChoice()
        self.choose_threshold(threshold or ThresholdChoice())
        self.warnings: list[Flag] = [Flag("cpu_fallback", self.runtime.note)] if self.runtime.note else []
        self.reference_map = _load_reference_map(folder)

    @property
    def model_side(self) -> int | None:
        """The shorter side files are decoded at for the model (``engine.io.load_for_model``); None: in full."""
        return model_min_side(self.preprocess) if self.speed.reduced_decode else None

    @property
    def card(self) -> HeadCard:
        return self.checkpoint.card

    @property
    def profile(self) -> str:
        return self.card.profile

    @property
    def labels(self) -> tuple[str, ...]:
        return self.card.labels

    @property
    def source_names(self) -> list[str]:
        """Names of the source tokens (encoder depths), for attention plots."""
        sources = getattr(self.model, "sources", None)
        return sources.token_names() if sources is not None else []

    # -- single images and batches ----------------------------------------------------------------------
    def predict(self, item: LoadedImage | str | Path, *, allow_flagged: bool = False) -> DiagnosisResult:
        """Diagnose one image (a path is decoded for the model only: reduced with ``SpeedOptions.reduced_decode``).

        Raises:
            UnsupportedImageError: the file carries REVIEW flags (lateral view, CT, ...) and ``allow_flagged``
                is False; the error's ``flags`` say which. Unusable crops (a blank image) are not raised: the
                result's decision is "not diagnosed" with the reason.
        """
        start = time.perf_counter()
        image = self.model_image(item) if isinstance(item, LoadedImage) else _load(item, self.model_side)
        decode_ms = (time.perf_counter() - start) * 1e3
        return self.predict_batch([image], allow_flagged=allow_flagged, decode_ms=[decode_ms])[0]

    def model_image(self, image: LoadedImage) -> LoadedImage:
        """``image`` as the model path decodes its file (reduced where ``SpeedOptions.reduced_decode`` says), so a
        film opened on screen (decoded in full) gets the score that triage and the PACS node give the same file.
        The screen's image is returned when nothing would be reduced, the file is gone or changed, or its reader
        (research formats) has no reduced decode."""
        side, meta = self.model_side, image.meta
        if side is None or image.reduction != 1 or meta.kind == "research" \
                or reduction_for(meta.rows, meta.columns, side) == 1 or not meta.path.is_file():
            return image
        try:
            reduced = load_for_model(meta.path, side)
        except PneumoError:
            return image
        same_file = (reduced.meta.rows, reduced.meta.columns, reduced.meta.sop_instance_uid) == \
            (meta.rows, meta.columns, meta.sop_instance_uid)
        return replace(reduced, meta=meta) if same_file else image

    def predict_batch(self, images: Sequence[LoadedImage], *, allow_flagged: bool = False,
                      decode_ms: Sequence[float] | None = None, intended_use_checked: bool = False
                      ) -> list[DiagnosisResult]:
        if not intended_use_checked:
            images = [self.check_intended_use(image) for image in images]
        for image in images:
            refuse_flagged(image, allow_flagged)
        return self._diagnose_cases(self._prepare(list(images)), allow_flagged, decode_ms)

    def _diagnose_cases(self, cases: list[PreparedCase], allow_flagged: bool, decode_ms: Sequence[float] | None
                        ) -> list[DiagnosisResult]:
        """The model on prepared (segmented, cropped) cases, and their results."""
        wholes = torch.stack([case.whole for case in cases]) if self._checks_domain() else None
        outputs, model_timings = self._forward(torch.stack([case.tensor for case in cases]), wholes)
        results = []
        for index, case in enumerate(cases):
            timings = {"decode": decode_ms[index] if decode_ms else 0.0, **case.timings_ms}
            timings |= {k: v / len(cases) for k, v in model_timings.items()}
            results.append(self._result(case, outputs, index, timings, allow_flagged))
        return results

    def iter_diagnose(self, paths: Sequence[str | Path], batch_size: int = 8, *, allow_flagged: bool = False,
                      cancelled: Callable[[], bool] = lambda: False) -> Iterator[CaseOutcome]:
        """One ``CaseOutcome`` per file, in order. The next batch is decoded, segmented and cropped on a second
        thread while the encoder and the LLM run on this one (two workers: on two cores, give torch one thread
        each, ``torch.set_num_threads(1)``); a file that fails (unreadable, flagged, not diagnosable) gets its
        error."""
        started = time.perf_counter()
        paths = [Path(p) for p in paths]
        batches = [paths[i : i + batch_size] for i in range(0, len(paths), batch_size)]
        done = 0
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="decode") as decoder:
            pending = decoder.submit(self._decode_and_prepare, batches[0], allow_flagged) if batches else None
            for index in range(len(batches)):
                if cancelled():
                    return
                assert pending is not None
                decoded = pending.result()
                pending = decoder.submit(self._decode_and_prepare, batches[index + 1], allow_flagged) \
                    if index + 1 < len(batches) else None
                for path, outcome in self._diagnose_decoded(decoded, allow_flagged):
                    done += 1
                    progress = Progress.of(done, len(paths), started, "Diagnosing")
                    yield replace(outcome, path=path, progress=progress)

    def choose_threshold(self, choice: ThresholdChoice) -> None:
        """Decide every later result at ``choice`` (checked against this head first: the one place it is set).

        Raises:
            ModelLoadError: an operating point this head does not offer.
        """
        choice.resolve(self.card.threshold, self.card.operating_points)
        self.threshold_choice = choice

    def threshold_in_force(self) -> tuple[float, ThresholdSource]:
        """The operating threshold results are decided at, and where it comes from."""
        return self.threshold_choice.resolve(self.card.threshold, self.card.operating_points)

    def check_intended_use(self, image: LoadedImage) -> LoadedImage:
        """``image`` with an ``outside_intended_use`` flag when its tags fall outside the head card's intended use."""
        return with_intended_use_flags(image, self.card.intended_use)

    def crop_probabilities(self, crops: np.ndarray | Sequence[np.ndarray]) -> np.ndarray:
        """Calibrated probability of the positive class for model-input crops (N, S, S) uint8, no segmentation.

        For probes that change the crop and ask how the answer moves (zone occlusion, consistency checks).
        """
        batch = torch.stack([crop_to_tensor(np.asarray(crop, np.uint8), self.preprocess) for crop in crops])
        outputs, _ = self._forward(batch)
        probabilities = outputs["probabilities"]
        assert probabilities is not None
        return np.asarray(probabilities[:, self.card.positive_index], np.float64)

    # -- internals ------------------------------------------------------------------------------------
    def _decode_and_prepare(self, paths: list[Path], allow_flagged: bool) -> list[_Decoded]:
        """The second worker's share of a batch: decode, checks, 8 bits, segmentation and crops."""
        decoded = _decode_batch(paths, allow_flagged, self.check_intended_use, self.model_side)
        ready = [index for index, item in enumerate(decoded) if item.image is not None]
        if ready:
            try:
                cases: list[PreparedCase | PneumoError] = list(self._prepare(
                    [decoded[index].image for index in ready]))  # type: ignore[misc]
            except PneumoError as exc:  # a batch-wide failure (e.g. segmentation weights) marks each file
                cases = [exc] * len(ready)
            for index, case in zip(ready, cases, strict=True):
                decoded[index] = replace(decoded[index], case=case)
        return decoded

    def _diagnose_decoded(self, decoded: list[_Decoded], allow_flagged: bool) -> list[tuple[Path, CaseOutcome]]:
        empty = Progress(0, 0, 0.0)
        outcomes = {item.path: CaseOutcome(item.path, empty, meta=item.meta, error=item.error)
                    for item in decoded if item.image is None}
        outcomes |= {item.path: CaseOutcome(item.path, empty, meta=item.meta, error=item.case)
                     for item in decoded if isinstance(item.case, PneumoError)}
        ready = [item for item in decoded if isinstance(item.case, PreparedCase)]
        if ready:
            try:
                results: list[DiagnosisResult | PneumoError] = list(self._diagnose_cases(
                    [item.case for item in ready], allow_flagged, [item.decode_ms for item in ready]))  # type: ignore[misc]
            except PneumoError as exc:  # a batch-wide failure marks each file
                results = [exc] * len(ready)
            for item, result in zip(ready, results, strict=True):
                if isinstance(result, PneumoError):
                    outcomes[item.path] = CaseOutcome(item.path, empty, meta=item.meta, error=result)
                else:
                    outcomes[item.path] = CaseOutcome(item.path, empty, meta=item.meta, result=result)
        return [(item.path, outcomes[item.path]) for item in decoded]

    def _prepare(self, images: list[LoadedImage]) -> list[PreparedCase]:
        """Segmented, cropped model inputs (``engine.ilo.diagnoser`` prepares zone features instead)."""
        return prepare_batch(images, self.segmenter, self.preprocess)

    def _extra_outputs(self, output: Any) -> dict[str, np.ndarray | None]:
        """More of the model's outputs for ``_result`` (none for the crop heads; the ILO heads' zone outputs)."""
        return {}

    def _checks_domain(self) -> bool:
        """The reference map carries whole-radiograph features (heads from this version on)."""
        return self.reference_map is not None and self.reference_map.domain is not None

    def _forward(self, batch: torch.Tensor, wholes: torch.Tensor | None = None
                 ) -> tuple[dict[str, np.ndarray | None], dict[str, float]]:
        try:
            return self._forward_on(self.runtime, batch, wholes)
        except RuntimeError as exc:
            if self.runtime.device.type != "cuda" or not is_out_of_memory(exc):
                raise
            torch.cuda.empty_cache()
            message = "The GPU ran out of memory — continuing on the CPU (slower)."
            log.warning(message)
            self.warnings.append(Flag("cpu_fallback", message))
            self.runtime = Runtime.cpu(message)
            self.model.float()
            self.runtime.place(self.model)
            return self._forward_on(self.runtime, batch, wholes)

    @torch.inference_mode()
    def _forward_on(self, runtime: Runtime, batch: torch.Tensor, wholes: torch.Tensor | None
                    ) -> tuple[dict[str, np.ndarray | None], dict[str, float]]:
        start = time.perf_counter()
        with runtime.autocast():
            output = self.model(batch.to(runtime.device), output_attentions=True)
            domain = None if wholes is None else self.model.domain_features(wholes.to(runtime.device))
        if runtime.device.type == "cuda":
            torch.cuda.synchronize()
        model_ms = (time.perf_counter() - start) * 1e3
        logits = output.logits.float() / self.card.temperature
        arrays = {
            "probabilities": torch.softmax(logits, dim=-1).cpu().numpy(),
            "embedding": output.embedding.float().cpu().numpy(),
            "token_mixing": None if output.token_mixing is None else output.token_mixing.float().cpu().numpy(),
            "attention": None if output.emitter_attention is None else output.emitter_attention.float().cpu().numpy(),
            "domain": None if domain is None else domain.float().cpu().numpy(),
            "grades": None if getattr(output, "grade_logits", None) is None else _grade_distribution(output),
            **self._extra_outputs(output),
        }
        return arrays, {"model": model_ms}

    def _result(self, case: PreparedCase, outputs: dict[str, np.ndarray | None], index: int,
                timings: dict[str, float], allow_flagged: bool) -> DiagnosisResult:
        def row(name: str) -> np.ndarray | None:
            value = outputs[name]
            return None if value is None else value[index]

        probabilities = row("probabilities")
        assert probabilities is not None
        card = self.card
        embedding = row("embedding")
        assert embedding is not None
        novelty = None
        if self.reference_map is not None:
            novelty = self.reference_map.novelty_percentile(embedding, domain=row("domain"))
        warnings = tuple(self.warnings) + domain_flags(novelty)
        flags = (*case.image.meta.flags, *case.lung_crop.flags, *warnings)
        probability = float(probabilities[card.positive_index])
        threshold, source = self.threshold_in_force()
        decision = decide(probability, threshold, flags, review_allowed=allow_flagged, threshold_source=source)
        return DiagnosisResult(
            labels=self.labels,
            probabilities=tuple(float(p) for p in probabilities),
            positive_index=card.positive_index,
            decision=decision,
            model_threshold=card.threshold,
            lung_crop=case.lung_crop,
            embedding=embedding,
            token_mixing=row("token_mixing"),
            emitter_attention=row("attention"),
            image_flags=case.image.meta.flags,
            timings_ms=timings,
            profile=self.profile,
            model_id=card.model_id,
            device=self.runtime.label,
            image_path=str(case.image.meta.path),
            warnings=warnings,
            novelty_percentile=novelty,
            grades=tuple(getattr(card, "grades", ())),
            grade_probabilities=None if row("grades") is None else tuple(float(p) for p in row("grades")),
        )


def _grade_distribution(output: Any) -> np.ndarray:
    from engine.model.pneumollm import grade_distribution

    return grade_distribution(output.grade_logits.float()).cpu().numpy()


def _load_reference_map(folder: Path) -> ReferenceMap | None:
    try:
        return ReferenceMap.load(folder)
    except ModelLoadError as exc:
        log.info("no reference map: %s", exc.user_message)
        return None


def refuse_flagged(image: LoadedImage, allow_flagged: bool) -> None:
    """Raise ``UnsupportedImageError`` for images whose file flags stop a silent diagnosis."""
    stops = blocking(image.meta.flags, review_allowed=allow_flagged)
    if stops:
        raise UnsupportedImageError(f"Not diagnosed: {'; '.join(messages(stops))}.", path=image.meta.path,
                                    flags=stops)


def _load(path: str | Path, min_side: int | None) -> LoadedImage:
    return load_image(path) if min_side is None else load_for_model(path, min_side)


@dataclass(frozen=True)
class _Decoded:
    path: Path
    image: LoadedImage | None  # None: refused or unreadable (see error)
    meta: ImageMeta | None  # also kept for refused files: triage lists their study
    error: PneumoError | None
    decode_ms: float = 0.0
    case: PreparedCase | PneumoError | None = None  # segmented and cropped on the same worker, or why not


def _decode_batch(paths: list[Path], allow_flagged: bool, annotate: Callable[[LoadedImage], LoadedImage],
                  min_side: int | None) -> list[_Decoded]:
    """Decode thread: read (at the resolution the model needs, ``load_for_model``), check the intended use, refuse
    flagged files and convert to 8 bits, so the model thread never waits."""
    decoded: list[_Decoded] = []
    for path in paths:
        start = time.perf_counter()
        meta = None
        try:
            image = annotate(_load(path, min_side))
            meta = image.meta
            refuse_flagged(image, allow_flagged)
            image.model_uint8  # noqa: B018 - computed here, on the decode thread
            decoded.append(_Decoded(path, image, meta, None, (time.perf_counter() - start) * 1e3))
        except PneumoError as exc:
            decoded.append(_Decoded(path, None, meta, exc))
        except Exception as exc:
            log.debug("unexpected decoding error", exc_info=True)
            error = PneumoError(f"unexpected decoding error ({type(exc).__name__})", path=path)
            decoded.append(_Decoded(path, None, meta, error))
    return decoded
