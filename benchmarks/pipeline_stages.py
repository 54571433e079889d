"""The Diagnoser's pipeline cut into its stages, each timed and counted (FLOPs, minimum bytes) per image, for the
roofline tables of ``bench_triage.py`` and ``bench_model.py``.

decode (file -> stored values, at the resolution the model needs when ``SpeedOptions.reduced_decode``), 8-bit
(the paper's autocontrast), segmentation (resize to 256 + U-Net), crop (mask post-processing, quality check, lung
crop, box and mask back in the file's pixels, whole-image tensors), encoder (EfficientNet on the
crop, and on the whole radiograph for the out-of-domain check when the head has one), LLM (the frozen decoder
with its adapters), head (token engine, neck, classifier). The stages run as ``Diagnoser.predict_batch`` runs
them; only the bookkeeping around them (flags, results) is left out.
"""

from __future__ import annotations

import statistics
import time
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import torch
from roofline import Stage, parameter_bytes
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from engine.diagnoser import Diagnoser
from engine.io import LoadedImage, load_for_model, load_image
from engine.preprocess import crop_to_tensor, whole_image
from engine.segment import SEG_SIZE, at_full_resolution, crop_from_probability

STAGES = ("decode", "8-bit", "segmentation", "crop", "encoder", "LLM", "head")
_HOOKED = {"sources": "encoder", "token_engine": "head", "neck": "head", "decoder": "LLM", "head": "head"}


class _ModuleClock:
    """Wall time of the model's parts via forward hooks (they run one after another, never overlapping)."""

    def __init__(self, model: nn.Module) -> None:
        self.spent: dict[str, float] = defaultdict(float)
        self._starts: dict[str, float] = {}
        for name, stage in _HOOKED.items():
            module = getattr(model, name, None)
            if module is None:
                continue
            module.register_forward_pre_hook(lambda *_, n=name: self._starts.__setitem__(n, time.perf_counter()))
            module.register_forward_hook(
                lambda *_, n=name, s=stage: self.spent.__setitem__(s, self.spent[s] + time.perf_counter()
                                                                   - self._starts[n]))


def _checks_domain(diagnoser: Diagnoser) -> bool:
    reference_map = diagnoser.reference_map
    return reference_map is not None and reference_map.domain is not None


def model_path_load(diagnoser: Diagnoser, file: Path) -> LoadedImage:
    """The file as the Diagnoser decodes it for the model (reduced where ``SpeedOptions.reduced_decode`` says)."""
    side = diagnoser.model_side
    return load_image(file) if side is None else load_for_model(file, side)


@contextmanager
def torch_encoder(diagnoser: Diagnoser) -> Iterator[None]:
    """The encoder on PyTorch for a while (torch's FLOP counter cannot see inside ONNX Runtime)."""
    sources = getattr(diagnoser.model, "sources", None)
    runner = getattr(sources, "onnx_pooled", None)
    if runner is not None:
        sources.onnx_pooled = None
    try:
        yield
    finally:
        if runner is not None:
            sources.onnx_pooled = runner


def run_batch(diagnoser: Diagnoser, files: list[Path], spent: dict[str, float]) -> tuple[list, torch.Tensor,
                                                                                          torch.Tensor | None]:
    """One batch through every stage, adding each stage's seconds to ``spent``."""
    config = diagnoser.preprocess
    start = time.perf_counter()
    images = [model_path_load(diagnoser, file) for file in files]
    spent["decode"] += time.perf_counter() - start
    start = time.perf_counter()
    eight_bit = [image.model_uint8 for image in images]
    spent["8-bit"] += time.perf_counter() - start
    start = time.perf_counter()
    probabilities = diagnoser.segmenter.probabilities(eight_bit)
    spent["segmentation"] += time.perf_counter() - start
    start = time.perf_counter()
    crops = [at_full_resolution(crop_from_probability(pixels, probability, size=config.input_size,
                                                      effective_side=config.effective_side),
                                image.reduction, image.meta.rows, image.meta.columns)
             for image, pixels, probability in zip(images, eight_bit, probabilities, strict=True)]
    x = torch.stack([crop_to_tensor(crop.crop, config) for crop in crops])
    wholes = torch.stack([crop_to_tensor(whole_image(image, config.input_size), config) for image in eight_bit]) \
        if _checks_domain(diagnoser) else None
    spent["crop"] += time.perf_counter() - start
    model, runtime = diagnoser.model, diagnoser.runtime
    with torch.inference_mode(), runtime.autocast():
        model(x.to(runtime.device), output_attentions=True)
        if wholes is not None:
            start = time.perf_counter()
            model.domain_features(wholes.to(runtime.device))
            spent["encoder"] += time.perf_counter() - start
    return eight_bit, x, wholes


def measure_stages(diagnoser: Diagnoser, files: list[Path], batch: int, repeats: int = 3) -> list[Stage]:
    """Median over ``repeats`` (after one warm-up pass) of each stage's time per image, with its counts."""
    clock = _ModuleClock(diagnoser.model)
    runs: list[dict[str, float]] = []
    for repeat in range(repeats + 1):
        clock.spent.clear()
        spent: dict[str, float] = defaultdict(float)
        for offset in range(0, len(files), batch):
            run_batch(diagnoser, files[offset : offset + batch], spent)
        if repeat:
            runs.append({name: spent[name] + clock.spent[name] for name in STAGES})
    flops, nbytes = count_stages(diagnoser, files, batch)
    return [Stage(name, statistics.median(run[name] for run in runs) / len(files) * 1e3, flops[name], nbytes[name])
            for name in STAGES]


def count_stages(diagnoser: Diagnoser, files: list[Path], batch: int) -> tuple[dict[str, float], dict[str, float]]:
    """FLOPs (torch's FlopCounterMode: matmuls and convolutions; the first batch, since every image enters the
    networks at the same size) and minimum bytes per image (pixel traffic averaged over all ``files``)."""
    flops: dict[str, float] = defaultdict(float)
    nbytes: dict[str, float] = defaultdict(float)
    pixels = 0.0
    for file in files:
        image = model_path_load(diagnoser, file)
        pixels += image.stored.size / len(files)
        nbytes["decode"] += (file.stat().st_size + image.stored.nbytes) / len(files)
        nbytes["8-bit"] += (image.stored.nbytes + image.stored.size) / len(files)  # read stored, write uint8
    files = files[:batch]
    batch = len(files)
    eight_bit, x, wholes = run_batch(diagnoser, files, defaultdict(float))
    network = diagnoser.segmenter.network
    seg_input = torch.rand(batch, 1, SEG_SIZE, SEG_SIZE, device=diagnoser.segmenter.device)
    with FlopCounterMode(display=False) as counter, torch.inference_mode():
        network(seg_input)
    flops["segmentation"] = counter.get_total_flops() / batch
    nbytes["segmentation"] = pixels + parameter_bytes(network) / batch + 2 * SEG_SIZE**2 * 4
    nbytes["crop"] = 2 * pixels + (1 + (wholes is not None)) * x[0].numel() * 4  # image + mask, tensors out
    model, runtime = diagnoser.model, diagnoser.runtime
    with torch_encoder(diagnoser), FlopCounterMode(display=False) as counter, torch.inference_mode(), \
            runtime.autocast():
        model(x.to(runtime.device), output_attentions=True)
    counts = {name: sum(ops.values()) for name, ops in counter.get_flop_counts().items()}
    root = type(model).__name__
    for name, stage in _HOOKED.items():
        flops[stage] += counts.get(f"{root}.{name}", 0) / batch
    passes = 1
    if wholes is not None:
        passes = 2
        with torch_encoder(diagnoser), FlopCounterMode(display=False) as counter, torch.inference_mode(), \
                runtime.autocast():
            model.domain_features(wholes.to(runtime.device))
        flops["encoder"] += counter.get_total_flops() / batch
    nbytes["encoder"] = passes * (parameter_bytes(model.sources) / batch + x[0].numel() * 4)
    decoder = model.decoder
    # inputs_embeds: the token-embedding table is never read
    nbytes["LLM"] = (parameter_bytes(decoder) - parameter_bytes(getattr(decoder, "embed_tokens", None))) / batch
    nbytes["head"] = parameter_bytes(model.token_engine, model.neck, model.head) / batch
    return flops, nbytes
