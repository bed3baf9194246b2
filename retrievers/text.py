"""Text retriever: a sentence-transformers bi-encoder, optionally fused with BM25 (bm25s).

What is particular to text: paragraphs are embedded with their document title in front;
whole documents as the mean of window embeddings (nothing cut off); and with `bm25 = true`
the dense ranking is fused with a BM25 ranking by reciprocal rank, which catches rare exact
terms that a small dense encoder misses.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import chromadb
import numpy as np

from rag.core.config import CorpusConfig
from rag.core.items import Hit, Item, Query
from retrievers.base import StoredRetriever
from retrievers.encoders import text_encoder

RRF_K = 60


class TextRetriever(StoredRetriever):
    def __init__(self, corpus: CorpusConfig, client: chromadb.api.ClientAPI):
        self.encoder = text_encoder(corpus.encoder.text_model)
        spec = f"text={corpus.encoder.text_model}:{self.encoder.dim}"
        super().__init__(corpus, client, spec, "rank" if corpus.encoder.bm25 else "similarity")
        self._bm25: tuple[str, Any, list[str]] | None = None  # (collection revision, model, ids)

    def vectors(self, items: Sequence[Item]) -> np.ndarray:
        texts, batch = [f"{i.title}\n{i.text}" for i in items], self.corpus.encoder.batch_size
        if self.corpus.granularity == "document":
            return self.encoder.encode_long(texts, batch)
        return self.encoder.encode(texts, batch)

    def search(self, query: Query, k: int) -> list[Hit]:
        if not query.text.strip():
            raise ValueError(f"corpus {self.corpus.name!r} holds text: the query needs text")
        dense = self._index.query(self.encoder.query_vector(query), k)
        if not self.corpus.encoder.bm25:
            return dense
        return self._fuse(dense, self._bm25_ids(query.text, k), k)

    def _bm25_ids(self, text: str, k: int) -> list[str]:
        """The BM25 ranking's ids; the index is rebuilt whenever the collection was written
        since it was built (by this process or another: the revision lives in the store)."""
        import bm25s

        revision = self._index.revision()
        if self._bm25 is None or self._bm25[0] != revision:
            ids, docs = self._index.all_texts()
            model = bm25s.BM25()
            model.index(bm25s.tokenize(docs, stopwords="en", show_progress=False), show_progress=False)
            self._bm25 = (revision, model, ids)
        _, model, ids = self._bm25
        if not ids:
            return []
        tokens = bm25s.tokenize([text], stopwords="en", show_progress=False)
        docs, scores = model.retrieve(tokens, k=min(k, len(ids)), show_progress=False)
        return [ids[d] for d, s in zip(docs[0], scores[0], strict=True) if s > 0]

    def _fuse(self, dense: list[Hit], sparse: list[str], k: int) -> list[Hit]:
        """Reciprocal-rank fusion of the dense hits and the BM25 ranking."""
        scores: dict[str, float] = {}
        for ranking in ([h.id for h in dense], sparse):
            for rank, item_id in enumerate(ranking):
                scores[item_id] = scores.get(item_id, 0.0) + 1.0 / (RRF_K + rank + 1)
        known = {h.id: h for h in dense}
        known.update({h.id: h for h in self._index.get([i for i in scores if i not in known])})
        ranked = sorted(scores, key=scores.__getitem__, reverse=True)[:k]
        return [replace(known[i], score=scores[i]) for i in ranked if i in known]
