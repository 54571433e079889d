"""The evaluate page's figures with what they rest on: every metric beside its n, and a plain warning when a
split is too small for its percentages to mean much (a 100 % sensitivity on 3 positive images is no evidence)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

from training.metrics import describe_split, small_split_warning, split_too_small, wilson_interval
from viewer.finetune.common import METRICS, plural


@dataclass(frozen=True)
class Split:
    """How many images a row's figures rest on; ``positives`` is None for runs from before it was kept."""

    n: int
    positives: int | None = None

    @property
    def negatives(self) -> int | None:
        return None if self.positives is None else self.n - self.positives

    @property
    def tiny(self) -> bool:
        return split_too_small(self.n, self.positives)

    def describe(self, positive: str, negative: str) -> str:
        """'n=6: 3 abnormal, 3 normal' (or 'n=6' when the classes were not counted)."""
        return describe_split(self.n, self.positives, positive, negative)


def _denominator(key: str, split: Split) -> int | None:
    return {"sensitivity": split.positives, "specificity": split.negatives, "accuracy": split.n}.get(key)


def metric_cells(metrics: Mapping[str, float], split: Split) -> list[tuple[str, str]]:
    """(cell text, tooltip) per metric: '100.0 (3/3)' with its 95 % Wilson interval; AUC with its n."""
    cells = []
    for key, _ in METRICS:
        value = float(metrics.get(key, float("nan")))
        denominator = _denominator(key, split)
        if math.isnan(value):
            cells.append(("n/a", f"{key}: not defined on this split ({split.describe('positive', 'negative')})"))
        elif denominator:
            hits = round(value / 100 * denominator)  # the percentage was hits / denominator: exact back
            low, high = wilson_interval(hits, denominator)
            cells.append((f"{value:.1f} ({hits}/{denominator})",
                          f"{key} {value:.1f} % = {hits} of {denominator}; 95 % Wilson interval "
                          f"{low:.0f}–{high:.0f} %"))
        elif key == "auc":
            cells.append((f"{value:.1f} (n={split.n})", f"AUC on {plural(split.n, 'image')}"))
        else:
            cells.append((f"{value:.1f}", f"{key} in percent ({split.describe('positive', 'negative')})"))
    return cells


def caution(where: str, split: Split, metrics: Mapping[str, float], positive: str, negative: str) -> str:
    """'' for a split big enough; else why its figures are not reliable (``training.metrics``) and what to do."""
    text = small_split_warning(where, split.n, split.positives, float(metrics.get("sensitivity", float("nan"))),
                               positive, negative)
    return text + " Label more images, or read the cross-validation rows if there are any." if text else ""
