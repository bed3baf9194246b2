"""Text retriever: a sentence-transformers bi-encoder fused with BM25, plus title links.

What is particular to text: paragraphs are embedded with their document title in front;
whole documents as the mean of window embeddings (nothing cut off). A search scores every
candidate (the dense top and the BM25 top) by a convex combination of its cosine and its 0-1
BM25 score (retrievers.lexicon), so the score stays on a 0-1 scale that calibration and
multi-route fusion can compare. With `links`, an item whose title the question names is
lifted (comparisons name both sides), and so is an item whose title the best hit's text
names: the bridge hop of a multi-hop question ("the compressor whose syntax xz imitates").
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import chromadb
import numpy as np

from rag.core.config import CorpusConfig
from rag.core.items import Hit, Item, Query
from retrievers.base import StoredRetriever
from retrievers.encoders import text_encoder
from retrievers.lexicon import Lexicon

POOL = 50  # candidates taken from each side (dense, BM25) before the fused ranking
TITLE_LIFT = 0.1  # pull toward 1 of an item whose title the question names (tuned: eval.devsets)
BRIDGE_LIFT = 0.5  # pull toward the best hit's score of an item its text names


def lift(score: float, toward: float, share: float) -> float:
    """`score` moved `share` of the way up to `toward` (never down): stays within 0-1."""
    return max(score, score + share * (toward - score))


class TextRetriever(StoredRetriever):
    def __init__(self, corpus: CorpusConfig, client: chromadb.api.ClientAPI):
        self.encoder = text_encoder(corpus.encoder.text_model, corpus.encoder.text_backend)
        super().__init__(corpus, client, f"text={self.encoder.name}:{self.encoder.dim}")
        self._lexicon: tuple[str, Lexicon, list[str]] | None = None  # (revision, index, texts)

    def vectors(self, items: Sequence[Item]) -> np.ndarray:
        texts, batch = [f"{i.title}\n{i.text}" for i in items], self.corpus.encoder.batch_size
        if self.corpus.granularity == "document":
            return self.encoder.encode_long(texts, batch)
        return self.encoder.encode(texts, batch)

    def search(self, query: Query, k: int) -> list[Hit]:
        if not query.text.strip():
            raise ValueError(f"corpus {self.corpus.name!r} holds text: the query needs text")
        vector = self.encoder.query_vector(query)
        dense = self._index.query(vector, max(k, POOL))
        if not (self.corpus.encoder.bm25 or self.corpus.encoder.links):
            return dense[:k]
        lexicon, texts = self.lexicon()
        cosine = {lexicon.position[h.id]: h.score for h in dense if h.id in lexicon.position}
        fused = self._fused(query.text, vector, cosine, lexicon, texts)
        ranked = [lexicon.ids[n] for n in sorted(fused, key=fused.__getitem__, reverse=True)[:k]]
        known = {h.id: h for h in dense}
        known.update({h.id: h for h in self._index.get([i for i in ranked if i not in known])})
        return [replace(known[i], score=fused[lexicon.position[i]]) for i in ranked if i in known]

    def _fused(
        self, text: str, vector: np.ndarray, cosine: dict[int, float], lexicon: Lexicon, texts: list[str]
    ) -> dict[int, float]:
        """Candidate position -> its 0-1 score: cosine and BM25 combined, then the title links."""
        settings = self.corpus.encoder
        lexical = lexicon.scores(text) if settings.bm25 else np.zeros(len(lexicon.ids), np.float32)
        w = settings.dense_weight if settings.bm25 else 1.0

        def score(n: int) -> float:
            return w * max(cosine[n], 0.0) + (1 - w) * float(lexical[n])

        named = lexicon.mentioned(text) if settings.links else set()
        candidates = set(cosine) | named | (set(np.argsort(-lexical)[:POOL].tolist()) if settings.bm25 else set())
        self._cosines(cosine, candidates, vector, lexicon)
        fused = {n: score(n) for n in candidates}
        if not settings.links or not fused:
            return fused
        for n in named:
            fused[n] = lift(fused[n], 1.0, TITLE_LIFT)
        best = max(fused, key=fused.__getitem__)
        bridged = lexicon.mentioned(texts[best]) - {best}
        self._cosines(cosine, bridged, vector, lexicon)
        for n in bridged:
            fused[n] = lift(fused.get(n, score(n)), fused[best], BRIDGE_LIFT)
        return fused

    def _cosines(self, cosine: dict[int, float], wanted: set[int], vector: np.ndarray, lexicon: Lexicon) -> None:
        """Adds the cosines of `wanted` items the dense search did not return (stored vectors)."""
        stored = self._index.embeddings([lexicon.ids[n] for n in wanted if n not in cosine])
        for item_id, v in stored.items():
            cosine[lexicon.position[item_id]] = float(v @ vector)
        for n in wanted:
            cosine.setdefault(n, 0.0)

    def lexicon(self) -> tuple[Lexicon, list[str]]:
        """The lexical index and the texts it was built from; rebuilt whenever the collection
        was written since (by this process or another: the revision lives in the store)."""
        revision = self._index.revision()
        if self._lexicon is None or self._lexicon[0] != revision:
            ids, texts, titles = self._index.texts()
            lexicon = Lexicon(ids, [f"{title}\n{text}" for text, title in zip(texts, titles, strict=True)], titles)
            self._lexicon = (revision, lexicon, texts)
        return self._lexicon[1], self._lexicon[2]
