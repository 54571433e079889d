"""Every entry of the broken-and-odd corpus through the engine's public API (``tests/corpus/build.py``).

No exception escapes; unreadable input is a typed error with one line; readable-but-unsuitable input is
never silently diagnosed; usable odd encodings are diagnosed; no source file is changed by reading it.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from engine.diagnoser import Diagnoser
from engine.errors import PneumoError
from engine.flags import blocking
from engine.io import load_image
from tests.corpus.build import DIAGNOSED, ENTRIES, NOT_DIAGNOSED, REFUSED, build
from tests.head_factory import make_tiny_head

ROOT_IGNORES_PERMISSIONS = hasattr(os, "geteuid") and os.geteuid() == 0


@pytest.fixture(scope="module")
def corpus(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> list:
    return build(shared_data, tmp_path_factory.mktemp("corpus"))


@pytest.fixture(scope="module")
def diagnoser(segmenter, tmp_path_factory: pytest.TempPathFactory) -> Diagnoser:
    return Diagnoser(make_tiny_head(tmp_path_factory.mktemp("head"), with_map=False), segmenter=segmenter)


def _digest(path: Path) -> str | None:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else None
    except OSError:
        return None


def outcome(path: Path, diagnoser: Diagnoser) -> tuple[str, str]:
    """(refused | not_diagnosed | diagnosed, the one line or the decision) for one file."""
    try:
        result = diagnoser.predict(load_image(path))
    except PneumoError as exc:
        message = exc.one_line()
        assert "\n" not in message and len(message) < 240, message
        # Refused at load with blocking flag codes (CT, lateral, ...) counts as "not diagnosed".
        return (NOT_DIAGNOSED if getattr(exc, "flags", ()) else REFUSED), message
    if not result.decision.diagnosed:
        assert blocking(result.flags, review_allowed=bool(result.decision.review_overridden)), result.flags
        return NOT_DIAGNOSED, result.decision.describe()
    return DIAGNOSED, f"p={result.probability:.3f}"


@pytest.mark.parametrize("index", range(len(ENTRIES)), ids=[entry.name for entry in ENTRIES])
def test_every_corpus_entry_gets_a_true_answer(index: int, corpus: list, diagnoser: Diagnoser,
                                               capfd: pytest.CaptureFixture[str]) -> None:
    entry, path = corpus[index]
    if entry.name == "bad_no_permission.png" and ROOT_IGNORES_PERMISSIONS:
        pytest.skip("running as root: file permissions are not enforced")
    before = _digest(path)
    got, detail = outcome(path, diagnoser)
    allowed = {REFUSED, NOT_DIAGNOSED} if entry.expect == NOT_DIAGNOSED else {entry.expect}
    assert got in allowed, f"{entry.name} ({entry.what}): expected {entry.expect}, got {got}: {detail}"
    assert _digest(path) == before, "reading a file must never change it"
    # Library tracebacks and native decoder chatter are the engine's to route, not the user's to read.
    err = capfd.readouterr().err
    assert "Traceback" not in err and "ERROR" not in err, err[:500]
