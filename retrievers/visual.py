"""The visual retriever, for image and video corpora alike: one fused vector per item.

An image item's frames are the stored (downscaled) image itself; a clip's are sampled inside
it and a whole video's span all its clips (rag.loaders), so one retriever serves both.

An item's vector is [visual, text] / sqrt(2), both halves unit-length: the visual half is the
mean CLIP embedding of its frames, the text half the text encoder's embedding of its
descriptors. A query vector [w * visual_q, (1 - w) * text_q] then has, with each item, the
cosine that Chroma ranks by proportional to w*cos_visual + (1-w)*cos_text: the weighted
fusion UniversalRAG uses, in a single HNSW search, with the weight chosen at query time.
Without visual weights the vector is the text half alone.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import chromadb
import numpy as np

from rag.core.config import CorpusConfig
from rag.core.items import Hit, Item, Query
from retrievers.base import StoredRetriever
from retrievers.encoders import normalize, text_encoder, visual_encoder


class VisualRetriever(StoredRetriever):
    def __init__(self, corpus: CorpusConfig, client: chromadb.api.ClientAPI):
        self.text = text_encoder(corpus.encoder.text_model, corpus.encoder.text_backend)
        self.visual = visual_encoder(corpus.encoder.visual_model)
        spec = f"text={self.text.name}:{self.text.dim}"
        if self.visual:
            spec = f"visual={self.visual.name}:{self.visual.dim}|{spec}"
        super().__init__(corpus, client, spec)

    def vectors(self, items: Sequence[Item]) -> np.ndarray:
        text = self.text.encode([i.text for i in items], self.corpus.encoder.batch_size)
        if self.visual is None:
            return text
        visual = np.stack([self._frames_vector(i.frames) for i in items])
        return np.concatenate([visual, text], axis=1) / math.sqrt(2)

    def _frames_vector(self, frames: Sequence[Path]) -> np.ndarray:
        assert self.visual is not None
        if not frames:
            return np.zeros(self.visual.dim, dtype=np.float32)
        return normalize(self.visual.encode_images(frames).mean(axis=0, keepdims=True))[0]

    def search(self, query: Query, k: int) -> list[Hit]:
        if self.visual is None:
            if not query.text.strip():
                raise ValueError(
                    f"corpus {self.corpus.name!r} has no visual encoder, so it cannot be "
                    f"searched by image alone; add text to the query or configure visual_model"
                )
            return self._index.query(self.text.query_vector(query), k)
        vector, scale = self._query_vector(query)
        return [replace(h, score=h.score * scale) for h in self._index.query(vector, k)]

    def _query_vector(self, query: Query) -> tuple[np.ndarray, float]:
        """The fused query vector, and the factor that turns Chroma's cosine into the fused score."""
        assert self.visual is not None
        w = self.corpus.encoder.visual_weight
        text_part: np.ndarray = np.zeros(self.text.dim, dtype=np.float32)
        if query.text.strip():
            text_part = (1 - w) * self.text.query_vector(query)
        if query.image is not None:
            visual = self.visual.encode_images([query.image])[0]
            if not query.text.strip():
                w = 1.0
        else:
            visual = self.visual.encode_texts([query.text])[0]
        vector = np.concatenate([w * visual, text_part])
        norm = float(np.linalg.norm(vector))
        return vector, math.sqrt(2) * norm
