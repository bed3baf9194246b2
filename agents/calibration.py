"""Per-corpus score calibration: the probability that a retriever score means "relevant".

Scores of different encoders (MiniLM cosine, CLIP-fused cosine) are not comparable, so each
corpus's score is measured against its own null distribution: the best scores that
unrelated background questions get in that corpus (median and robust spread, computed once
per corpus size). A hit scoring `SHIFT` robust spreads above an unrelated question's best
match is at 0.5. The re-ranker uses it per hit, the router's evidence probes per corpus.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Sequence

import numpy as np

from rag.library import Library

# Questions unrelated to any particular collection: their best matches in a corpus show what
# "no relevant item" scores look like there.
BACKGROUND_QUESTIONS: tuple[str, ...] = (
    "What is the tallest mountain in Africa?",
    "How do I reset a forgotten email password?",
    "Who wrote the novel Pride and Prejudice?",
    "What is the boiling point of nitrogen?",
    "How many players are on a football team?",
    "When did the Roman Empire fall?",
    "What is the exchange rate of the euro?",
    "How do vaccines train the immune system?",
    "Which planet has the most moons?",
    "What does a tax accountant do?",
    "How do I tie a bowline knot?",
    "What language is spoken in Brazil?",
    "Why is the sky blue?",
    "How long should I boil an egg?",
    "What is a prime number?",
    "Who painted the Mona Lisa?",
)
# Robust spreads above the null median that count as 50 % relevant. 1, not 2: with hybrid
# (cosine + BM25) scores a technical corpus answers some "unrelated" questions in part
# (passwords, e-mail), which widens its null; at 2 the re-ranker kept nothing for 7 of the
# first 8 manpages dev questions (gold hits sit ~1.7 spreads up), at 1 it keeps 1-3 hits each.
SHIFT = 1.0
MIN_SPREAD = 0.05  # floor for the null's spread (small corpora have almost none)


def sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


class Calibrator:
    """Maps a corpus's raw retriever scores to 0-1 against that corpus's null distribution."""

    def __init__(self, library: Library, questions: Sequence[str] = BACKGROUND_QUESTIONS):
        self.library = library
        self.questions = tuple(questions)
        self._null: dict[str, tuple[int, float, float]] = {}
        self._lock = threading.Lock()

    def null(self, corpus: str) -> tuple[float, float]:
        """(median, robust spread) of the background questions' best scores in `corpus`."""
        count = self.library.counts().get(corpus, 0)
        with self._lock:
            cached = self._null.get(corpus)
            if cached is None or cached[0] != count:
                best = [
                    hits[0].score
                    for q in self.questions
                    if (hits := self.library.search(q, corpus=corpus, k=1))
                ]
                scores = np.asarray(best or [0.0])
                median = float(np.median(scores))
                spread = max(1.4826 * float(np.median(np.abs(scores - median))), MIN_SPREAD)
                self._null[corpus] = cached = (count, median, spread)
        return cached[1], cached[2]

    def __call__(self, corpus: str, scores: Sequence[float]) -> list[float]:
        median, spread = self.null(corpus)
        return [sigmoid((score - median) / spread - SHIFT) for score in scores]
