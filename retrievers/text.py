"""Text retriever: a sentence-transformers bi-encoder, optionally fused with BM25 (bm25s).

Paragraphs are embedded with their document title in front; whole documents as the mean of
window embeddings. With `bm25 = true` both rankings are fused by reciprocal rank.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import chromadb

from rag.config import CorpusConfig
from rag.items import Hit, Item, Query
from rag.store import CorpusIndex
from retrievers.encoders import text_encoder

RRF_K = 60


class TextRetriever:
    def __init__(self, corpus: CorpusConfig, client: chromadb.api.ClientAPI):
        self.corpus = corpus
        self.encoder = text_encoder(corpus.encoder.text_model)
        spec = f"text={corpus.encoder.text_model}:{self.encoder.dim}"
        self.store = CorpusIndex(client, corpus, spec)
        self._bm25: tuple[int, object, list[str]] | None = None

    def index(self, items: Sequence[Item]) -> None:
        batch = self.corpus.encoder.batch_size
        if self.corpus.granularity == "document":
            vectors = self.encoder.encode_long([f"{i.title}\n{i.text}" for i in items], batch)
        else:
            vectors = self.encoder.encode([f"{i.title}\n{i.text}" for i in items], batch)
        self.store.add(items, vectors)

    def search(self, query: Query, k: int) -> list[Hit]:
        if not query.text.strip():
            raise ValueError(f"corpus {self.corpus.name!r} holds text: the query needs text")
        dense = self.store.query(self.encoder.query_vector(query), k)
        if not self.corpus.encoder.bm25:
            return dense
        return self._fuse(dense, self._bm25_ids(query.text, k), k)

    def _bm25_ids(self, text: str, k: int) -> list[str]:
        import bm25s

        count = self.store.count()
        if self._bm25 is None or self._bm25[0] != count:
            ids, docs = self.store.all_texts()
            model = bm25s.BM25()
            model.index(bm25s.tokenize(docs, stopwords="en", show_progress=False), show_progress=False)
            self._bm25 = (count, model, ids)
        _, model, ids = self._bm25
        if not ids:
            return []
        tokens = bm25s.tokenize([text], stopwords="en", show_progress=False)
        docs, scores = model.retrieve(tokens, k=min(k, len(ids)), show_progress=False)  # type: ignore[attr-defined]
        return [ids[d] for d, s in zip(docs[0], scores[0], strict=True) if s > 0]

    def _fuse(self, dense: list[Hit], sparse: list[str], k: int) -> list[Hit]:
        """Reciprocal-rank fusion of the dense hits and the BM25 ranking."""
        scores: dict[str, float] = {}
        for rank, item_id in enumerate([h.id for h in dense]):
            scores[item_id] = scores.get(item_id, 0.0) + 1.0 / (RRF_K + rank + 1)
        for rank, item_id in enumerate(sparse):
            scores[item_id] = scores.get(item_id, 0.0) + 1.0 / (RRF_K + rank + 1)
        known = {h.id: h for h in dense}
        missing = [i for i in scores if i not in known]
        known.update({h.id: h for h in self.store.get(missing)})
        ranked = sorted(scores, key=scores.__getitem__, reverse=True)[:k]
        return [replace(known[i], score=scores[i]) for i in ranked if i in known]
