"""Stage two after retrieval: a relevance score (0-1) per hit, then adaptive up-to-k.

Signals, averaged into the relevance:
- `calibrated`: the retriever's score calibrated per corpus against its null distribution
  (agents.calibration).
- `sentence`: for images and clips the answer model reads as their descriptors (it has no
  vision), the MiniLM cosine of the question and the descriptor's best sentence, through a
  logistic centred on the grounding threshold. Text hits go without it: their retriever
  already scored them with dense, BM25 and title links, and on this project's real-text sets
  the sentence signal lowered nDCG@10 (0.962 -> 0.935 on manpages) at ~110 ms a candidate.
- `cross_encoder`: with `[agent] cross_encoder` set, a sentence-transformers CrossEncoder's
  relevance for text hits (no cross-encoder ships offline here; unset, it is skipped).
- `model`: the answer model's pointwise judgement (mRAG-style): it sees the hit as it would
  as evidence (pixels for a vision model) and the question, replies yes/no through structured
  outputs, and P(yes) is read from the first token's logprobs. On by default for a vision
  model at `generator.base_url` (`[agent] model_relevance = "auto"`), "on" forces it.

Adaptive up-to-k: keep at most k hits whose relevance reaches the threshold, best first
(models over-weight early evidence); the rest are dropped with the reason recorded.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from functools import cache
from typing import Any

import numpy as np

from agents.calibration import Calibrator, sigmoid
from agents.config import AgentConfig
from agents.state import Reranked, Scored
from rag.core.errors import GeneratorError
from rag.core.items import Hit
from rag.core.models import resolve_model
from rag.core.prompts import prompt
from rag.generation.generator import Generator
from rag.generation.grounding import DEFAULT_GROUNDING, content_words, sentences
from rag.generation.messages import ImageBudget, evidence_parts, merge_text
from rag.library import Library

SENTENCE_CENTER = DEFAULT_GROUNDING.min_similarity  # cosine the extractive answer needs
SENTENCE_SCALE = 0.1
MAX_SENTENCES = 12  # per hit: a whole document is pre-filtered lexically before embedding
log = logging.getLogger(__name__)
JUDGES_IN_FLIGHT = 8  # relevance requests sent at once (the server batches them)


@cache
def cross_encoder(name: str) -> Any:
    """A sentence-transformers CrossEncoder from a local folder, package or the HF cache."""
    from sentence_transformers import CrossEncoder

    return CrossEncoder(str(resolve_model(name)), device="cpu")


class Reranker:
    def __init__(
        self,
        library: Library,
        config: AgentConfig,
        calibrator: Calibrator | None = None,
        helper: Callable[[], Generator] | None = None,
    ):
        self.library = library
        self.config = config
        self.calibrator = calibrator or Calibrator(library)
        self.helper = helper or library.generator  # the model asked for relevance judgements
        settings = library.config.generator
        # The embedded model (no base_url) is text-only: it reads images and clips as descriptors.
        self.vision = bool(settings.base_url) and settings.vision

    def reads_descriptor(self, hit: Hit) -> bool:
        """An image or clip that reaches the answer model as its descriptor text."""
        return hit.modality != "text" and not self.vision

    @property
    def model_judges(self) -> bool:
        mode = self.config.model_relevance
        return mode == "on" or (mode == "auto" and self.vision)

    def score(self, question: str, hits: Sequence[Hit]) -> list[Scored]:
        """Every hit with its relevance and signals, in the given order."""
        signals: list[dict[str, float]] = [{"retriever": hit.score} for hit in hits]
        for corpus in dict.fromkeys(hit.corpus for hit in hits):
            ours = [i for i, hit in enumerate(hits) if hit.corpus == corpus]
            for i, value in zip(
                ours, self.calibrator(corpus, [hits[i].score for i in ours]), strict=True
            ):
                signals[i]["calibrated"] = value
        textual = [i for i, hit in enumerate(hits) if self.reads_descriptor(hit) and hit.text.strip()]
        for i, value in zip(
            textual, self._sentence_scores(question, [hits[i] for i in textual]), strict=True
        ):
            signals[i]["sentence"] = value
        if self.config.cross_encoder:
            text_hits = [i for i, hit in enumerate(hits) if hit.modality == "text"]
            for i, value in zip(
                text_hits, self._cross_scores(question, [hits[i] for i in text_hits]), strict=True
            ):
                signals[i]["cross_encoder"] = value
        if self.model_judges and hits:
            try:
                for i, value in enumerate(self._model_scores(question, hits)):
                    signals[i]["model"] = value
            except GeneratorError as exc:  # the other signals still rank the hits
                log.warning("model relevance judgement failed (%s); re-ranking without it", exc)
        return [Scored(hit, relevance(s), s) for hit, s in zip(hits, signals, strict=True)]

    def rerank(
        self, question: str, hits: Sequence[Hit], k: int, threshold: float | None = None
    ) -> Reranked:
        threshold = self.config.rerank_threshold if threshold is None else threshold
        return select(self.score(question, hits), k, threshold)

    def _sentence_scores(self, question: str, hits: Sequence[Hit]) -> list[float]:
        """Logistic of the cosine between the question and each hit's best sentence."""
        if not hits:
            return []
        encoder = self.library.text_encoder()
        pools = [candidate_sentences(question, hit.text) for hit in hits]
        flat = [s for pool in pools for s in pool]
        cosines = encoder.encode(flat) @ encoder.encode([question])[0]
        out, start = [], 0
        for pool in pools:
            best = float(cosines[start : start + len(pool)].max())
            out.append(sigmoid((best - SENTENCE_CENTER) / SENTENCE_SCALE))
            start += len(pool)
        return out

    def _model_scores(self, question: str, hits: Sequence[Hit]) -> list[float]:
        """P(yes) of the answer model asked whether each hit helps answer the question."""
        generator = self.helper()
        settings = generator.settings

        def judge(hit: Hit) -> float:
            budget = ImageBudget(settings.max_images, settings.max_image_bytes)
            parts = evidence_parts(1, hit, hit.text, settings, self.vision and generator.vision, budget)
            ask = {"type": "text", "text": f"Question: {question}\nDoes the evidence help answer it? yes or no:"}
            messages: list[dict[str, Any]] = [
                {"role": "system", "content": prompt("agents", "relevance")},
                {"role": "user", "content": merge_text([*parts, ask])},
            ]
            return generator.choice_probabilities(messages, ("yes", "no"))["yes"]

        with ThreadPoolExecutor(min(JUDGES_IN_FLIGHT, len(hits))) as pool:
            return list(pool.map(judge, hits))

    def _cross_scores(self, question: str, hits: Sequence[Hit]) -> list[float]:
        if not hits:
            return []
        import torch

        model = cross_encoder(self.config.cross_encoder or "")
        scores = np.asarray(
            model.predict([(question, h.text) for h in hits], activation_fn=torch.nn.Sigmoid())
        )
        if scores.ndim != 1:
            raise ValueError(
                f"cross-encoder {self.config.cross_encoder!r} gives {scores.shape[-1]} labels per pair; "
                "a relevance cross-encoder (one label) is needed"
            )
        return [float(s) for s in scores]


def candidate_sentences(question: str, text: str, most: int = MAX_SENTENCES) -> list[str]:
    """The hit's sentences worth embedding: all of a short hit; of a long one (a whole
    document) the `most` sharing the most content words with the question."""
    pool = sentences(text) or [" ".join(text.split())]
    if len(pool) <= most:
        return pool
    words = content_words(question)
    overlap = [len(words & content_words(s)) for s in pool]
    order = sorted(range(len(pool)), key=lambda i: -overlap[i])[:most]
    return [pool[i] for i in sorted(order)]


def relevance(signals: dict[str, float]) -> float:
    """The mean of the calibrated signals (the raw retriever score is kept for the record)."""
    values = [v for name, v in signals.items() if name != "retriever"]
    return float(np.mean(values)) if values else 0.0


def select(scored: Sequence[Scored], k: int, threshold: float) -> Reranked:
    """Adaptive up-to-k: at most k hits reaching the threshold, best first; the rest dropped."""
    ranked = sorted(scored, key=lambda s: s.relevance, reverse=True)
    kept: list[Scored] = []
    dropped: list[Scored] = []
    for s in ranked:
        if s.relevance < threshold:
            dropped.append(
                Scored(s.hit, s.relevance, s.signals, f"below threshold {threshold:.2f}")
            )
        elif len(kept) >= k:
            dropped.append(Scored(s.hit, s.relevance, s.signals, f"beyond k={k}"))
        else:
            kept.append(s)
    return Reranked(kept, dropped, threshold, k)
