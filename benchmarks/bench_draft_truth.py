"""How truthful is each draft generator: the share of its own sentences the clues support, planner vs LLM.

    python benchmarks/bench_draft_truth.py [--images 12] [--llm-images 3] [--seed 0] [--threads 2] [--show]

Real radiographs from ../shared/data (samples, JSRT, covid-v7, DICOM) through the installed (else shipped) head:
the model's score, its zone evidence (occlusion + Grad-CAM) and the image warnings, plus a random but consistent
ILO form per radiograph (seeded; no real readings of these films exist) -> clues -> a draft by each generator.
Each generated sentence is checked by ``engine.ilo.clues.check_sentence`` before any fallback. The LLM arm runs on
the first ``--llm-images`` radiographs only: on a shared 2-core CPU the embedded SmolLM2 takes seconds per
sentence. One run, one line of absolutes and ratios; ``--show`` also prints every LLM sentence with the check's verdict.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch

from engine.diagnoser import Diagnoser
from engine.errors import PneumoError
from engine.ilo.clues import ModelFacts, build_clues, check_sentence
from engine.ilo.codes import PROFUSION, SHAPES, SYMBOLS, ZONES
from engine.ilo.draft import LlmGenerator, PlannerGenerator, draft_report
from engine.ilo.form import IloReading, PleuralPlaques, Sides, SmallOpacities, problems
from engine.ilo.zone_evidence import evidence_for_result

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def random_reading(rng: np.random.Generator) -> IloReading:
    """A consistent ILO form with random entries (resampled until the form's rules hold)."""
    while True:
        parenchymal = bool(rng.random() < 0.5)
        profusion = str(rng.choice(PROFUSION[3:] if parenchymal else PROFUSION[:3]))
        shapes = list(SHAPES)
        zones = tuple(z for z in ZONES if rng.random() < 0.4) or (str(rng.choice(ZONES)),)
        small = (SmallOpacities(str(rng.choice(shapes)), str(rng.choice(shapes)), zones, profusion) if parenchymal
                 else SmallOpacities(profusion=profusion))
        pleural = bool(rng.random() < 0.4)
        plaques, costophrenic = PleuralPlaques(), Sides()
        if pleural:
            side = Sides(right=bool(rng.random() < 0.5), left=True)
            plaques = PleuralPlaques(sites={"chest_wall_in_profile": side},
                                     extent_right=int(rng.integers(1, 4)) if side.right else 0,
                                     extent_left=int(rng.integers(1, 4)),
                                     width_right=str(rng.choice(["a", "b", "c"])) if side.right else "",
                                     width_left=str(rng.choice(["a", "b", "c"])))
            costophrenic = Sides(left=bool(rng.random() < 0.5))
        quality = int(rng.integers(1, 4))
        reading = IloReading(
            quality=quality, quality_comment="" if quality == 1 else "underexposed", parenchymal=parenchymal,
            small=small, large=str(rng.choice(["A", "B"])) if parenchymal and rng.random() < 0.2 else "0",
            pleural=pleural, plaques=plaques, costophrenic=costophrenic,
            symbols=tuple(sorted(rng.choice(list(SYMBOLS), size=int(rng.integers(0, 3)), replace=False))),
            reader="Benchmark", read_on="2026-12-01")
        if not problems(reading):
            return reading


def files(count: int) -> list[Path]:
    found = (sorted((DATA / "samples").glob("*.*"))[:4] + sorted((DATA / "dicom").glob("RG1_UNCR.dcm"))
             + sorted((DATA / "jsrt" / "images").glob("*.png"))[:4]
             + sorted((DATA / "covid-v7" / "images").glob("*"))[:4])
    return found[:count]


def main(images: int, llm_images: int, seed: int, threads: int, show: bool = False) -> None:
    torch.set_num_threads(threads)
    rng = np.random.default_rng(seed)
    diagnoser = Diagnoser(device="cpu")
    llm = LlmGenerator(max_new_tokens=40)
    counts = {"planner": [0, 0], "llm": [0, 0]}  # [supported, generated]
    final_ok, final_total, llm_seconds, cases, skipped = 0, 0, 0.0, 0, []
    for index, path in enumerate(files(images)):
        try:
            result = diagnoser.predict(path, allow_flagged=True)
            try:
                evidence = evidence_for_result(diagnoser, result)[1]
            except PneumoError:
                evidence = None  # fallback crop: no zone clue, the warnings say why
        except PneumoError as exc:
            skipped.append(f"{path.name}: {exc.user_message}")
            continue
        cases += 1
        clues = build_clues(ModelFacts.from_result(result), evidence, random_reading(rng))
        planned = draft_report(clues, PlannerGenerator())
        counts["planner"][0] += planned.generated_supported
        counts["planner"][1] += planned.generated
        if index < llm_images:
            start = time.perf_counter()
            drafted = draft_report(clues, llm)
            llm_seconds += time.perf_counter() - start
            counts["llm"][0] += drafted.generated_supported
            counts["llm"][1] += drafted.generated
            final_ok += sum(s.check.supported for s in drafted.sentences)
            final_total += len(drafted.sentences)
            if show:
                for text in llm.last_sentences:
                    check = check_sentence(text, clues)
                    print(f"{path.name} | {'ok ' if check.supported else 'no '} | {text} | {check.reason}")
    share = {name: (ok / total if total else float("nan")) for name, (ok, total) in counts.items()}
    better = max(share, key=lambda name: -1 if np.isnan(share[name]) else share[name])
    ratio = share["planner"] / share["llm"] if share["llm"] > 0 else float("inf")
    print(f"draft truth | planner {share['planner']:.3f} ({counts['planner'][0]}/{counts['planner'][1]} sentences, "
          f"{cases} radiographs) | llm {share['llm']:.3f} ({counts['llm'][0]}/{counts['llm'][1]} sentences, "
          f"{min(llm_images, cases)} radiographs) | planner/llm {ratio:.1f}x | llm draft after fallback "
          f"{final_ok}/{final_total} supported | llm {llm_seconds / max(1, counts['llm'][1]):.1f} s/sentence | "
          f"more truthful: {better}")
    for line in skipped:
        print(f"skipped {line}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=12)
    parser.add_argument("--llm-images", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--show", action="store_true", help="print each LLM sentence and the check's verdict")
    args = parser.parse_args()
    main(args.images, args.llm_images, args.seed, args.threads, args.show)
