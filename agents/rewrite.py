"""Query rewriting for a second retrieval hop (multi-hop questions).

"Where was the director of The Glass Orchard born?" first finds the film's page, which names
the director but not the birthplace; the page that holds the answer never mentions the film,
so no single query finds both. After a round, reflection asks for a follow-up query built
from the evidence:

- feedback (the default; no model): the names in the evidence sentence closest to the
  question (the bridge: "Marta Velin") plus the question's words the evidence lacks
  ("born") -> "Marta Velin born";
- llm: the answer model writes the follow-up query from the question and the evidence
  (prompt agents/prompts/rewrite.md); the bridge names are still taken from the evidence.

The follow-up is searched at once (a look-ahead, milliseconds): a hop is taken only when a new
hit connects, holding a bridge name and a missing word. The next round then re-ranks the new
hits against the follow-up query and keeps them beside the evidence already kept.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from rag.core.items import Hit
from rag.core.prompts import prompt
from rag.generation.generator import Generator
from rag.generation.grounding import QUESTION_FORM, WORD, content_words, sentences
from rag.generation.messages import evidence_text

NAME = re.compile(r"\b[A-Z][\w'-]*(?:\s+(?:of|de|van|von|the)?\s*[A-Z][\w'-]*)*")
MAX_BRIDGE = 2
MAX_QUERY_WORDS = 16


@dataclass(frozen=True)
class FollowUp:
    """A follow-up query that the look-ahead search showed to connect."""

    query: str
    missing: tuple[str, ...]  # question words the evidence lacks
    bridge: tuple[str, ...]  # names from the evidence that the query carries over
    connecting: tuple[str, ...]  # ids of the new hits holding a bridge name and a missing word


def missing_words(question: str, evidence: Sequence[Hit]) -> list[str]:
    """The question's content words (as written) whose stems the evidence lacks."""
    known = set().union(*(content_words(f"{h.title} {h.text}") for h in evidence)) if evidence else set()
    out: list[str] = []
    for word in WORD.findall(question.lower()):
        stems = content_words(word)
        if stems and not stems & (known | QUESTION_FORM) and word not in out:
            out.append(word)
    return out


def bridge_names(question: str, evidence: Sequence[Hit]) -> tuple[list[str], Hit | None]:
    """Names (capitalised runs) that the question does not hold, from the evidence sentence
    that shares most words with the question among those naming something new; and its hit."""
    asked = content_words(question)
    best: list[str] = []
    source, overlap = None, 0
    for hit in evidence:
        for sentence in sentences(hit.text, min_words=1):
            shared = len(content_words(sentence) & asked)
            if shared > overlap and (names := new_names(sentence, asked)):
                best, source, overlap = names, hit, shared
    return best[:MAX_BRIDGE], source


def new_names(sentence: str, asked: set[str]) -> list[str]:
    """Capitalised runs of a sentence whose words are not all among the question's."""
    names: list[str] = []
    for match in NAME.finditer(sentence):
        name = match.group().removeprefix("The ").strip()
        words = content_words(name)
        if words and not words <= asked and name not in names:
            names.append(name)
    return names


def feedback_query(bridge: Sequence[str], missing: Sequence[str]) -> str:
    """The bridge names and the missing words, as one short query."""
    return " ".join([*bridge, *missing][:MAX_QUERY_WORDS])


def llm_query(generator: Generator, question: str, evidence: Sequence[Hit], missing: Sequence[str], max_tokens: int) -> str:
    """The answer model's follow-up query: its first non-empty line."""
    shown = evidence_text(evidence, generator.settings.max_evidence_chars)
    text = prompt("agents", "rewrite").format(evidence=shown, question=question, missing=", ".join(missing))
    reply = generator.complete([{"role": "user", "content": text}], max_tokens=max_tokens, temperature=0.0)
    first = next((line for line in reply.splitlines() if line.strip()), "")
    return first.strip(" \"'")


def holds(hit: Hit, name: str) -> bool:
    """Whether the hit's title or text names `name` (case folded)."""
    return name.lower() in f"{hit.title} {hit.text}".lower()


def connecting(hits: Sequence[Hit], bridge: Sequence[str], missing: Sequence[str], seen: set[str]) -> list[Hit]:
    """Hits not in `seen` that hold a bridge name and (when given) at least one missing word."""
    wanted = content_words(" ".join(missing))
    return [
        h for h in hits
        if h.id not in seen
        and any(holds(h, name) for name in bridge)
        and (not missing or content_words(f"{h.title} {h.text}") & wanted)
    ]


def common(name: str, hits: Sequence[Hit]) -> bool:
    """Whether a name is in most of the hits: a label every item carries ("Caption"), not a
    bridge to one of them."""
    holding = sum(holds(h, name) for h in hits)
    return holding > len(hits) / 2


def follow_up(
    question: str,
    evidence: Sequence[Hit],
    search: Callable[[str], list[Hit]],
    tried: Sequence[str],
    write: Callable[[Sequence[str]], str] | None = None,
    kept: Sequence[Hit] = (),
) -> FollowUp | None:
    """The follow-up query for a second hop, or None when the evidence leaves nothing
    missing, names no bridge, or the look-ahead finds no connecting hit. `write` (the LLM
    mode) turns the missing words into a query; without it, or when it gives nothing, the
    feedback query is used. Hits in `evidence` or `kept` are not new."""
    bridge, source = bridge_names(question, evidence)
    if source is None:
        return None
    # What the chain so far (the bridge's hit and any hit naming the bridge) lacks: a distractor
    # that happens to hold "born" does not answer where the bridge person was born.
    chain = [source, *connecting(evidence, bridge, (), {source.id})]
    missing = missing_words(question, chain)
    if not missing:
        return None
    query = (write(missing) if write else "") or feedback_query(bridge, missing)
    if not query or query in tried or query == question:
        return None
    hits = search(query)
    bridge = [name for name in bridge if not common(name, hits)]
    found = connecting(hits, bridge, missing, {h.id for h in [*evidence, *kept]})
    if not found:
        return None
    return FollowUp(query, tuple(missing), tuple(bridge), tuple(h.id for h in found))
