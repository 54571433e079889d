"""Clues: the facts a draft report may state, each with where it comes from.

A clue is one fact with a polarity — the model's score against its operating point, the model's zone evidence,
a quality warning, or an entry of the reader's ILO form (present or explicitly absent). The draft generators
(``engine.ilo.draft``) may only say what a clue says; ``check_sentence`` decides whether a sentence does.

Model clues are *suggestions* (``source == "model"``); the reader's entries are the reading (``"reader"``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from engine.ilo.codes import QUALITY_GRADES, SHAPES, SYMBOLS, ZONE_WORDS, ZONES
from engine.ilo.form import IloReading, Sides
from engine.ilo.zone_evidence import ZoneEvidenceReport

EVIDENCE_MIN = 0.01  # probability drop from occluding a zone that counts as the model relying on it


@dataclass(frozen=True)
class ModelFacts:
    """What the draft may say about the model's result (taken from a ``DiagnosisResult``)."""

    probability: float
    threshold: float
    positive_label: str
    flagged: bool
    diagnosed: bool
    warnings: tuple[str, ...] = ()  # flag messages: quality, intended use, out of domain

    @classmethod
    def from_result(cls, result: Any) -> ModelFacts:
        decision = result.decision
        return cls(result.probability, decision.threshold, result.positive_label, decision.flagged,
                   decision.diagnosed, tuple(flag.message for flag in result.flags))

    @classmethod
    def refused(cls, reasons: tuple[str, ...]) -> ModelFacts:
        """The model gave no result at all (the image is outside its intended use, ...): not diagnosed, and why."""
        return cls(float("nan"), float("nan"), "", flagged=False, diagnosed=False, warnings=reasons)

    def note(self) -> str:
        """The model's part in one line, for an export: its score against the threshold, or why it decided
        nothing."""
        if not self.diagnosed:
            return "Not diagnosed" + (f": {'; '.join(w.rstrip('.') for w in self.warnings)}." if self.warnings else ".")
        relation = "above" if self.flagged else "below"
        return (f"Score for {self.positive_label} {self.probability:.3f}, {relation} the operating threshold "
                f"{self.threshold:.3f} (a suggestion, not a reading).")


@dataclass(frozen=True)
class Clue:
    id: str  # unique within a draft, e.g. "reader.small_opacities"
    source: str  # "model" (a suggestion), "reader" (the reading) or "image" (quality warnings)
    concept: str  # what the checker matches sentences against (a key of CONCEPTS)
    present: bool  # False: an explicit negation ("no pleural plaques")
    statement: str  # the planner's sentence for this clue
    zones: tuple[str, ...] = ()  # zones the clue speaks of, in ZONES order
    values: tuple[str, ...] = ()  # exact values a sentence may quote besides those in ``statement``
    terms: tuple[str, ...] = ()  # the clue's own free text (a warning, a comment, a symbol's meaning): quoted
    # verbatim, it is a mention of this clue, and its words are not read as other findings
    neutral: tuple[str, ...] = ()  # words that are no finding here (the model's class name, e.g. "pneumonia")
    implies_absent: tuple[str, ...] = ()  # concepts this (negative) clue also denies: "no pleural abnormality"

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "source": self.source, "concept": self.concept, "present": self.present,
                "statement": self.statement, "zones": list(self.zones), "values": list(self.values)}


# concept -> patterns that mention it (lower-case text). Order matters only for readability.
CONCEPTS: dict[str, tuple[str, ...]] = {
    "model_score": (r"\bmodel'?s? (?:score|probability)", r"\boperating (?:point|threshold)"),
    "model_not_diagnosed": (r"\bnot diagnosed?\b", r"\bdid not diagnose\b"),
    "zone_evidence": (r"\bevidence\b", r"\bdepends?\b", r"\brel(?:y|ies|ied) on\b"),
    "quality": (r"\bquality\b", r"\bwarning\b", r"\btechnical\b"),
    "parenchymal": (r"\bparenchymal abnormalit",),
    "small_opacities": (r"\bsmall opacit", r"\bprofusion\b"),
    "large_opacities": (r"\blarge opacit",),
    "pleural": (r"\bpleural abnormalit",),
    "plaques": (r"\bplaques?\b",),
    "costophrenic": (r"\bcostophrenic\b",),
    "diffuse_thickening": (r"\bdiffuse pleural thickening\b", r"\bdiffuse thickening\b"),
    **{f"symbol_{code}": (rf"\b(?:{words})",) for code, words in {
        "aa": r"atherosclerotic aorta|aortic atherosclerosis", "at": r"apical pleural thickening", "ax": r"coalescen",
        "bu": r"bulla", "ca": r"cancer|carcinoma|malignan", "cg": r"calcified non-pneumoconiotic nodules|granuloma",
        "cn": r"calcification in small", "co": r"cardiac size|heart size|cardiac shape|cardiomegaly|cardiac",
        "cp": r"cor pulmonale", "cv": r"cavit", "di": r"distortion", "ef": r"(?:pleural )?effusion",
        "em": r"emphysema", "es": r"eggshell", "fr": r"fracture", "hi": r"enlargement of non-calcified|enlarged hilar|"
        r"hilar enlargement|lymph node enlargement", "ho": r"honeycomb", "id": r"ill-defined diaphragm",
        "ih": r"ill-defined heart", "kl": r"kerley|septal lines", "me": r"mesothelioma",
        "od": r"other disease|other significant abnormalit|significant abnormalit", "pa": r"plate atelectasis",
        "pb": r"parenchymal bands?", "pi": r"interlobar fissure", "px": r"pneumothorax", "ra": r"rounded atelectasis",
        "rp": r"rheumatoid pneumoconiosis", "tb": r"tuberculosis"}.items()},
}
# Findings no clue ever has: a sentence stating (or denying) one says more than the clues.
OTHER_FINDINGS = (r"\b(?:mass(?:es)?|consolidation|pneumonia|infiltrat\w*|fibrosis|cardiomegaly|nodules?|nodular|"
                  r"lesions?|o?edema|effusions?|opacit\w*|interstitial|reticular\w*|normal|unremarkable|clear)\b")
NEGATIONS = r"\b(?:no|not|without|absent|none|neither|nor|negative for|free of)\b"
ZONE_PATTERN = re.compile(r"\b(right|left) (upper|middle|lower)\b")
VALUE_PATTERN = re.compile(r"\b[0-3]/[0-3+\-]|\b\d\.\d{2,3}\b|\bcategory [abc0]\b|\bquality [1-4]\b")


def _sides_words(sides: Sides) -> str:
    return {(True, True): "both sides", (True, False): "the right", (False, True): "the left"}[(sides.right,
                                                                                                sides.left)]


def model_clues(facts: ModelFacts, evidence: ZoneEvidenceReport | None) -> list[Clue]:
    clues: list[Clue] = []
    score, threshold = f"{facts.probability:.3f}", f"{facts.threshold:.3f}"
    if facts.diagnosed:
        relation = "above" if facts.flagged else "below"
        clues.append(Clue("model.score", "model", "model_score", facts.flagged,
                          f"The model's score for {facts.positive_label} is {score}, {relation} its operating "
                          f"threshold of {threshold} (a suggestion, not a reading).", values=(score, threshold),
                          neutral=(facts.positive_label,)))
    else:
        # Its own concept: a score that decided nothing must not read as "below the threshold".
        clues.append(Clue("model.score", "model", "model_not_diagnosed", True,
                          "The model did not diagnose this image (not diagnosed: see the image warnings)."))
    if evidence is not None:
        strong = [zone.name for zone in evidence.strongest(min_evidence=EVIDENCE_MIN)]
        if strong:
            words = ", ".join(ZONE_WORDS[name] for name in strong[:3])
            clues.append(Clue("model.zone_evidence", "model", "zone_evidence", True,
                              f"The model's score depends most on the {words} zone{'s' if len(strong[:3]) > 1 else ''}"
                              " (occlusion evidence; model evidence, not a reading).",
                              zones=tuple(z for z in ZONES if z in strong[:3])))
        else:
            clues.append(Clue("model.zone_evidence", "model", "zone_evidence", False,
                              "No lung zone stands out in the model's evidence."))
    for index, warning in enumerate(facts.warnings):
        clues.append(Clue(f"image.warning.{index}", "image", "quality", True, f"Image warning: {warning}.",
                          terms=(warning,)))
    return clues


def reader_clues(reading: IloReading) -> list[Clue]:
    """The clues of a consistent reading (``problems(reading, require_signature=False)`` is empty). Under 2A "no"
    the reader may leave the profusion and large opacities unanswered, as the paper form allows."""
    clues: list[Clue] = []
    if reading.quality not in (None, 1):
        reason = f": {reading.quality_comment.strip().rstrip('.')}" if reading.quality_comment.strip() else ""
        grade = QUALITY_GRADES[reading.quality].split(",")[0]
        clues.append(Clue("reader.quality", "reader", "quality", True,
                          f"Radiograph quality {reading.quality} ({grade}){reason}.",
                          values=(f"quality {reading.quality}",), terms=(reading.quality_comment,)))
    opener = "Parenchymal" if reading.parenchymal else "No parenchymal"
    clues.append(Clue("reader.parenchymal", "reader", "parenchymal", reading.parenchymal,
                      f"{opener} abnormality consistent with pneumoconiosis."))
    small = reading.small
    if (reading.category or 0) >= 1:
        shapes = f"{small.primary}/{small.secondary}"
        kinds = SHAPES[small.primary].split(",")[0]
        zones = ", ".join(ZONE_WORDS[z] for z in small.zones) + (" zones" if len(small.zones) > 1 else " zone")
        clues.append(Clue("reader.small_opacities", "reader", "small_opacities", True,
                          f"Small opacities ({shapes}, {kinds}) in the {zones}, profusion {small.profusion}.",
                          zones=small.zones, values=(small.profusion,)))
    elif small.profusion is not None:
        clues.append(Clue("reader.small_opacities", "reader", "small_opacities", False,
                          f"No small opacities of pneumoconiosis (profusion {small.profusion}).",
                          values=(small.profusion,)))
    else:
        clues.append(Clue("reader.small_opacities", "reader", "small_opacities", False,
                          "No small opacities of pneumoconiosis."))
    if reading.large not in (None, "0"):
        clues.append(Clue("reader.large_opacities", "reader", "large_opacities", True,
                          f"Large opacities, category {reading.large}.",
                          values=(f"category {reading.large.lower()}",)))
    else:
        clues.append(Clue("reader.large_opacities", "reader", "large_opacities", False, "No large opacities."))
    clues.append(Clue("reader.pleural", "reader", "pleural", reading.pleural,
                      f"{'P' if reading.pleural else 'No p'}leural abnormality consistent with pneumoconiosis.",
                      implies_absent=() if reading.pleural else ("plaques", "costophrenic", "diffuse_thickening")))
    if reading.pleural:
        clues += _pleural_clues(reading)
    for code in reading.symbols:
        clues.append(Clue(f"reader.symbol.{code}", "reader", f"symbol_{code}", True,
                          f"Also noted: {SYMBOLS[code]} ({code}).", terms=(SYMBOLS[code],)))
    return clues


def _pleural_clues(reading: IloReading) -> list[Clue]:
    clues: list[Clue] = []
    plaque_sides = Sides(any(s.right for s in reading.plaques.sites.values()),
                         any(s.left for s in reading.plaques.sites.values()))
    calcified = any(s.any for s in reading.plaques.calcification.values())
    if plaque_sides.any:
        sites = ", ".join(site.replace("_", " ") for site, s in reading.plaques.sites.items() if s.any)
        clues.append(Clue("reader.plaques", "reader", "plaques", True,
                          f"Pleural plaques on {_sides_words(plaque_sides)} ({sites})"
                          f"{', calcified' if calcified else ''}."))
    else:
        clues.append(Clue("reader.plaques", "reader", "plaques", False, "No pleural plaques."))
    if reading.costophrenic.any:
        clues.append(Clue("reader.costophrenic", "reader", "costophrenic", True,
                          f"Costophrenic angle obliteration on {_sides_words(reading.costophrenic)}."))
    else:
        clues.append(Clue("reader.costophrenic", "reader", "costophrenic", False,
                          "No costophrenic angle obliteration."))
    diffuse = Sides(any(s.right for s in reading.diffuse.sites.values()),
                    any(s.left for s in reading.diffuse.sites.values()))
    if diffuse.any:
        clues.append(Clue("reader.diffuse", "reader", "diffuse_thickening", True,
                          f"Diffuse pleural thickening on {_sides_words(diffuse)}."))
    else:
        clues.append(Clue("reader.diffuse", "reader", "diffuse_thickening", False,
                          "No diffuse pleural thickening."))
    return clues


def build_clues(facts: ModelFacts | None = None, evidence: ZoneEvidenceReport | None = None,
                reading: IloReading | None = None) -> list[Clue]:
    """Every clue a draft may use: the reader's entries first (they are the reading), then the model's."""
    clues = reader_clues(reading) if reading is not None else []
    if facts is not None:
        clues += model_clues(facts, evidence)
    return clues


@dataclass(frozen=True)
class Check:
    """Whether a sentence says only what clues say."""

    supported: bool
    clue_ids: tuple[str, ...]  # the clues the sentence rests on
    reason: str = ""  # why not, when not
    mentions: tuple[str, ...] = field(default=())  # concepts found, with "not " for negated ones

    def to_json(self) -> dict[str, Any]:
        return {"supported": self.supported, "clue_ids": list(self.clue_ids), "reason": self.reason,
                "mentions": list(self.mentions)}


def _clauses(sentence: str) -> list[str]:
    parts = re.split(r";|\bbut\b|\bwhile\b|\bhowever\b|\balthough\b|\bwhereas\b", sentence.lower())
    return [part for part in parts if part.strip()]


def _overlap(clause: str, statement: str) -> int:
    """Words two texts share: picks, of several clues of one concept, the one a sentence retells."""
    return len(set(re.findall(r"[a-z0-9]+", clause)) & set(re.findall(r"[a-z0-9]+", statement.lower())))


def allowed_values(clues: list[Clue]) -> set[str]:
    """Every number and grade a sentence may quote: those in the clues' statements and values."""
    return {v for c in clues for v in (*c.values, *VALUE_PATTERN.findall(c.statement.lower()))}


def check_sentence(sentence: str, clues: list[Clue]) -> Check:
    """Each concept the sentence mentions must match a clue of that concept with the same polarity; the zones and
    values it names must be the clues'; a finding no clue has (a mass, consolidation, ...) fails it. A sentence
    that mentions no known concept is not supported either: it cannot be traced to a clue."""
    used: list[str] = []
    mentions: list[str] = []
    allowed = allowed_values(clues)
    neutral = [t.lower() for c in clues for t in c.neutral if t.strip()]

    def fail(reason: str) -> Check:
        return Check(False, tuple(dict.fromkeys(used)), reason, tuple(mentions))

    for clause in _clauses(sentence):
        for clue in clues:  # a clue's own text, quoted: a mention of that clue (with the clause's polarity)
            for term in (t.lower() for t in clue.terms if t.strip()):
                at = clause.find(term)
                if at < 0:
                    continue
                if (re.search(NEGATIONS, clause[:at]) is None) != clue.present:
                    return fail(f"quotes {clue.id} with the opposite polarity")
                used.append(clue.id)
                mentions.append(clue.concept)
                clause = clause.replace(term, " ")
        zones = {f"{side}_{level}" for side, level in ZONE_PATTERN.findall(clause)}
        rest = clause
        zonal_ok = not zones
        for concept, patterns in CONCEPTS.items():
            match = next((m for p in patterns if (m := re.search(p, clause))), None)
            if match is None:
                continue
            for p in patterns:
                rest = re.sub(p, " ", rest)
            if concept == "model_score":
                above = re.search(r"\babove\b|\bexceed|\bover\b|\bflagged\b", clause)
                below = re.search(r"\bbelow\b|\bunder\b|\bnot flagged\b", clause)
                polarity = None if bool(above) == bool(below) else bool(above)
            else:
                polarity = re.search(NEGATIONS, clause[:match.start()]) is None
            mentions.append(("" if polarity in (True, None) else "not ") + concept)
            candidates = [c for c in clues if (c.concept == concept and (polarity is None or c.present == polarity))
                          or (polarity is False and concept in c.implies_absent)]
            if not candidates:
                return fail(f"says {'no ' if polarity is False else ''}{concept.replace('_', ' ')}, which no clue "
                            "supports")
            clue = max(candidates, key=lambda c: _overlap(clause, c.statement))
            if zones and clue.zones:
                if not zones <= set(clue.zones):
                    return fail("names zones its clue does not")
                zonal_ok = True
            used.append(clue.id)
        if not zonal_ok:
            return fail("names zones, but no clue about those zones")
        quoted = set(VALUE_PATTERN.findall(clause))
        if not quoted <= allowed:
            return fail(f"quotes {', '.join(sorted(quoted - allowed))}, which no clue does")
        for term in neutral:
            rest = rest.replace(term, " ")
        other = re.search(OTHER_FINDINGS, rest)
        if other:
            return fail(f"mentions {other.group(0)!r}, which no clue has")
    if not used:
        return fail("mentions nothing a clue can support")
    return Check(True, tuple(dict.fromkeys(used)), "", tuple(mentions))
