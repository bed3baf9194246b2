"""Checks that an answer is grounded in its evidence, and grounds it when it is not.

A small model often ignores its evidence. The check is lexical: the share of the answer's
content words found in the evidence. A supported answer without citations gets them by
overlap (post-hoc attribution); an unsupported one is replaced by the evidence sentences
closest to the question, cited; with none close enough the answer says the evidence does not
answer the question.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import Literal

import numpy as np
from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

from rag.core.items import Hit
from retrievers.encoders import TextEncoder

Grounding = Literal["cited", "attributed", "extracted", "unanswered", "refused"]
NO_ANSWER = "The evidence does not answer this question."
WORD = re.compile(r"[a-z0-9]+")
SUMMARY_REQUEST = re.compile(
    r"\b(?:summar(?:y|ies|i[sz]e[sd]?)|overview|gist|recap|tl;?dr|outline|key (?:points|takeaways)|"
    r"main (?:points|ideas|events|steps)|walk me through|what (?:happens|happened|is going on)|"
    r"what(?:'?s| is| was) (?:the |this |that )?\w*\s*(?:video|clip|recording|footage|document|report|film) about)\b",
    re.I,
)


@dataclass(frozen=True)
class GroundingSettings:
    min_support: float = 0.7  # share of the answer's content words found in the evidence
    min_similarity: float = 0.45  # question-sentence cosine for an extractive answer
    max_sentences: int = 2
    summary_sentences: int = 5  # key sentences quoted for a summary request


DEFAULT_GROUNDING = GroundingSettings()


TABLE_ROW = re.compile(r"^\s*\|(.*)\|\s*$")  # a line of a Markdown table (rag.loaders.parsed)


@cache
def _stem() -> Callable[[str], str]:
    from nltk.stem import PorterStemmer

    return PorterStemmer().stem


@cache
def _sentence_splitter() -> Callable[[str], list[str]]:
    from llama_index.core.node_parser.text.utils import split_by_sentence_tokenizer

    return split_by_sentence_tokenizer()


def content_words(text: str) -> set[str]:
    """Stemmed words that carry meaning (no stop words, no one- or two-letter words)."""
    stem = _stem()
    return {stem(w) for w in WORD.findall(text.lower()) if len(w) > 2 and w not in ENGLISH_STOP_WORDS}


# Words of a question's form, not its content: how to answer and where to look ("summarise
# the volcano video" asks about "volcano"). Evidence need not hold them.
QUESTION_FORM = content_words(
    "does did happen happens happened many much kind type way thing things called "
    "summarise summarize summary summaries overview gist recap outline describe description "
    "explain tell show find give list play watch look see read search point moment scene "
    "part bit step steps whole entire full overall main key please pls thanks "
    "video videos vid footage recording recorded clip clips film movie vlog stream tutorial "
    "photo photos picture pictures pic pics image images screenshot scan diagram chart "
    "document documents doc report file files notes page pages text"
)


def numbers(text: str) -> set[str]:
    """The numbers written in a text."""
    return set(re.findall(r"\d+(?:[.,]\d+)?", text))


def sentences(text: str, min_words: int = 3) -> list[str]:
    """Sentences of a text (punkt, via llama-index); headings and blank lines end a sentence,
    and each row of a Markdown table is one sentence that names its columns (`table_rows`)."""
    found: list[str] = []
    for block in re.split(r"\n\s*\n|\n(?=\s*#)", text):
        for is_table, run in itertools.groupby(block.splitlines(), key=lambda line: bool(TABLE_ROW.match(line))):
            lines = list(run)
            if is_table:
                found += table_rows(lines)
            else:
                found += [" ".join(s.split()).strip(" #*=-") for s in _sentence_splitter()(" ".join(" ".join(lines).split()))]
    return [s for s in found if len(content_words(s)) >= min_words]


def table_rows(lines: list[str]) -> list[str]:
    """A Markdown table's rows read with their header: '| Night | 17.25 |' under
    '| Shift | Rate |' is 'Shift: Night; Rate: 17.25.' (a row alone says nothing of what
    its numbers are)."""
    rows = [[cell.strip() for cell in re.split(r"(?<!\\)\|", m.group(1))] for line in lines if (m := TABLE_ROW.match(line))]
    rows = [row for row in rows if not all(set(cell) <= set("-: ") for cell in row)]
    if len(rows) < 2:
        return [" ".join(cell for row in rows for cell in row if cell)]
    header, body = rows[0], rows[1:]
    return ["; ".join(f"{h}: {v}" if h else v for h, v in zip(header, row, strict=False) if v) + "." for row in body]


def support(answer: str, evidence: list[Hit], question: str = "") -> float:
    """Share of the answer's new content words (not in the question) that the evidence holds;
    0 for an answer that only restates the question or states a number the evidence lacks."""
    answer = re.sub(r"\[\d+\]", " ", answer)
    words = content_words(answer) - content_words(question)
    if not words or not numbers(answer) - numbers(question) <= set().union(*(numbers(h.text) for h in evidence)):
        return 0.0
    known = set().union(*(content_words(h.text) for h in evidence)) if evidence else set()
    return len(words & known) / len(words)


def attribute(answer: str, evidence: list[Hit]) -> str:
    """Adds [n] after each sentence for the evidence sharing the most content words with it."""
    out = []
    for sentence in re.split(r"(?<=[.!?])\s+", answer.strip()):
        words = content_words(sentence)
        overlaps = [len(words & content_words(h.text)) for h in evidence]
        best = int(np.argmax(overlaps)) if overlaps else -1
        if best >= 0 and overlaps[best] > 0 and not re.search(r"\[\d+\]", sentence):
            sentence = re.sub(r"([.!?]?)$", rf" [{best + 1}]\1", sentence, count=1)
        out.append(sentence)
    return " ".join(out)


def closest_sentences(question: str, evidence: list[Hit], encoder: TextEncoder, settings: GroundingSettings) -> list[tuple[int, str]]:
    """(evidence number, sentence) pairs most similar to the question, above the threshold."""
    pool = [(n, s) for n, hit in enumerate(evidence, start=1) for s in sentences(hit.text)]
    if not pool:
        return []
    scores = encoder.encode([s for _, s in pool]) @ encoder.encode([question])[0]
    ranked = [i for i in np.argsort(-scores) if scores[i] >= settings.min_similarity]
    return [pool[i] for i in ranked[: settings.max_sentences]]


def extractive_answer(question: str, evidence: list[Hit], encoder: TextEncoder, settings: GroundingSettings) -> str:
    """The evidence sentences closest to the question, cited; for a summary request ("what
    happens in ...", "give me an overview of ...") the key sentences of the evidence in
    their order, since no single sentence is close to such a question."""
    picked = (
        key_sentences(evidence, encoder, settings.summary_sentences)
        if is_summary_request(question)
        else closest_sentences(question, evidence, encoder, settings)
    )
    if not picked:
        return NO_ANSWER
    return " ".join(f"{s.rstrip('.')} [{n}]." for n, s in picked)


def is_summary_request(question: str) -> bool:
    """Whether the question asks for a summary, overview or account of what happens."""
    return bool(SUMMARY_REQUEST.search(question))


def key_sentences(evidence: list[Hit], encoder: TextEncoder, most: int) -> list[tuple[int, str]]:
    """(evidence number, sentence) pairs that summarise the evidence: the best hit's
    sentences first, each hit's share chosen by closeness to that hit's centroid (its
    most central sentences), kept in their original order."""
    picked: list[tuple[int, str]] = []
    for n, hit in enumerate(evidence, start=1):
        room = most - len(picked)
        pool = sentences(hit.text)
        if room <= 0 or not pool:
            continue
        if len(pool) > room:
            vectors = encoder.encode(pool)
            central = vectors @ vectors.mean(axis=0)
            pool = [pool[i] for i in sorted(np.argsort(-central)[:room])]
        picked += [(n, s) for s in pool]
    return picked


def compress(hit: Hit, question: str, encoder: TextEncoder, keep: int) -> str:
    """The `keep` sentences of the hit most similar to the question, in their original order."""
    parts = sentences(hit.text)
    if len(parts) <= keep:
        return hit.text
    scores = encoder.encode(parts) @ encoder.encode([question])[0]
    chosen = sorted(np.argsort(-scores)[:keep])
    return " ".join(parts[i] for i in chosen)
