"""Evidence probes: before the route is decided, a small search of every corpus that holds
items says how likely each one holds evidence for the question.

The top hit's score in each corpus is turned into that probability by the corpus's own
calibration (agents.calibration: against the scores unrelated questions get there). One
query embedding per text encoder serves every corpus that uses it: the router hands over
MiniLM's from its own forward pass, so probing five corpora costs five index look-ups and
no extra encoding.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from agents.calibration import Calibrator
from rag.core.items import Query
from rag.generation.grounding import QUESTION_FORM, content_words, numbers
from rag.library import Library

PROBES_IN_FLIGHT = 4


class Prober:
    def __init__(self, library: Library, calibrator: Calibrator):
        self.library = library
        self.calibrator = calibrator
        self._pool = ThreadPoolExecutor(PROBES_IN_FLIGHT, thread_name_prefix="probe")

    def __call__(
        self,
        question: str,
        corpora: Sequence[str],
        embeddings: Mapping[str, np.ndarray] | None = None,
        image: Path | None = None,
    ) -> dict[str, float]:
        """Corpus -> the probability that it holds a match for the question, for each of
        `corpora` (which must hold items)."""
        query = Query(question, image, dict(embeddings or {}))
        # Chroma's index look-ups release the GIL: the corpora are searched side by side.
        tops = list(self._pool.map(lambda c: self.library.search(query, corpus=c, k=1), corpora))
        return {c: self.calibrator(c, [hits[0].score])[0] for c, hits in zip(corpora, tops, strict=True) if hits}

    def content_match(self, question: str, corpora: Sequence[str], ceiling: float) -> dict[str, float]:
        """Corpus -> probability of each confident match for the question's content words
        alone: a top hit (of three) holding every content word and number of the question,
        calibrated at least `ceiling`. Checks a `no` answer: "Summarise the volcano video"
        has no close match as a whole question, but "volcano" has."""
        text = content_query(question)
        wanted = content_words(text) | numbers(question)
        found: dict[str, float] = {}
        if not text or not wanted:
            return found
        for corpus in corpora:
            for hit in self.library.search(Query(text), corpus=corpus, k=3):
                if wanted <= content_words(f"{hit.title} {hit.text}") | numbers(hit.text):
                    p = self.calibrator(corpus, [hit.score])[0]
                    if p >= ceiling:
                        found[corpus] = max(p, found.get(corpus, 0.0))
        return found


def content_query(question: str) -> str:
    """The question's content words in their order, without the words of the request
    ("Summarise the volcano video." -> "volcano"); empty when nothing is left."""
    words = [w for w in question.replace("'", " ").split() if w.strip("?.,!:;\"()").lower()]
    kept = [w for w in words if (c := content_words(w)) and not c <= QUESTION_FORM]
    return " ".join(w.strip("?.,!:;\"()") for w in kept)
