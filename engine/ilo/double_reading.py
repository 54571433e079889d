"""Double reading with adjudication, as screening programmes run it: two independent readers, a third when the two
disagree by the programme's rule.

A reading belongs to a reader (``engine.ilo.store.reader_key``: the reader id when given, else the name). For one
image, ``case_of(history)`` keeps each reader's latest version, in the order the readers first signed: the first two
are the double reading, a third reader's is the adjudication. A reader who has not yet signed the image reads it
*blind* (``blind_for``): the others' readings and the model's result stay hidden until they sign.

The programme's rule (``DiscordanceRule``; default: the major category differs, or the profusion differs by more
than one subcategory of the 12-point scale, or one reader records pleural findings and the other does not) decides
when two readings disagree; ``load_rule`` reads a programme's own from JSON (``double_reading_rule.json`` in the
data folder, or a path given), ``save_rule`` writes it (the viewer's Settings).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, fields
from enum import Enum
from pathlib import Path
from typing import Any

from engine.errors import PneumoError
from engine.ilo.codes import PROFUSION
from engine.ilo.form import IloReading
from engine.ilo.store import ReadingStore, StoredReading, reader_key
from engine.paths import data_dir, write_atomic

RULE_FILE = "double_reading_rule.json"


def major_category(reading: IloReading) -> int | None:
    """The major profusion category 0-3; 0 under 2A "no" with the profusion left unanswered (the form skips 2B);
    None when not known."""
    if reading.category is not None:
        return reading.category
    return 0 if reading.parenchymal is False else None


def profusion_step(reading: IloReading) -> int | None:
    """The profusion's place on the 12-point scale (0/- is 0 ... 3/+ is 11); None when unanswered."""
    return None if reading.small.profusion is None else PROFUSION.index(reading.small.profusion)


@dataclass(frozen=True)
class DiscordanceRule:
    """When two readings of one image disagree (the programme's rule); each part can be switched off."""

    major_category: bool = True  # the major categories (0, 1, 2, 3) differ
    max_subcategory_steps: int | None = 1  # the profusions differ by more than this many subcategories; None: off
    pleural: bool = True  # one reading records pleural abnormality, the other does not

    def reasons(self, first: IloReading, second: IloReading) -> tuple[str, ...]:
        """Why the two readings disagree, one line each; empty when they agree by this rule."""
        out: list[str] = []
        a, b = major_category(first), major_category(second)
        if self.major_category and a is not None and b is not None and a != b:
            out.append(f"major category differs ({a} vs {b})")
        steps = (profusion_step(first), profusion_step(second))
        if (self.max_subcategory_steps is not None and None not in steps
                and abs(steps[0] - steps[1]) > self.max_subcategory_steps):
            out.append(f"profusion differs by {abs(steps[0] - steps[1])} subcategories "
                       f"({first.small.profusion} vs {second.small.profusion})")
        if self.pleural and None not in (first.pleural, second.pleural) and first.pleural != second.pleural:
            out.append("pleural findings recorded by one reader only")
        return tuple(out)

    def describe(self) -> str:
        parts = (["the major category differs"] if self.major_category else []) + (
            [f"the profusion differs by more than {self.max_subcategory_steps} subcategor"
             f"{'y' if self.max_subcategory_steps == 1 else 'ies'}"] if self.max_subcategory_steps is not None
            else []) + (["pleural findings are recorded by one reader only"] if self.pleural else [])
        return "Discordant when " + (" or ".join(parts) if parts else "never (every part of the rule is off)") + "."

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Any) -> DiscordanceRule:
        if not isinstance(data, dict) or set(data) - {f.name for f in fields(cls)}:
            raise PneumoError("A double-reading rule is a JSON object with major_category (true/false), "
                              "max_subcategory_steps (a whole number or null) and pleural (true/false).")
        steps = data.get("max_subcategory_steps", 1)
        if not (steps is None or isinstance(steps, int) and not isinstance(steps, bool) and steps >= 0):
            raise PneumoError(f"max_subcategory_steps must be a whole number 0-11 or null, not {steps!r}.")
        flags = {name: data.get(name, True) for name in ("major_category", "pleural")}
        if not all(isinstance(value, bool) for value in flags.values()):
            raise PneumoError("major_category and pleural must be true or false.")
        return cls(max_subcategory_steps=steps, **flags)


def load_rule(path: str | Path | None = None) -> DiscordanceRule:
    """The programme's rule from ``path``, else from ``double_reading_rule.json`` in the data folder, else the
    default."""
    file = Path(path) if path else data_dir() / RULE_FILE
    if not file.exists():
        if path:
            raise PneumoError("The double-reading rule file does not exist.", path=file)
        return DiscordanceRule()
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise PneumoError(f"The double-reading rule is not readable JSON ({type(exc).__name__}).", path=file) from None
    return DiscordanceRule.from_dict(data)


def save_rule(rule: DiscordanceRule, path: str | Path | None = None) -> Path:
    """Write the programme's rule where ``load_rule`` finds it (the viewer's Settings; the CLI reads the same file)."""
    file = Path(path) if path else data_dir() / RULE_FILE
    write_atomic(file, (json.dumps(rule.to_dict(), indent=2) + "\n").encode("utf-8"))
    return file


class CaseStatus(Enum):
    UNREAD = "unread"
    AWAITING_SECOND = "awaiting a second reading"
    CONCORDANT = "concordant"
    AWAITING_ADJUDICATION = "discordant: awaiting a third, adjudicating reading"
    ADJUDICATED = "adjudicated"


@dataclass(frozen=True)
class Case:
    """One image's readings: each reader's latest version, in the order the readers first signed."""

    instance_key: str
    readings: tuple[StoredReading, ...]
    reasons: tuple[str, ...] = ()  # why the first two disagree (empty: they agree, or fewer than two)

    @property
    def status(self) -> CaseStatus:
        if not self.readings:
            return CaseStatus.UNREAD
        if len(self.readings) == 1:
            return CaseStatus.AWAITING_SECOND
        if not self.reasons:
            return CaseStatus.CONCORDANT
        return CaseStatus.ADJUDICATED if len(self.readings) >= 3 else CaseStatus.AWAITING_ADJUDICATION

    def role_of(self, stored: StoredReading) -> str:
        index = [r.reader_key for r in self.readings].index(stored.reader_key)
        return ("first", "second")[index] if index < 2 else "adjudication" if index == 2 else "further"

    def by(self, key: str) -> StoredReading | None:
        """This reader's latest reading of the image, if any."""
        return next((r for r in self.readings if r.reader_key == key), None)

    def blind_for(self, key: str) -> bool:
        """The reader ``key`` has not signed this image yet while someone else has: they read it blind."""
        return bool(self.readings) and self.by(key) is None

    def summary(self) -> str:
        """One line: the status and, when discordant, why."""
        text = self.status.value
        return f"{text} ({'; '.join(self.reasons)})" if self.reasons else text


def case_of(instance_key: str, history: list[StoredReading], rule: DiscordanceRule | None = None) -> Case:
    """The image's case from its whole history (oldest first): amendments replace their reader's earlier version."""
    latest: dict[str, StoredReading] = {}
    order: list[str] = []
    for stored in history:
        if stored.reader_key not in latest:
            order.append(stored.reader_key)
        latest[stored.reader_key] = stored
    readings = tuple(latest[key] for key in order)
    rule = rule or DiscordanceRule()
    reasons = rule.reasons(readings[0].reading, readings[1].reading) if len(readings) >= 2 else ()
    return Case(instance_key, readings, reasons)


def all_cases(store: ReadingStore, rule: DiscordanceRule | None = None) -> list[Case]:
    return [case_of(key, store.history(key), rule) for key in store.instance_keys()]


def adjudication_queue(store: ReadingStore, rule: DiscordanceRule | None = None) -> list[Case]:
    """The images whose two readings disagree by the rule and that have no third reading yet."""
    return [case for case in all_cases(store, rule) if case.status is CaseStatus.AWAITING_ADJUDICATION]


__all__ = ["CaseStatus", "Case", "DiscordanceRule", "adjudication_queue", "all_cases", "case_of", "load_rule",
           "major_category", "profusion_step", "reader_key", "save_rule"]
