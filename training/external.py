"""How a head behaves on radiographs from elsewhere: the adult JSRT and covid-chestxray sets in ../shared/data.

They are outside a paediatric head's intended use and carry no tags that would say so (PNG), so the questions are:
how often does the head still give a confident verdict, how often does the out-of-domain hint warn, and how much
does its probability move across resolutions and encodings (``engine.consistency``)?
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from engine.consistency import consistency
from engine.diagnoser import Diagnoser
from engine.errors import PneumoError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")


def external_paths(shared_data: Path, *, limit: int | None = None, seed: int = 0) -> list[Path]:
    """The adult radiographs (512 px long side): JSRT and covid-v7, a seeded sample of ``limit``."""
    paths = sorted(p for folder in (shared_data / "jsrt" / "images", shared_data / "covid-v7" / "images")
                   if folder.is_dir() for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    if limit is not None and limit < len(paths):
        keep = np.sort(np.random.default_rng(seed).permutation(len(paths))[:limit])
        paths = [paths[i] for i in keep]
    return paths


def external_report(diagnoser: Diagnoser, paths: list[Path], *, consistency_images: int = 150,
                    seed: int = 0) -> dict[str, Any]:
    """Verdicts, out-of-domain warnings and consistency of ``diagnoser`` on ``paths``."""
    verdicts: dict[str, int] = {}
    novelty: list[float] = []
    warned = 0
    confident = 0  # a flagged / not-flagged verdict with no out-of-domain warning beside it
    for outcome in diagnoser.iter_diagnose(paths, batch_size=8):
        if outcome.result is None:
            key = "unreadable" if outcome.meta is None else "not diagnosed"
            verdicts[key] = verdicts.get(key, 0) + 1
            continue
        result = outcome.result
        verdicts[result.decision.verdict.value] = verdicts.get(result.decision.verdict.value, 0) + 1
        hinted = any(flag.code in ("out_of_domain", "far_out_of_domain") for flag in result.warnings)
        warned += hinted
        confident += result.decision.diagnosed and not hinted
        if result.novelty_percentile is not None:
            novelty.append(result.novelty_percentile)
    n = sum(verdicts.values())
    rng = np.random.default_rng(seed)
    sample = [paths[i] for i in np.sort(rng.permutation(len(paths))[:consistency_images])]
    try:
        moved = consistency(diagnoser, sample) if consistency_images > 0 else None
    except PneumoError:
        moved = None
    return {"n": n, "verdicts": verdicts, "out_of_domain_warned": warned,  # NOTE or REVIEW level
            "out_of_domain_fraction": round(warned / n, 4) if n else None,
            "confident_verdicts": confident,
            "novelty_median": round(float(np.median(novelty)), 1) if novelty else None, "consistency": moved}
