"""The DICOM node end to end: N real radiographs sent with a storescu-like SCU (pynetdicom, one association) to
``PacsNode`` on 127.0.0.1, triaged as they arrive — against the Diagnoser's own throughput on the same files.

    python benchmarks/bench_pacs.py [--images 16] [--model DIR] [--batch-size 4] [--threads 2]

Prints instances/s received, the time from receipt to result (median, 95th percentile) and the ratio of
end-to-end throughput to ``Diagnoser.iter_diagnose`` on the same files (aim >= 0.8). The files are relabelled
copies (fresh UIDs) of the real CR radiographs in ``shared/data/dicom`` (JPEG 2000 and uncompressed,
1955x1841). Without --model an untrained embedded head is measured (speed does not depend on the weights).
Both sides run the Diagnoser on a thread other than the main one: OpenMP thread settings are per thread, and a
main-thread measurement compared with the node's worker thread measured different thread counts, not the node.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from pydicom import dcmread
from pydicom.uid import generate_uid

from engine.diagnoser import Diagnoser
from engine.pacs.forward import store_files
from engine.pacs.node import NodeConfig, PacsNode
from engine.pacs.peer import Destination

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


@dataclass(frozen=True)
class Args:
    images: int = 16
    model: Path | None = None
    batch_size: int = 4
    threads: int = 2


def untrained_head(folder: Path) -> Path:
    """An embedded-profile head with untrained weights: the real model's cost, no trained head needed."""
    from engine.model.checkpoint import save_checkpoint
    from engine.model.config import ModelConfig, PreprocessConfig
    from engine.model.head_card import HeadCard
    from engine.model.pneumollm import build_model, frozen_fingerprints

    model = build_model(ModelConfig())
    card = HeadCard(profile="embedded", model=model.config, preprocess=PreprocessConfig(),
                    labels=("NORMAL", "PNEUMONIA"), positive_index=1, threshold=0.5, temperature=1.0,
                    fingerprints=frozen_fingerprints(model), training={"data": "untrained (benchmark)", "images": 0})
    save_checkpoint(folder, model.trained_state_dict(), card)
    return folder


def real_copies(folder: Path, count: int) -> list[Path]:
    sources = [DATA / "dicom" / "RG1_J2KI.dcm", DATA / "dicom" / "RG1_UNCR.dcm"]
    folder.mkdir(parents=True)
    paths = []
    for index in range(count):
        ds = dcmread(sources[index % len(sources)])
        ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
        ds.StudyInstanceUID, ds.SeriesInstanceUID = generate_uid(), generate_uid()
        path = folder / f"{index:03d}.dcm"
        ds.save_as(path, enforce_file_format=True)
        paths.append(path)
    return paths


def own_rate(diagnoser: Diagnoser, files: list[Path], batch_size: int) -> float:
    """``Diagnoser.iter_diagnose`` on the files (decode overlapped with the model), images per second — on a
    thread of its own, as the node's worker runs (OpenMP thread settings are per thread)."""
    outcomes: list = []
    start = time.perf_counter()
    thread = threading.Thread(target=lambda: outcomes.extend(diagnoser.iter_diagnose(files, batch_size)))
    thread.start()
    thread.join()
    errors = {o.error.one_line() for o in outcomes if o.error is not None}
    if errors:
        raise SystemExit(f"the Diagnoser refused some copies: {'; '.join(sorted(errors))}")
    return len(files) / (time.perf_counter() - start)


def main(args: Args) -> None:
    torch.set_num_threads(args.threads)
    work = Path(tempfile.mkdtemp(prefix="bench-pacs-"))
    try:
        files = real_copies(work / "in", args.images)
        # Speed does not depend on the trained weights, and an installed head's intended use may refuse these
        # adult radiographs before the model runs: by default an untrained embedded head is measured.
        if args.model:
            diagnoser, note = Diagnoser(args.model), ""
        else:
            diagnoser, note = Diagnoser(untrained_head(work / "head")), " (untrained embedded head: speed only)"
        list(diagnoser.iter_diagnose(files[:2], args.batch_size))  # warm-up
        before = own_rate(diagnoser, files, args.batch_size)
        node = PacsNode(NodeConfig(store=work / "store", port=0, batch_size=args.batch_size), diagnoser)
        node.start()
        try:
            peer = Destination("127.0.0.1", node.server.address[1], node.server.ae_title)
            sent_at = time.time()  # wall clock: the queue stamps receipts and results with time.time()
            statuses = store_files(peer, files)  # one association, as storescu does; triage starts meanwhile
            if statuses != [0] * len(files):
                raise SystemExit(f"some instances were not stored: {statuses}")
            if not node.wait_idle(timeout=3600):
                raise SystemExit("the node did not finish within an hour")
            items = node.queue.items("newest")
        finally:
            node.stop()
        undiagnosed = [f"{i.state}: {i.error}" for i in items if i.state != "done" or i.probability is None]
        if undiagnosed:
            raise SystemExit(f"the node did not diagnose every instance: {undiagnosed[:3]}")
        after = own_rate(diagnoser, files, args.batch_size)  # again: on a shared machine the load drifts
        own = (before + after) / 2
        received = [item.received_at for item in items]
        latency = np.array([item.finished_at - item.received_at for item in items if item.finished_at])
        receive_rate = len(items) / max(1e-9, max(received) - sent_at)
        end_to_end = len(items) / max(1e-9, max(i.finished_at or 0 for i in items) - sent_at)
        print(f"{len(files)} radiographs{note} | received {receive_rate:6.2f} inst/s | receipt to result "
              f"median {np.median(latency):5.2f} s, p95 {np.percentile(latency, 95):5.2f} s | end to end "
              f"{end_to_end:5.2f} img/s vs Diagnoser {own:5.2f} img/s (before {before:.2f}, after {after:.2f}) = "
              f"{end_to_end / own:4.2f}x (aim >= 0.8)")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=Args.images)
    parser.add_argument("--model", type=Path)
    parser.add_argument("--batch-size", type=int, default=Args.batch_size)
    parser.add_argument("--threads", type=int, default=Args.threads)
    parsed = parser.parse_args()
    main(Args(parsed.images, parsed.model, parsed.batch_size, parsed.threads))
