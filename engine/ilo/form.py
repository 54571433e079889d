"""One ILO reading as typed data: the form's sections, JSON in and out, and the form's own consistency rules.

``IloReading.from_dict`` accepts the JSON a reader's file or the viewer produces; ``problems(reading)`` lists
every inconsistency as a one-line message (the viewer shows them all; ``validate`` raises them as an
``IloFormError``). A reading is the reader's: the model's suggestions never become fields here, and nothing is
answered for the reader either. A question the reader has not answered is ``None`` (the form's questions: quality,
2A, 2B profusion and 2C large opacities when 2A is "yes", 3), and ``missing(reading)`` names each one: a reading
with a missing answer is never signed.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any

from engine.errors import PneumoError
from engine.ilo.codes import (
    EXTENT,
    LARGE_OPACITIES,
    PROFUSION,
    QUALITY_GRADES,
    QUALITY_MARKS,
    QUALITY_REASONS,
    SHAPES,
    SYMBOLS,
    WIDTH,
    ZONES,
    profusion_category,
)


class IloFormError(PneumoError):
    """A reading that is not a consistent ILO form (or not a reading at all)."""

    default_message = "The ILO reading is incomplete or inconsistent."


@dataclass(frozen=True)
class Sides:
    """Right and/or left (the form's R / L boxes); neither means "0"."""

    right: bool = False
    left: bool = False

    @property
    def any(self) -> bool:
        return self.right or self.left

    def code(self) -> str:
        """The form's notation: "R", "L", "R L" or "0"."""
        return " ".join(side for side, on in (("R", self.right), ("L", self.left)) if on) or "0"


@dataclass(frozen=True)
class SmallOpacities:
    """Section 2B: shape/size (primary, secondary), the affected zones and the profusion."""

    primary: str = ""  # one of SHAPES
    secondary: str = ""  # one of SHAPES; the form asks for both, equal when only one type is seen
    zones: tuple[str, ...] = ()  # subset of ZONES, in ZONES order
    profusion: str | None = None  # one of PROFUSION; None: not chosen (needed when 2A is "yes")


@dataclass(frozen=True)
class PleuralPlaques:
    """Section 3A: plaques by site and their calcification, extent (1-3) and width (a-c) per side."""

    sites: dict[str, Sides] = field(default_factory=dict)  # PLAQUE_SITES key -> sides
    calcification: dict[str, Sides] = field(default_factory=dict)  # PLAQUE_SITES key -> sides
    extent_right: int = 0  # EXTENT; chest wall (in profile and face on combined)
    extent_left: int = 0
    width_right: str = ""  # WIDTH; in-profile plaques only
    width_left: str = ""


@dataclass(frozen=True)
class DiffuseThickening:
    """Section 3C: diffuse pleural thickening of the chest wall, with calcification, extent and width."""

    sites: dict[str, Sides] = field(default_factory=dict)  # DIFFUSE_SITES key -> sides
    calcification: dict[str, Sides] = field(default_factory=dict)
    extent_right: int = 0
    extent_left: int = 0
    width_right: str = ""
    width_left: str = ""


@dataclass(frozen=True)
class IloReading:
    """A complete ILO (2022) classification of one radiograph by one reader."""

    # None: the reader has not answered (an untouched form answers nothing).
    quality: int | None = None  # 1-4 (QUALITY_GRADES)
    quality_comment: str = ""  # the reason in words; needed when quality is not 1 and no reason box says it
    quality_reasons: tuple[str, ...] = ()  # QUALITY_REASONS keys (the NIOSH form's boxes), in that order
    parenchymal: bool | None = None  # 2A: any parenchymal abnormality consistent with pneumoconiosis
    small: SmallOpacities = field(default_factory=SmallOpacities)
    large: str | None = None  # 2C: 0, A, B, C (needed when 2A is "yes")
    pleural: bool | None = None  # 3: any pleural abnormality consistent with pneumoconiosis
    plaques: PleuralPlaques = field(default_factory=PleuralPlaques)
    costophrenic: Sides = field(default_factory=Sides)  # 3B: costophrenic angle obliteration
    diffuse: DiffuseThickening = field(default_factory=DiffuseThickening)
    symbols: tuple[str, ...] = ()  # 4A, in the form's order
    comments: str = ""  # 4C
    reader: str = ""
    read_on: str = ""  # ISO date of the reading (YYYY-MM-DD)

    @property
    def category(self) -> int | None:
        """The major profusion category (0-3); None when no profusion is chosen."""
        return None if self.small.profusion is None else profusion_category(self.small.profusion)

    @property
    def other_abnormalities(self) -> bool:
        """4A "Any other abnormalities?": yes exactly when a symbol is recorded."""
        return bool(self.symbols)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["small"]["zones"] = list(self.small.zones)
        data["symbols"] = list(self.symbols)
        data["quality_reasons"] = list(self.quality_reasons)
        if not self.quality_reasons:  # readings without the boxes keep the JSON they always had
            del data["quality_reasons"]
        return data

    @classmethod
    def from_dict(cls, data: Any) -> IloReading:
        """Build a reading from JSON-like data; unknown keys and wrong types are one-line errors."""
        if not isinstance(data, dict):
            raise IloFormError("An ILO reading must be a JSON object with the form's fields (see docs/ilo.md).")
        _no_unknown_keys(cls, data, "reading")
        try:
            small = data.get("small", {})
            _no_unknown_keys(SmallOpacities, small, "small")
            plaques = data.get("plaques", {})
            diffuse = data.get("diffuse", {})
            _no_unknown_keys(PleuralPlaques, plaques, "plaques")
            _no_unknown_keys(DiffuseThickening, diffuse, "diffuse")
            return cls(
                quality=_optional(_int, data.get("quality"), "quality"),
                quality_comment=str(data.get("quality_comment", "")),
                quality_reasons=_ordered(data.get("quality_reasons", []), tuple(QUALITY_REASONS), "quality_reasons"),
                parenchymal=_optional(_bool, data.get("parenchymal"), "parenchymal"),
                small=SmallOpacities(primary=str(small.get("primary", "")), secondary=str(small.get("secondary", "")),
                                     zones=_ordered(small.get("zones", []), ZONES, "small.zones"),
                                     profusion=_optional(_text, small.get("profusion"), "small.profusion")),
                large=_optional(_text, data.get("large"), "large"),
                pleural=_optional(_bool, data.get("pleural"), "pleural"),
                plaques=PleuralPlaques(**_pleural_kwargs(plaques, "plaques")),
                costophrenic=_sides(data.get("costophrenic", {}), "costophrenic"),
                diffuse=DiffuseThickening(**_pleural_kwargs(diffuse, "diffuse")),
                symbols=_ordered(data.get("symbols", []), tuple(SYMBOLS), "symbols"),
                comments=str(data.get("comments", "")),
                reader=str(data.get("reader", "")),
                read_on=str(data.get("read_on", "")),
            )
        except (AttributeError, TypeError) as exc:
            raise IloFormError(f"The ILO reading has a field of the wrong type ({exc}).") from None

    def signed(self, reader: str, on: dt.date | None = None) -> IloReading:
        """The reading with the reader's name and the date of signing."""
        return replace(self, reader=reader.strip(), read_on=(on or dt.date.today()).isoformat())


def _no_unknown_keys(kind: type, data: Any, where: str) -> None:
    if not isinstance(data, dict):
        raise IloFormError(f"'{where}' must be a JSON object.")
    unknown = sorted(set(data) - {f.name for f in fields(kind)})
    if unknown:
        raise IloFormError(f"Unknown field(s) in {where}: {', '.join(unknown)} (see docs/ilo.md for the fields).")


def _optional(parse: Callable[[Any, str], Any], value: Any, where: str) -> Any:
    """An answer, or None when the key is absent, null or empty (the reader did not answer)."""
    return None if value is None or value == "" else parse(value, where)


def _text(value: Any, where: str) -> str:
    if not isinstance(value, str | int) or isinstance(value, bool):
        raise IloFormError(f"'{where}' must be text, not {value!r}.")
    return str(value)


def _int(value: Any, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int | str) or not str(value).strip().isdigit():
        raise IloFormError(f"'{where}' must be a whole number, not {value!r}.")
    return int(value)


def _bool(value: Any, where: str) -> bool:
    if not isinstance(value, bool):
        raise IloFormError(f"'{where}' must be true or false, not {value!r}.")
    return value


def _sides(value: Any, where: str) -> Sides:
    if not isinstance(value, dict) or set(value) - {"right", "left"}:
        raise IloFormError(f"'{where}' must be an object with 'right' and/or 'left' true/false.")
    return Sides(right=_bool(value.get("right", False), f"{where}.right"),
                 left=_bool(value.get("left", False), f"{where}.left"))


def _ordered(values: Any, vocabulary: tuple[str, ...], where: str) -> tuple[str, ...]:
    """A list of vocabulary words, de-duplicated and put in the form's order; unknown words are errors."""
    if not isinstance(values, list | tuple):
        raise IloFormError(f"'{where}' must be a list.")
    unknown = [str(v) for v in values if v not in vocabulary]
    if unknown:
        raise IloFormError(f"Unknown value(s) in {where}: {', '.join(unknown)}; valid: {' '.join(vocabulary)}.")
    return tuple(word for word in vocabulary if word in values)


def _pleural_kwargs(data: dict[str, Any], where: str) -> dict[str, Any]:
    return {
        "sites": {site: _sides(sides, f"{where}.sites.{site}") for site, sides in data.get("sites", {}).items()},
        "calcification": {site: _sides(sides, f"{where}.calcification.{site}")
                          for site, sides in data.get("calcification", {}).items()},
        "extent_right": _int(data.get("extent_right", 0), f"{where}.extent_right"),
        "extent_left": _int(data.get("extent_left", 0), f"{where}.extent_left"),
        "width_right": str(data.get("width_right", "")),
        "width_left": str(data.get("width_left", "")),
    }


def missing(reading: IloReading) -> list[str]:
    """The form's questions the reader has not answered, by their place on the form (empty: all answered)."""
    out: list[str] = []
    if reading.quality is None:
        out.append("1 radiograph quality")
    if reading.parenchymal is None:
        out.append("2A parenchymal abnormality (yes/no)")
    elif reading.parenchymal:
        if reading.small.profusion is None:
            out.append("2B profusion")
        if reading.large is None:
            out.append("2C large opacities")
    if reading.pleural is None:
        out.append("3 pleural abnormality (yes/no)")
    return out


def problems(reading: IloReading, *, require_signature: bool = True) -> list[str]:
    """Every way ``reading`` breaks the form's rules, one line each (empty: the form is consistent); the
    unanswered questions come first, one line each."""
    out: list[str] = [f"Not answered: {question}." for question in missing(reading)]
    if reading.quality is not None and reading.quality not in QUALITY_GRADES:
        out.append(f"Radiograph quality must be 1-4, not {reading.quality}.")
    elif reading.quality not in (None, 1) and not (reading.quality_comment.strip() or reading.quality_reasons):
        out.append(f"Quality {QUALITY_MARKS[reading.quality]}: give the reason (tick the defects or write a comment; "
                   "the form asks for one when quality is not 1).")
    elif reading.quality == 1 and reading.quality_reasons:
        out.append("Quality 1 has no technical defect: untick the quality reasons, or choose another grade.")
    if "other" in reading.quality_reasons and not reading.quality_comment.strip():
        out.append("Quality reason 'other': say which in the quality comment.")
    out += _parenchymal_problems(reading)
    out += _pleural_problems(reading)
    if "od" in reading.symbols and not reading.comments.strip():
        out.append("Symbol od: name the other disease or abnormality in the comments (4C).")
    if require_signature:
        if not reading.reader.strip():
            out.append("Enter the reader's name to sign the reading.")
        try:
            dt.date.fromisoformat(reading.read_on)
        except ValueError:
            out.append(f"The reading date must be YYYY-MM-DD, not {reading.read_on!r}.")
    return out


def _parenchymal_problems(reading: IloReading) -> list[str]:
    out: list[str] = []
    small = reading.small
    if small.profusion is not None and small.profusion not in PROFUSION:
        out.append(f"Profusion must be one of {' '.join(PROFUSION)}, not {small.profusion!r}.")
        return out
    if reading.large is not None and reading.large not in LARGE_OPACITIES:
        out.append(f"Large opacities must be 0, A, B or C, not {reading.large!r}.")
    for name, shape in (("primary", small.primary), ("secondary", small.secondary)):
        if shape and shape not in SHAPES:
            out.append(f"The {name} shape/size must be one of p q r s t u, not {shape!r}.")
    category = reading.category
    large = reading.large not in (None, "0")
    if reading.parenchymal is None:
        return out  # "not answered" says it; the findings' rules follow the answer
    if reading.parenchymal:
        if category == 0 and reading.large == "0":
            out.append("Parenchymal abnormality 'yes' needs profusion 1/0 or more, or a large opacity.")
        if category is not None and category >= 1:
            if not (small.primary and small.secondary):
                out.append("Give the primary and the secondary shape/size of the small opacities.")
            if not small.zones:
                out.append("Tick the zones where the small opacities are.")
    else:
        if category is not None and category >= 1:
            out.append(f"Profusion {small.profusion} means parenchymal abnormality: answer 'yes' in 2A.")
        if large:
            out.append("A large opacity means parenchymal abnormality: answer 'yes' in 2A.")
        if small.zones or small.primary or small.secondary:
            out.append("Shapes and zones are recorded only when 2A is 'yes'.")
    return out


def _pleural_problems(reading: IloReading) -> list[str]:
    out: list[str] = []
    plaques, diffuse = reading.plaques, reading.diffuse
    for where, record, sites in (("plaques", plaques, ("chest_wall_in_profile", "chest_wall_face_on", "diaphragm",
                                                       "other")),
                                 ("diffuse thickening", diffuse, ("chest_wall_in_profile", "chest_wall_face_on"))):
        for site in (*record.sites, *record.calcification):
            if site not in sites:
                out.append(f"Unknown {where} site {site!r}; valid: {', '.join(sites)}.")
        for side in ("right", "left"):
            extent, width = getattr(record, f"extent_{side}"), getattr(record, f"width_{side}")
            on_wall = any(getattr(record.sites.get(s, Sides()), side)
                          for s in ("chest_wall_in_profile", "chest_wall_face_on"))
            in_profile = getattr(record.sites.get("chest_wall_in_profile", Sides()), side)
            if extent not in EXTENT:
                out.append(f"{where.capitalize()} extent ({side}) must be 0-3, not {extent}.")
            elif bool(extent) != on_wall:
                out.append(f"{where.capitalize()} ({side}): give an extent 1-3 exactly when the chest wall is "
                           "involved.")
            if width and width not in WIDTH:
                out.append(f"{where.capitalize()} width ({side}) must be a, b or c, not {width!r}.")
            elif bool(width) != in_profile:
                out.append(f"{where.capitalize()} ({side}): give a width a-c exactly when seen in profile.")
        for site, sides in record.calcification.items():
            site_sides = record.sites.get(site, Sides())
            if (sides.right and not site_sides.right) or (sides.left and not site_sides.left):
                out.append(f"Calcified {where} at {site.replace('_', ' ')} must also be marked as {where}.")
    recorded = (any(s.any for s in plaques.sites.values()) or reading.costophrenic.any
                or any(s.any for s in diffuse.sites.values()))
    if reading.pleural and not recorded:
        out.append("Pleural abnormality 'yes' needs plaques, costophrenic angle obliteration or diffuse thickening.")
    if reading.pleural is False and recorded:
        out.append("Pleural findings are recorded: answer 'yes' to pleural abnormalities in section 3.")
    # ILO (2011 and 2022): diffuse thickening is recorded only with, and in continuity with, an obliterated angle.
    for side in ("right", "left"):
        if any(getattr(s, side) for s in diffuse.sites.values()) and not getattr(reading.costophrenic, side):
            out.append(f"Diffuse pleural thickening ({side}) is recorded only with an obliterated costophrenic angle.")
    return out


def validate(reading: IloReading, *, require_signature: bool = True) -> IloReading:
    """``reading`` unchanged when consistent; otherwise an ``IloFormError`` naming the problems (every unanswered
    question, by name, when there are any)."""
    found = problems(reading, require_signature=require_signature)
    unanswered = missing(reading)
    if unanswered:
        rest = len(found) - len(unanswered)
        more = f" (and {rest} more problem{'s' if rest > 1 else ''})" if rest else ""
        raise IloFormError(f"The reading is incomplete, not answered: {'; '.join(unanswered)}{more}.")
    if found:
        more = f" (and {len(found) - 1} more)" if len(found) > 1 else ""
        raise IloFormError(found[0] + more)
    return reading
