"""A test set of double readings: three readers, a model with ordinal grades, in one store."""

from __future__ import annotations

from pathlib import Path

from engine.ilo.form import IloReading
from engine.ilo.store import ReadingStore

# image -> (reader A's profusion, reader B's, the model's suggested category); None: 2A "no", profusion unanswered
PROFUSIONS: dict[str, tuple[str | None, str | None, str]] = {
    "sop:01": ("0/0", "0/1", "0"), "sop:02": ("1/0", "1/1", "1"), "sop:03": ("1/1", "2/1", "1"),
    "sop:04": ("2/2", "2/1", "2"), "sop:05": ("0/1", "1/0", "0"), "sop:06": ("3/3", "3/+", "3"),
    "sop:07": (None, "0/0", "0"), "sop:08": ("1/2", "1/1", "2"), "sop:09": ("2/3", "3/2", "2"),
    "sop:10": ("0/0", "2/2", "1"), "sop:11": ("1/1", "1/1", "0"), "sop:12": ("0/-", "0/0", "0"),
}
READERS = {"A": ("Dr Alice Example", "B-1001"), "B": ("Dr Bob Example", "B-2002"), "C": ("Dr Carol Example", "")}


def form(profusion: str | None, reader: str, *, pleural: bool = False) -> IloReading:
    """A consistent reading with this profusion (None: 2A "no", 2B skipped)."""
    data: dict = {"quality": 1, "reader": reader, "read_on": "2026-12-01", "pleural": pleural}
    if pleural:
        data["costophrenic"] = {"right": True}
    if profusion is None or profusion[0] == "0":
        data.update(parenchymal=False, **({"small": {"profusion": profusion}, "large": "0"} if profusion else {}))
    else:
        data.update(parenchymal=True, large="0", small={"primary": "q", "secondary": "q",
                                                         "zones": ["right_upper"], "profusion": profusion})
    return IloReading.from_dict(data)


def filled_store(path: Path) -> ReadingStore:
    """Readers A and B read all twelve images; reader C adjudicates sop:10; the model's category is stored."""
    store = ReadingStore(path)
    for key, (a, b, model) in PROFUSIONS.items():
        for letter, profusion in (("A", a), ("B", b)):
            name, reader_id = READERS[letter]
            store.save(key, form(profusion, name, pleural=key == "sop:04" and letter == "B"), reader_id=reader_id,
                       model_category=model, model_flagged=model != "0")
    name, reader_id = READERS["C"]
    store.save("sop:10", form("1/1", name), reader_id=reader_id, model_category="1", model_flagged=True)
    return store
