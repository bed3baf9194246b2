"""Grounded answers: retrieve evidence, ask the model to cite it as [n], and map every
citation back to its source (document + page/chars, image, or video + seconds).

Citations that point at no evidence are removed from the text and counted.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from rag.core.items import Hit
from rag.core.prompts import prompt
from rag.generation.generator import Generator
from rag.generation.grounding import (
    DEFAULT_GROUNDING,
    NO_ANSWER,
    Grounding,
    GroundingSettings,
    attribute,
    compress,
    extractive_answer,
    support,
)
from rag.generation.messages import CITATION, Exchange, build_messages
from retrievers.encoders import TextEncoder


def cited_numbers(match: re.Match[str]) -> list[int]:
    """The evidence numbers of one CITATION match, in order: `[1, 3]` -> [1, 3]."""
    return [int(n) for n in re.split(r"[,;]", match.group(1))]


@dataclass(frozen=True)
class Citation:
    n: int
    hit: Hit

    @property
    def label(self) -> str:
        """Where to look: file name plus page/char span or start-end seconds."""
        return f"{Path(self.hit.source).name} ({self.hit.span})"


@dataclass
class Answer:
    question: str
    text: str
    citations: list[Citation]
    evidence: list[Hit]
    timings: dict[str, float]
    dropped_citations: int = 0
    notes: list[str] = field(default_factory=list)
    model: str = ""
    draft: str = ""
    grounding: Grounding | Literal["model"] = "cited"  # model: no evidence (the agent's `no` route)

    @property
    def supported(self) -> bool:
        """Whether the answer rests on cited evidence."""
        return bool(self.citations) and self.grounding in ("cited", "attributed", "extracted")


def resolve_citations(text: str, evidence: list[Hit]) -> tuple[str, list[Citation], int]:
    """The text without citations to missing evidence, the valid citations in order of first
    use, and how many were dropped."""
    used: dict[int, Citation] = {}
    dropped = 0

    def keep(match: re.Match[str]) -> str:
        nonlocal dropped
        valid = []
        for n in cited_numbers(match):
            if 1 <= n <= len(evidence):
                valid.append(n)
                used.setdefault(n, Citation(n, evidence[n - 1]))
            else:
                dropped += 1
        return "".join(f"[{n}]" for n in valid)

    clean = CITATION.sub(keep, text)
    clean = re.sub(r"[ \t]+([.,;:])", r"\1", clean).strip()
    return clean, list(used.values()), dropped


def answer_stream(
    generator: Generator,
    question: str,
    evidence: list[Hit],
    timings: dict[str, float],
    encoder: TextEncoder,
    settings: GroundingSettings = DEFAULT_GROUNDING,
    history: Sequence[Exchange] = (),
) -> Iterator[str | Answer]:
    """Yields the model's draft as it arrives, then the finished, grounded Answer. `history`:
    the conversation's earlier turns, for the model to read (they are never evidence)."""
    start = time.perf_counter()
    keep = generator.settings.evidence_sentences
    texts = [compress(h, question, encoder, keep) for h in evidence] if keep else None
    messages, notes = build_messages(question, evidence, generator.settings, generator.vision, texts, history)
    pieces: list[str] = []
    for piece in generator.stream(messages):
        if not pieces:
            timings["first_token_s"] = time.perf_counter() - start
        pieces.append(piece)
        yield piece
    timings["generate_s"] = time.perf_counter() - start
    draft = "".join(pieces)
    text, grounding = ground(draft, question, evidence, encoder, settings)
    text, citations, dropped = resolve_citations(text, evidence)
    if grounding == "extracted":
        notes.append("The model's answer was not supported by the evidence; the answer quotes the evidence instead.")
    if grounding == "attributed":
        notes.append("The model cited nothing; citations were added by matching its sentences to the evidence.")
    if not generator.vision and any(h.modality != "text" for h in evidence):
        notes.append(prompt("rag.generation", "descriptors_note"))
    yield Answer(question, text, citations, evidence, timings, dropped, notes, generator.model, draft, grounding)


def ground(draft: str, question: str, evidence: list[Hit], encoder: TextEncoder, settings: GroundingSettings) -> tuple[str, Grounding]:
    """The answer text to keep, and how it is grounded (see rag.generation.grounding)."""
    text = resolve_citations(draft, evidence)[0]
    if not evidence or NO_ANSWER.lower().rstrip(".") in text.lower():
        return NO_ANSWER, "refused"
    if support(text, evidence, question) >= settings.min_support:
        return (text, "cited") if CITATION.search(text) else (attribute(text, evidence), "attributed")
    extracted = extractive_answer(question, evidence, encoder, settings)
    return extracted, "unanswered" if extracted == NO_ANSWER else "extracted"
