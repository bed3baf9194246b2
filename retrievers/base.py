"""The retriever protocol every modality implements, and the storage-backed base they share.

A retriever owns its corpus's storage: ingestion hands it items and asks it what a file's
stored versions are; nobody else touches the collection. `Hit.score` is a similarity (a
cosine, or a 0-1 fusion of cosines and BM25) comparable within the corpus, which is what
re-ranking and routing calibrate against unrelated questions' scores (agents.calibration).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import chromadb
import numpy as np

from rag.core.config import CorpusConfig
from rag.core.items import Hit, Item, Query
from rag.core.store import CorpusIndex, FileState


class Retriever(Protocol):
    """Encodes a corpus's items into storage it alone holds, and searches it."""

    corpus: CorpusConfig

    def add(self, items: Sequence[Item]) -> None: ...

    def search(self, query: Query, k: int) -> list[Hit]: ...

    def versions(self, source: str) -> dict[str, FileState]: ...

    def remove(self, source: str, keep_sha: str | None = None) -> None: ...

    def sources(self) -> set[str]: ...


class StoredRetriever:
    """The storage half of a retriever over one Chroma collection; a modality adds how items
    and queries become vectors (`vectors`, `search`)."""

    def __init__(self, corpus: CorpusConfig, client: chromadb.api.ClientAPI, spec: str):
        self.corpus = corpus
        self._index = CorpusIndex(client, corpus, spec)

    def vectors(self, items: Sequence[Item]) -> np.ndarray:
        raise NotImplementedError

    def add(self, items: Sequence[Item]) -> None:
        """Encodes and stores (upserts) the items."""
        self._index.add(items, self.vectors(items))

    def versions(self, source: str) -> dict[str, FileState]:
        """Per content hash, how many of a file's items are stored and how many it needs."""
        return self._index.file_states(source)

    def remove(self, source: str, keep_sha: str | None = None) -> None:
        """Deletes a file's items (all, or those of versions other than `keep_sha`)."""
        self._index.delete_source(source, keep_sha)

    def sources(self) -> set[str]:
        return self._index.sources()
