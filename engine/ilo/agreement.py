"""Inter-reader agreement on the ILO readings kept in the store: quadratic weighted kappa between every pair of
readers, and between each reader and the model's suggestion, with n and a bootstrap interval.

Scales: the 12-point profusion scale (0/- ... 3/+, both readings need a profusion), the major category (0-3; 2A
"no" counts as 0) and "abnormal" (category 1 or more, the binary question a binary head answers: quadratic
weighting on two categories is Cohen's plain kappa). The model is compared on the major category when its head has
ordinal grades (the suggested grade stored with each reading) and on "abnormal" when it flagged the image or not.

Each reader's latest version per image counts (an amendment replaces the earlier one). Readers are named by their
reader id, or by a keyed pseudonym of their name (``reader-…``, HMAC with this installation's key), and images by
their hashed instance key: nothing here identifies a patient or a reader's name.

``quadratic_weighted_kappa`` equals scikit-learn's ``cohen_kappa_score(a, b, weights="quadratic",
labels=range(k))`` (the test checks it); it is written out here so that the engine does not import scikit-learn.
"""

from __future__ import annotations

import csv
import io
import itertools
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from engine.ilo.double_reading import Case, major_category, profusion_step
from engine.ilo.store import StoredReading
from engine.paths import write_atomic

MODEL = "model"  # the model's rater name in the table

# scale -> (number of ordered categories, a reading's value on it)
SCALES: dict[str, tuple[int, Callable[[StoredReading], int | None]]] = {
    "12-point profusion": (12, lambda s: profusion_step(s.reading)),
    "major category": (4, lambda s: major_category(s.reading)),
    "abnormal (category >= 1)": (2, lambda s: None if major_category(s.reading) is None
                                 else int(major_category(s.reading) >= 1)),
}
# scale -> the model's value on it, from what was stored with a reading; the model has no 12-point value.
MODEL_SCALES: dict[str, Callable[[StoredReading], int | None]] = {
    "major category": lambda s: int(s.model_category) if s.model_category in ("0", "1", "2", "3") else None,
    "abnormal (category >= 1)": lambda s: None if s.model_flagged is None else int(s.model_flagged),
}
TABLE_COLUMNS = ("scale", "rater_a", "rater_b", "n", "kappa", "ci_low", "ci_high")
# The table's headings as people read it (the CLI's text and the viewer's dialog), aligned with ``AgreementRow.cells``.
TABLE_HEADER = ("scale", "rater A", "rater B", "n", "kappa (quadratic)", "95% bootstrap interval")
RATING_COLUMNS = ("instance_key", "rater", "role", "profusion", "category", "pleural", "model_category",
                  "model_flagged")


def quadratic_weighted_kappa(a: np.ndarray, b: np.ndarray, categories: int) -> float | None:
    """Cohen's kappa with quadratic weights on ``categories`` ordered values (0 .. categories-1); None when it is
    undefined (no pairs, or no disagreement to expect: both raters always gave the same single value)."""
    a, b = np.asarray(a, dtype=int), np.asarray(b, dtype=int)
    if a.size == 0:
        return None
    observed = np.bincount(a * categories + b, minlength=categories * categories).reshape(categories, categories)
    expected = np.outer(observed.sum(axis=1), observed.sum(axis=0)) / a.size
    index = np.arange(categories)
    weights = (index[:, None] - index[None, :]) ** 2
    chance = float((weights * expected).sum())
    if chance == 0.0:
        return None
    return 1.0 - float((weights * observed).sum()) / chance


def bootstrap_interval(a: np.ndarray, b: np.ndarray, categories: int, *, rounds: int = 2000, level: float = 0.95,
                       seed: int = 0) -> tuple[float, float] | None:
    """Percentile bootstrap interval of the kappa over images (pairs resampled with replacement, a fixed seed so
    a report is reproducible); None when fewer than 2 pairs or no resample has a defined kappa."""
    a, b = np.asarray(a, dtype=int), np.asarray(b, dtype=int)
    if a.size < 2 or rounds < 1:
        return None
    rng = np.random.default_rng(seed)
    values = [k for k in (quadratic_weighted_kappa(a[i], b[i], categories)
                          for i in rng.integers(0, a.size, size=(rounds, a.size))) if k is not None]
    if not values:
        return None
    tail = (1.0 - level) / 2 * 100
    low, high = np.percentile(values, [tail, 100 - tail])
    return float(low), float(high)


@dataclass(frozen=True)
class AgreementRow:
    scale: str
    rater_a: str
    rater_b: str  # another reader, or MODEL
    n: int  # images both rated on this scale
    kappa: float | None  # None: undefined (see quadratic_weighted_kappa)
    interval: tuple[float, float] | None

    def to_json(self) -> dict[str, object]:
        return {"scale": self.scale, "rater_a": self.rater_a, "rater_b": self.rater_b, "n": self.n,
                "kappa": None if self.kappa is None else round(self.kappa, 4),
                "ci_low": None if self.interval is None else round(self.interval[0], 4),
                "ci_high": None if self.interval is None else round(self.interval[1], 4)}

    def cells(self) -> tuple[str, ...]:
        """The row as the table shows it."""
        kappa = "undefined" if self.kappa is None else f"{self.kappa:.3f}"
        interval = "" if self.interval is None else f"{self.interval[0]:.3f} to {self.interval[1]:.3f}"
        return self.scale, self.rater_a, self.rater_b, str(self.n), kappa, interval


def rater_name(stored: StoredReading, key: bytes | None = None) -> str:
    """The reader as the table names them: their reader id, else a keyed pseudonym of their name."""
    if stored.reader_id.strip():
        return stored.reader_id.strip()
    from engine.io.deidentify import installation_key, pseudonym

    return "reader-" + pseudonym(stored.reader_key, key if key is not None else installation_key(), length=8)


def agreement_table(cases: Iterable[Case], *, rounds: int = 2000, seed: int = 0, key: bytes | None = None
                    ) -> list[AgreementRow]:
    """Every pair of readers, then every reader against the model, on each scale where they share an image."""
    cases = list(cases)
    names: dict[str, str] = {}  # reader key -> name in the table
    for case in cases:
        for stored in case.readings:
            names.setdefault(stored.reader_key, rater_name(stored, key))
    rows: list[AgreementRow] = []
    readers = sorted(names, key=names.__getitem__)

    def row(scale: str, categories: int, rater_a: str, rater_b: str, pairs: list[tuple[int, int]]) -> None:
        if not pairs:
            return
        a, b = (np.array(side) for side in zip(*pairs, strict=True))
        rows.append(AgreementRow(scale, rater_a, rater_b, len(pairs), quadratic_weighted_kappa(a, b, categories),
                                 bootstrap_interval(a, b, categories, rounds=rounds, seed=seed)))

    for first, second in itertools.combinations(readers, 2):
        for scale, (categories, value) in SCALES.items():
            pairs = []
            for case in cases:
                x, y = case.by(first), case.by(second)
                if x is not None and y is not None and value(x) is not None and value(y) is not None:
                    pairs.append((value(x), value(y)))
            row(scale, categories, names[first], names[second], pairs)
    for reader in readers:
        for scale, model_value in MODEL_SCALES.items():
            categories, value = SCALES[scale]
            pairs = [(value(s), model_value(s)) for s in (case.by(reader) for case in cases)
                     if s is not None and value(s) is not None and model_value(s) is not None]
            row(scale, categories, names[reader], MODEL, pairs)
    return rows


def ratings_rows(cases: Iterable[Case], key: bytes | None = None) -> list[dict[str, str]]:
    """The ratings behind the table, one row per image and reader: hashed image key, rater id, values."""
    out = []
    for case in cases:
        for stored in case.readings:
            category = major_category(stored.reading)
            out.append({"instance_key": case.instance_key, "rater": rater_name(stored, key),
                        "role": case.role_of(stored), "profusion": stored.reading.small.profusion or "",
                        "category": "" if category is None else str(category),
                        "pleural": "" if stored.reading.pleural is None else "yes" if stored.reading.pleural
                        else "no", "model_category": stored.model_category or "",
                        "model_flagged": "" if stored.model_flagged is None else "yes" if stored.model_flagged
                        else "no"})
    return out


def format_table(rows: list[AgreementRow]) -> str:
    """The table as aligned text (what ``pneumollm readings --agreement`` prints)."""
    cells = [TABLE_HEADER, *(row.cells() for row in rows)]
    widths = [max(len(line[i]) for line in cells) for i in range(len(TABLE_HEADER))]
    return "\n".join("  ".join(value.ljust(width) for value, width in zip(line, widths, strict=True)).rstrip()
                     for line in cells)


def write_rows_csv(path: str | Path, columns: tuple[str, ...], rows: Iterable[dict[str, object]]) -> Path:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows({column: "" if row[column] is None else row[column] for column in columns} for row in rows)
    write_atomic(Path(path), buffer.getvalue().encode("utf-8"))
    return Path(path)


def write_table_csv(path: str | Path, rows: list[AgreementRow]) -> Path:
    """The agreement table as CSV: rater ids and numbers only."""
    return write_rows_csv(path, TABLE_COLUMNS, (row.to_json() for row in rows))


def write_ratings_csv(path: str | Path, cases: Iterable[Case], key: bytes | None = None) -> Path:
    """The ratings behind the table as CSV: hashed image keys, rater ids and the ILO values only."""
    return write_rows_csv(path, RATING_COLUMNS, ratings_rows(cases, key))
