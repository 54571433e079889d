"""Triage throughput on full-size radiographs, the speed-ups' gain with their accuracy check, and a roofline.

    python benchmarks/bench_triage.py [--images 42] [--batch-sizes 8 16] [--model DIR] [--rounds 2]
        [--parts throughput roofline accuracy] [--check-bf16] [--threads 2]

Files: every radiograph in ``../shared/data`` with a long side >= 900 px (the RG1 CR DICOMs 1955x1841 in four
encodings, the 1024x1024 CR DICOMs, the large COVID JPEG), copied under new names until ``--images`` files.
The same run measures:

* triage (``engine.triage.triage_folder``: decoding, segmentation and crops on a second thread, overlapped with the
  encoder and LLM) with the reference networks (``SpeedOptions.reference()``), the previous default (fused conv+BN
  and channels-last in PyTorch), full decoding (+ ONNX Runtime for the frozen convnets, every file decoded in full: the
  default until reduced decoding was switched on) and the default (+ reduced decoding), at each batch size,
  ``--rounds`` times in alternation; the best round of each counts (the machine is shared: the best is the least
  disturbed);
* decode-only and inference-only rates of the fastest path (triage should reach >= 0.8x the slower);
* a roofline per stage (``pipeline_stages.py``, ``roofline.py``);
* the accuracy check of every exact speed-up against the reference: max |delta p| over the full-size files and 12
  JSRT + 12 COVID radiographs, and AUC on a labelled set (20 NORMAL + 20 PNEUMONIA Kermany radiographs; the
  shipped head was trained on that source, so the AUC is a consistency check, not a validation). An exact speed-up
  passes with max |delta p| <= 1e-3 and |delta AUC| <= 0.005; ``--check-bf16`` checks the opt-in CPU bfloat16
  path too (slow where the CPU has no native bf16, e.g. AVX2-only);
* the accuracy check of reduced decoding (the default, against the same networks on full decodes) on the sets of
  ``../shared/data`` (Kermany 224 px, the 8 full-resolution Kermany films, all JSRT films with their nodule labels)
  plus the full-size files and 60 COVID films: it passes with median |delta p| <= 0.01, decisions flipped at the
  head's threshold on <= 1 % of the images, and every labelled set's AUC within 0.005.

Without --model the installed head is used; if none is installed, an untrained embedded head is built (the
speed is the same; the AUC then means nothing). The benchmark runs a copy of the head without its intended-use
restriction: the shipped head is paediatric, and triage refuses the adult DICOMs before any model work, which
would flatter the rate.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from full_size import DATA, benchmark_head, full_size_files, labelled_set, long_side
from pipeline_stages import measure_stages, model_path_load
from roofline import measure_machine, print_roofline
from sklearn.metrics import roc_auc_score

from engine.diagnoser import Diagnoser
from engine.model.speedups import SpeedOptions
from engine.triage import triage_folder

MAX_DELTA_P = 1e-3  # the stated tolerance of a kept exact speed-up
MAX_DELTA_AUC = 0.005
MAX_MEDIAN_DELTA_P = 0.01  # reduced decoding: not exact, held to these
MAX_FLIPS = 0.01
PREVIOUS_DEFAULT = SpeedOptions(onnx_runtime=False, reduced_decode=False)  # before ONNX Runtime: fused conv+BN, NHWC
FULL_DECODING = SpeedOptions(reduced_decode=False)  # the default before reduced decoding: ONNX Runtime, full decodes


def probabilities(diagnoser: Diagnoser, files: list[Path], batch_size: int = 8) -> np.ndarray:
    """Each file as the diagnoser's model path decodes it (reduced or not), in batches."""
    values = []
    for offset in range(0, len(files), batch_size):
        images = [model_path_load(diagnoser, file) for file in files[offset : offset + batch_size]]
        values += [r.probability for r in diagnoser.predict_batch(images, allow_flagged=True)]
    return np.array(values)


def triage_rate(diagnoser: Diagnoser, folder: Path, work: Path, batch_size: int) -> float:
    out = work / "out.csv"
    out.unlink(missing_ok=True)  # triage resumes from an earlier CSV: start fresh every time
    return triage_folder(folder, out, diagnoser, batch_size=batch_size).images_per_second


def accuracy_line(name: str, reference: tuple[np.ndarray, np.ndarray], candidate: tuple[np.ndarray, np.ndarray],
                  labels: np.ndarray) -> tuple[str, bool]:
    (ref_check, ref_labelled), (check, labelled) = reference, candidate
    delta = float(np.max(np.abs(np.r_[check - ref_check, labelled - ref_labelled])))
    auc_ref, auc = roc_auc_score(labels, ref_labelled), roc_auc_score(labels, labelled)
    passed = delta <= MAX_DELTA_P and abs(auc - auc_ref) <= MAX_DELTA_AUC
    verdict = "PASS" if passed else "FAIL"
    return (f"accuracy {name}: max |delta p| {delta:.2e} over {len(check) + len(labelled)} images | AUC "
            f"{auc:.4f} vs reference {auc_ref:.4f} on {len(labels)} labelled | {verdict} "
            f"(tolerance |dp| <= {MAX_DELTA_P:g}, |dAUC| <= {MAX_DELTA_AUC:g})"), passed


def throughput(variants: dict[str, Diagnoser], folder: Path, files: list[Path], work: Path, batch_sizes: list[int],
               rounds: int, note: str) -> None:
    """Triage rates, alternating the variants so that all see the same machine; then the default path's
    decode-only and inference-only rates."""
    best: dict[tuple[str, int], float] = {}
    for _ in range(rounds):
        for batch_size in batch_sizes:
            for name, diagnoser in variants.items():
                rate = triage_rate(diagnoser, folder, work, batch_size)
                best[(name, batch_size)] = max(best.get((name, batch_size), 0.0), rate)
    first = batch_sizes[0]
    base, previous = best[("reference", first)], best[("previous default", first)]
    parts = [f"reference b{first} {base:5.2f} img/s", f"previous default b{first} {previous:5.2f} img/s"] + [
        f"{name} b{b} {best[(name, b)]:5.2f} img/s = {best[(name, b)] / previous:4.2f}x the previous default"
        for name in variants if name not in ("reference", "previous default") for b in batch_sizes]
    for name in ("full decoding", "default"):
        top = max(best[(name, b)] for b in batch_sizes)
        print(f"triage{note}, {name}: aim >= 10 img/s {'met' if top >= 10 else 'NOT met'} ({top:5.2f}), >= 3x the "
              f"previous default {'met' if top >= 3 * previous else 'NOT met'} ({top / previous:4.2f}x)")
    print(f"triage{note}: " + " | ".join(parts))

    fast = variants["default"]
    start = time.perf_counter()
    decoded = []
    for file in files:
        image = model_path_load(fast, file)
        image.model_uint8  # noqa: B018
        decoded.append(image)
    decode_rate = len(files) / (time.perf_counter() - start)
    start = time.perf_counter()
    for offset in range(0, len(decoded), first):
        fast.predict_batch(decoded[offset : offset + first], allow_flagged=True)
    infer_rate = len(files) / (time.perf_counter() - start)
    slower = min(decode_rate, infer_rate)
    rate = best[("default", first)]
    print(f"default b{first}: decode-only {decode_rate:5.2f} img/s | inference-only {infer_rate:5.2f} img/s "
          f"| triage {rate:5.2f} img/s = {rate / slower:4.2f}x the slower (aim >= 0.8)")


def reduced_decoding_check(diagnoser: Diagnoser, full: Diagnoser, sets: dict[str, tuple[list[Path], np.ndarray | None]]
                           ) -> bool:
    """The default (reduced decodes) against the same networks on full decodes: median |dp|, flips, AUC per set."""
    threshold, _ = diagnoser.threshold_in_force()
    deltas, touched, flips, passed = [], [], 0, True
    for name, (files, labels) in sets.items():
        reduced, reference = probabilities(diagnoser, files), probabilities(full, files)
        delta = np.abs(reduced - reference)
        deltas.append(delta)
        touched.append(np.array([model_path_load(diagnoser, file).reduction > 1 for file in files]))
        set_flips = int(np.sum((reduced >= threshold) != (reference >= threshold)))
        flips += set_flips
        line = (f"  {name}: {len(files)} images ({int(touched[-1].sum())} decoded reduced), median |dp| "
                f"{np.median(delta):.4f}, max {delta.max():.4f}, {set_flips} flips")
        if labels is not None and 0 < labels.sum() < len(labels):
            auc, auc_full = roc_auc_score(labels, reduced), roc_auc_score(labels, reference)
            ok = abs(auc - auc_full) <= MAX_DELTA_AUC
            passed &= ok
            line += f", AUC {auc:.4f} vs {auc_full:.4f} ({'ok' if ok else 'outside tolerance'})"
        print(line)
    every, reduced_only = np.concatenate(deltas), np.concatenate(touched)
    share = flips / len(every)
    passed &= float(np.median(every)) <= MAX_MEDIAN_DELTA_P and share <= MAX_FLIPS
    print(f"  the {int(reduced_only.sum())} images decoded reduced alone: median |dp| "
          f"{np.median(every[reduced_only]) if reduced_only.any() else 0.0:.4f}")
    print(f"accuracy reduced decoding (the default; vs full decodes, same networks): median |dp| "
          f"{np.median(every):.4f} over {len(every)} images | decisions flipped at p = {threshold:.3f}: {flips} "
          f"({share:.1%}) | "
          f"{'PASS' if passed else 'FAIL'} (tolerance median |dp| <= {MAX_MEDIAN_DELTA_P:g}, flips <= "
          f"{MAX_FLIPS:.0%}, |dAUC| <= {MAX_DELTA_AUC:g} per labelled set)")
    return passed


def reduced_decoding_sets(sources: list[Path]) -> dict[str, tuple[list[Path], np.ndarray | None]]:
    kermany, kermany_labels = labelled_set()
    normal = sorted((DATA / "kermany" / "fullres-dev" / "NORMAL").glob("*.jpeg"))
    abnormal = sorted((DATA / "kermany" / "fullres-dev" / "PNEUMONIA").glob("*.jpeg"))
    fullres, fullres_labels = normal + abnormal, np.r_[np.zeros(len(normal)), np.ones(len(abnormal))]
    jsrt_labels = {}
    labels_csv = DATA / "jsrt" / "labels.csv"
    if labels_csv.exists():
        for line in labels_csv.read_text().splitlines()[1:]:
            image, finding = line.split(",")[:2]
            jsrt_labels[image] = 1.0 if finding.strip() == "nodule" else 0.0
    jsrt = [path for path in sorted((DATA / "jsrt" / "images").glob("*.png")) if path.name in jsrt_labels]
    return {
        "full-size files": (sources, None),
        "Kermany 224 px (pneumonia)": (kermany, kermany_labels),
        "Kermany full-resolution films (pneumonia)": (fullres, fullres_labels),
        "JSRT (nodule labels: a consistency check)": (jsrt, np.array([jsrt_labels[p.name] for p in jsrt])),
        "COVID-v7 (all COVID-19: no AUC)": (sorted((DATA / "covid-v7" / "images").glob("*.png"))[:60], None),
    }


def main(images: int, model: Path | None, batch_sizes: list[int], threads: int, rounds: int, parts: set[str],
         check_bf16: bool) -> None:
    torch.set_num_threads(threads)
    work = Path(tempfile.mkdtemp(prefix="bench-triage-"))
    try:
        sources = full_size_files()
        folder = work / "in"
        folder.mkdir()
        for index in range(images):
            source = sources[index % len(sources)]
            shutil.copy(source, folder / f"{index:03d}_{source.name}")
        files = sorted(folder.iterdir())
        sides = [long_side(path) for path in sources]
        print(f"{len(files)} full-size files ({len(sources)} distinct radiographs, long side "
              f"{min(sides)}-{max(sides)} px, median {statistics.median(sides):.0f}), {threads} threads")
        machine = measure_machine()
        head, note = benchmark_head(model, work)
        reference = Diagnoser(head, speed=SpeedOptions.reference())
        previous = Diagnoser(head, speed=PREVIOUS_DEFAULT)
        full = Diagnoser(head, speed=FULL_DECODING)
        default = Diagnoser(head, speed=SpeedOptions())
        for diagnoser in (reference, previous, full, default):
            diagnoser.predict(files[0], allow_flagged=True)

        if "throughput" in parts:
            throughput({"reference": reference, "previous default": previous, "full decoding": full,
                        "default": default}, folder, files, work, batch_sizes, rounds, note)
        if "roofline" in parts:
            first = batch_sizes[0]
            print_roofline(measure_stages(default, files[: 2 * first], first, repeats=2), machine,
                           f"roofline, default (reduced decoding), batch {first}, full-size files")
        if "accuracy" not in parts:
            return
        # -- accuracy check (and each variant's time over the same images, as a second speed ratio) -----
        check = sources + sorted((DATA / "jsrt" / "images").glob("*.png"))[:12] \
            + sorted((DATA / "covid-v7" / "images").glob("*.png"))[:12]
        labelled, labels = labelled_set()
        variants = {"reference": reference, "fuse_conv_bn+channels_last (previous default)": previous,
                    "+onnx_runtime (full decodes)": full}
        if check_bf16:
            bf16 = SpeedOptions(cpu_bfloat16=True, reduced_decode=False)
            variants["+cpu_bfloat16 (opt-in)"] = Diagnoser(head, speed=bf16)
        results, seconds = {}, {}
        for name, diagnoser in variants.items():
            start = time.perf_counter()
            results[name] = (probabilities(diagnoser, check), probabilities(diagnoser, labelled))
            seconds[name] = time.perf_counter() - start
            if name != "reference":
                line, _ = accuracy_line(name, results["reference"], results[name], labels)
                print(f"{line} | {seconds['reference'] / seconds[name]:4.2f}x the reference's speed")
        reduced_decoding_check(default, full, reduced_decoding_sets(sources))
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=42)
    parser.add_argument("--model", type=Path)
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[8, 16])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--parts", nargs="+", default=["throughput", "roofline", "accuracy"],
                        choices=["throughput", "roofline", "accuracy"])
    parser.add_argument("--check-bf16", action="store_true",
                        help="also check the opt-in CPU bfloat16 path (slow on CPUs without native bf16)")
    args = parser.parse_args()
    main(args.images, args.model, args.batch_sizes, args.threads, args.rounds, set(args.parts), args.check_bf16)
