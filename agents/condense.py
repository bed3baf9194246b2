"""Follow-ups made standalone before routing ("and how long should it boil?" after a question
about pasta water), two ways:

- rules (`condense_rules`): deterministic, independent of any model's quality. A reference
  to an item the previous answer cited ("that photo", "the second clip", "[2]") becomes the
  item's name; a follow-up that leans on the conversation (a pronoun, "and ...", "what
  about ...", no content word of its own) carries the previous question's key terms.
- llm (`condense_llm`): the helper model rewrites it (agents/prompts/condense.md), one short
  line, accepted only when it is not empty, not a copy of an earlier question and shares a
  content word with the conversation; otherwise the rules decide.

A self-contained question (a new topic) is left as it is.
"""

from __future__ import annotations

import re
import time
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from agents.labels import Label
from agents.state import Condensed, Turn
from rag.core.errors import GeneratorError
from rag.core.items import Hit, Modality
from rag.core.prompts import prompt
from rag.generation.generator import Generator
from rag.generation.grounding import QUESTION_FORM, content_words

WORD = re.compile(r"[A-Za-z0-9][A-Za-z0-9'-]*")
# Words that name where to look, by modality (a follow-up naming one is routed on its words).
MODALITY_WORDS: dict[Modality, tuple[str, ...]] = {
    "text": ("document", "documents", "doc", "docs", "file", "page", "pages", "pdf", "guide", "article",
             "manual", "handbook", "text", "passage", "paragraph", "notes", "report"),
    "image": ("image", "images", "photo", "photos", "picture", "pictures", "pic", "pics", "photograph",
              "photographs", "snapshot", "screenshot"),
    "video": ("video", "videos", "clip", "clips", "footage", "recording", "film", "movie", "scene"),
}
NOUN_MODALITY = {w: m for m, words in MODALITY_WORDS.items() for w in words}
WHOLE_DOCUMENT = {"document", "documents", "doc", "docs", "file", "guide", "article", "manual", "handbook", "report", "pdf"}
KIND: dict[Modality, str] = {"text": "document", "image": "image", "video": "video"}
ORDINALS = {"first": 0, "second": 1, "third": 2, "fourth": 3, "fifth": 4, "last": -1}
REFERENCE = re.compile(
    r"\b(?:(?:that|this|the|those|these)\s+(?:(?P<ordinal>" + "|".join(ORDINALS) + r")\s+)?"
    r"(?P<noun>" + "|".join(sorted(NOUN_MODALITY, key=len, reverse=True)) + r"|source|one)s?"
    r"|(?:source|evidence)\s+(?P<number>\d+)|\[(?P<bracket>\d+)\])\b",
    re.I,
)
PRONOUN = re.compile(
    r"\b(?:it|its|it's|itself|that|this|these|those|they|them|their|he|him|his|she|her|one|same|there)\b(?<!\bis there)"
    r"(?<!\bare there)(?<!\bwas there)(?<!\bwere there)",
    re.I,
)
CONTINUATION = re.compile(
    r"^\W*(?:(?:ok(?:ay)?|hmm+|oh|right|wait)\W+)?(?:and|also|or|but|so|then|what about|how about|same for|why|how come)\b", re.I
)
# Verbs and question words that say nothing about the subject.
FILLER = content_words(
    "go goes going went put puts get gets got need needs make makes made take takes use uses used say says said "
    "come comes keep keeps know want like mean means long often far old soon else more tell wait ok okay yes right "
    "tho though just actually really anything something stuff thing bit again whenever"
)
MAX_SUBJECT = 6
CARRIED = "{question} ({subject})"  # a follow-up with the previous question's subject


def modality_named(text: str) -> set[Modality]:
    """The modalities a question names ("in the video" -> video)."""
    return {NOUN_MODALITY[w] for w in (x.lower() for x in WORD.findall(text)) if w in NOUN_MODALITY}


def key_terms(text: str) -> list[str]:
    """The words of a question that name its subject, in order: no stop words, no question
    form ("summarise", "how long"), no words naming a modality."""
    terms: list[str] = []
    for word in WORD.findall(text):
        stem = content_words(word)
        if stem and not stem & (QUESTION_FORM | FILLER) and word.lower() not in NOUN_MODALITY and word.lower() not in (t.lower() for t in terms):
            terms.append(word)
    return terms


def leans_on_context(question: str) -> bool:
    """Whether a question needs the conversation: an opening like "and" or "what about", no
    subject word of its own, or a pronoun with little subject of its own (no name, under
    three key terms: "what is it like in Lisbon?" stands alone)."""
    terms = key_terms(question)
    named = any(w[0].isupper() for w in terms if not question.lstrip().startswith(w))
    if CONTINUATION.search(question) or not terms:
        return True
    return bool(PRONOUN.search(question)) and not named and len(terms) < 3


def item_name(hit: Hit) -> str:
    """How a cited item is named in a standalone question: its title, else its file name."""
    stem = Path(hit.source).stem.replace("_", " ")
    return hit.title if hit.title and hit.modality == "text" else stem


def resolve_reference(question: str, cited: Sequence[Hit]) -> tuple[str, str, Hit] | None:
    """The question with its reference to a cited item ("that photo", "the second clip",
    "source 2") replaced by the item's name, the question without the reference, and the
    item; None when it names none."""
    for match in REFERENCE.finditer(question):
        number = match.group("number") or match.group("bracket")
        noun = (match.group("noun") or "").lower()
        if number:
            hit = cited[int(number) - 1] if 0 < int(number) <= len(cited) else None
        else:
            modality = NOUN_MODALITY.get(noun)
            if match.group(0).lower().startswith("the ") and not match.group("ordinal") and modality is None:
                continue  # "the one": too vague to point at a source
            pool = [h for h in cited if modality is None or h.modality == modality]
            index = ORDINALS.get((match.group("ordinal") or "first").lower(), 0)
            hit = pool[index] if pool and -len(pool) <= index < len(pool) else None
        if hit is not None:
            named = f"the {noun or KIND[hit.modality]} {item_name(hit)}"
            rest = question[: match.start()] + question[match.end():]
            return question[: match.start()] + named + question[match.end():], rest, hit
    return None


def condense_rules(question: str, history: Sequence[Turn]) -> Condensed:
    """The deterministic rewrite (see the module docstring)."""
    if not history:
        return Condensed(question, question, "none")
    last = history[-1]
    text, rest, reasons = question, question, []
    prefer: tuple[Label, ...] = last.labels
    resolved = resolve_reference(question, last.cited)
    if resolved is not None:
        text, rest, hit = resolved
        reasons.append(f"resolved the reference to {Path(hit.source).name}")
        whole = {w.lower() for w in WORD.findall(question)} & WHOLE_DOCUMENT and hit.modality == "text"
        prefer = ("document",) if whole else (hit.granularity,)
    if leans_on_context(rest) if resolved is None else (PRONOUN.search(rest) or CONTINUATION.search(rest)):
        own = {w.lower() for w in key_terms(text)}
        subject = [w for w in key_terms(last.asked) if w.lower() not in own][:MAX_SUBJECT]
        if subject:
            text = CARRIED.format(question=text.rstrip(), subject=" ".join(subject))
            reasons.append(f"carried the subject '{' '.join(subject)}'")
    elif resolved is None:
        return Condensed(question, question, "rules", "self-contained")
    if modality_named(question) - ({hit.modality} if resolved is not None else set()):
        prefer = ()  # a follow-up naming another place to look is routed on its words
    return Condensed(question, text, "rules", "; ".join(reasons) or "no subject to carry", True, prefer=prefer)


def condense_llm(generator: Generator, question: str, history: Sequence[Turn], max_tokens: int) -> Condensed:
    """The helper model's rewrite, checked; the rules' when it fails or is rejected."""
    if not history:
        return Condensed(question, question, "none")
    lines = [f"User: {t.question}\nAssistant: {' '.join(t.answer.split())[:300]}" for t in history]
    messages = [
        {"role": "system", "content": prompt("agents", "condense")},
        {"role": "user", "content": "Conversation:\n" + "\n".join(lines) + f"\n\nLast message: {question}\nStandalone question:"},
    ]
    try:
        reply = generator.complete(messages, max_tokens=max_tokens)
    except GeneratorError as exc:
        return fallback(question, history, f"the model's rewrite failed ({exc})")
    text = clean_reply(reply)
    problem = rejected(text, question, history)
    if problem:
        return fallback(question, history, f"the model's rewrite was rejected: {problem}")
    dependent = text.lower() != question.lower() or leans_on_context(question)
    prefer = history[-1].labels if dependent and not modality_named(question) else ()
    return Condensed(question, text, "llm", "rewritten by the model", dependent, prefer=prefer)


def fallback(question: str, history: Sequence[Turn], why: str) -> Condensed:
    rules = condense_rules(question, history)
    return replace(rules, reason=f"{why}; {rules.reason}")


def clean_reply(reply: str) -> str:
    """The first non-empty line, without a label or quotes."""
    line = next((x for x in reply.strip().splitlines() if x.strip()), "")
    line = re.sub(r"^\s*(?:standalone question|question|rewritten)\s*:\s*", "", line, flags=re.I)
    return line.strip().strip("\"'`").strip()


def rejected(text: str, question: str, history: Sequence[Turn]) -> str:
    """Why a rewrite cannot stand ("" when it can)."""
    if not text:
        return "empty"
    if len(text.split()) > 3 * len(question.split()) + 25:
        return "too long"
    earlier = {" ".join(t.question.lower().split()) for t in history}
    if " ".join(text.lower().split()) in earlier and text.lower() != question.lower():
        return "a copy of an earlier question"
    context = content_words(question) | content_words(" ".join(t.asked for t in history))
    if not content_words(text) & context:
        return "no word of the conversation in it"
    own = content_words(" ".join(key_terms(question)))
    if len(own - content_words(text)) > len(own) / 2:
        return "it drops the follow-up's own words"
    return ""


def condense(
    question: str, history: Sequence[Turn], method: str, generator: Generator | None, max_tokens: int
) -> Condensed:
    """The standalone question by `method` ("rules", "llm" or "off"), timed."""
    start = time.perf_counter()
    if method == "off" or not history:
        result = Condensed(question, question, "none")
    elif method == "llm" and generator is not None:
        result = condense_llm(generator, question, history, max_tokens)
    else:
        result = condense_rules(question, history)
    return replace(result, seconds=time.perf_counter() - start)
