"""The broken-and-odd input corpus through the shipped model: what each kind of input gets, as a table.

    python benchmarks/corpus_table.py [--model DIR] [--keep FOLDER]

Builds the corpus (``tests/corpus/build.py``) from ``../shared/data`` in a temporary folder, runs every entry
through ``load_image`` and ``Diagnoser.predict`` (the engine's public API, as ``pneumollm predict`` does) and
prints one line per entry and the summary the README's reliability section quotes: tried / clean / refused /
not diagnosed / diagnosed. "Clean" means the answer is the one the entry expects (``Entry.expect``).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine.diagnoser import Diagnoser
from engine.errors import PneumoError
from engine.flags import blocking
from engine.io import load_image
from tests.corpus.build import DIAGNOSED, NOT_DIAGNOSED, REFUSED, build, shared_data

# Held back by the model's own checks (the shipped head is for paediatric films; reference-case distance):
# right for a usable file the head was not made for, so it counts as clean for "diagnosed" entries.
MODEL_CHECKS = frozenset({"outside_intended_use", "far_out_of_domain"})


def answer(path: Path, diagnoser: Diagnoser) -> tuple[str, str, set[str]]:
    """(refused | not_diagnosed | diagnosed, one line, the codes of the flags that stopped it)."""
    try:
        result = diagnoser.predict(load_image(path))
    except PneumoError as exc:
        stops = {flag.code for flag in getattr(exc, "flags", ())}
        return (NOT_DIAGNOSED if stops else REFUSED), exc.one_line(), stops
    if not result.decision.diagnosed:
        return NOT_DIAGNOSED, result.decision.describe(), {flag.code for flag in blocking(result.flags)}
    return "diagnosed", f"p={result.probability:.3f} {result.decision.verdict.value}", set()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, help="a head folder (default: the installed or shipped head)")
    parser.add_argument("--keep", type=Path, help="build the corpus here and keep it")
    args = parser.parse_args()
    folder = args.keep or Path(tempfile.mkdtemp(prefix="corpus-"))
    made = build(shared_data(), folder)
    diagnoser = Diagnoser(args.model)
    counts: Counter[str] = Counter()
    clean = 0
    out = sys.stdout
    for entry, path in made:
        got, detail, stops = answer(path, diagnoser)
        held_back = got == NOT_DIAGNOSED and bool(stops) and stops <= MODEL_CHECKS
        ok = (got == entry.expect or (entry.expect == NOT_DIAGNOSED and got == REFUSED)
              or (entry.expect == DIAGNOSED and held_back))
        clean += ok
        counts["held back by the model's checks" if held_back else got] += 1
        mark = "ok " if ok else "GAP"
        out.write(f"{mark} {entry.name:34s} expect {entry.expect:13s} got {got:13s} {detail[:90]}\n")
    held = counts["held back by the model's checks"]
    out.write(f"\ntried {len(made)} | clean {clean} | refused {counts[REFUSED]} | not diagnosed (unsuitable) "
              f"{counts[NOT_DIAGNOSED]} | held back by the model's intended-use/domain checks {held} | "
              f"diagnosed {counts['diagnosed']}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
