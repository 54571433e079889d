"""How often the reading view's "unlike the training cases" hint fires, on folders you name.

    python benchmarks/domain_hint.py [--head resources/default_head] [FOLDER ...]

Not a speed benchmark: it measures the out-of-domain hint (``ReferenceMap.novelty_percentile``) on real
images, so the README's statement about it is a number this command prints. Defaults to the adult
radiographs in ../shared/data/dicom and ../shared/data/samples (outside the shipped head's paediatric domain).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from engine.diagnoser import Diagnoser
from engine.errors import PneumoError
from engine.io.study_scan import iter_candidate_files
from engine.reference_map import ATYPICAL_PERCENTILE, ReferenceMap

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folders", nargs="*", type=Path, default=[DATA / "dicom", DATA / "samples"])
    parser.add_argument("--head", type=Path, default=ROOT / "resources" / "default_head")
    args = parser.parse_args()
    diagnoser = Diagnoser(args.head)
    reference = ReferenceMap.load(args.head)
    hinted = total = 0
    for folder in args.folders:
        for path in iter_candidate_files(folder):
            try:
                result = diagnoser.predict(path, allow_flagged=True)
            except PneumoError as exc:
                print(f"{path.name:40s} not diagnosed: {exc.user_message}")
                continue
            novelty = reference.novelty_percentile(result.embedding)
            hint = novelty is not None and novelty >= ATYPICAL_PERCENTILE
            hinted += hint
            total += 1
            shown = "n/a" if novelty is None else f"{novelty:5.1f}"
            print(f"{path.name[:40]:40s} probability {result.probability:.3f}  novelty percentile {shown}"
                  f"{'  -> hint' if hint else ''}")
    print(f"hint shown for {hinted} of {total} images (percentile >= {ATYPICAL_PERCENTILE:.0f})")


if __name__ == "__main__":
    main()
