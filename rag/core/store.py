"""Chroma storage: one collection per corpus (cosine space), embeddings always passed in.

Every item's metadata carries its source path, the file's content hash and how many items
the file produced in this corpus; that makes ingestion incremental (skip complete, unchanged
files) and crash-safe (a half-written file is incomplete and gets redone).
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import chromadb
import numpy as np
from chromadb.config import Settings

from rag.core.config import Config, CorpusConfig
from rag.core.errors import StoreError
from rag.core.items import Hit, Item, Span

log = logging.getLogger(__name__)
SPEC_KEY = "mmrag_encoder"
REVISION_KEY = "mmrag_revision"  # changes on every write: caches built from the items key on it
DESCRIBED = "described"  # item metadata: True once the vision model described it, False while it lacks one
ITEM_KEYS = ("source", "sha", "n_items", "modality", "granularity", "title", "parent_id", "frames")
T = TypeVar("T")


def connect(config: Config) -> chromadb.api.ClientAPI:
    """An embedded PersistentClient, or an HttpClient when the config names a server."""
    settings = Settings(anonymized_telemetry=False)
    if config.store.host:
        try:
            return chromadb.HttpClient(config.store.host, config.store.port, settings=settings)
        except Exception as exc:
            raise StoreError(
                f"cannot reach the Chroma server at {config.store.host}:{config.store.port} "
                f"({exc}); start it with `chroma run --path DIR --port {config.store.port}`"
            ) from exc
    config.store_path.mkdir(parents=True, exist_ok=True)
    return chromadb.PersistentClient(config.store_path, settings=settings)


@dataclass(frozen=True)
class FileState:
    sha: str
    stored: int
    expected: int
    undescribed: int = 0  # pictures still lacking the vision model's description (rag.library.describe)

    @property
    def complete(self) -> bool:
        return self.stored == self.expected > 0


class CorpusIndex:
    """The Chroma collection of one corpus, tied to the encoder spec it was built with."""

    def __init__(self, client: chromadb.api.ClientAPI, corpus: CorpusConfig, spec: str):
        self.corpus = corpus
        self.collection = client.get_or_create_collection(
            corpus.name,
            configuration={"hnsw": {"space": "cosine"}},
            metadata={SPEC_KEY: spec, "modality": corpus.modality},
            embedding_function=None,
        )
        stored = (self.collection.metadata or {}).get(SPEC_KEY)
        if stored != spec and not self.collection.count():
            self.collection.modify(metadata={SPEC_KEY: spec, "modality": corpus.modality})
        elif stored != spec:
            raise StoreError(
                f"corpus {corpus.name!r} was indexed with encoders [{stored}] but the config now "
                f"gives [{spec}]; run `mmrag ingest --rebuild --corpus {corpus.name} ...`"
            )
        self._batch = client.get_max_batch_size()
        self._client = client

    def revision(self) -> str:
        """A token that changes whenever any process writes to or deletes from the collection."""
        stored = self._client.get_collection(self.corpus.name).metadata or {}
        return str(stored.get(REVISION_KEY, ""))

    def _bump(self) -> None:
        metadata = {**(self.collection.metadata or {}), REVISION_KEY: uuid.uuid4().hex}
        self.collection.modify(metadata=metadata)

    def count(self) -> int:
        return self.collection.count()

    def add(self, items: Sequence[Item], embeddings: np.ndarray) -> None:
        for start in range(0, len(items), self._batch):
            chunk = items[start : start + self._batch]
            self.collection.upsert(
                ids=[i.id for i in chunk],
                embeddings=embeddings[start : start + len(chunk)],
                documents=[i.text for i in chunk],
                metadatas=[_metadata(i) for i in chunk],
            )
        self._bump()

    def file_states(self, source: str) -> dict[str, FileState]:
        """Per content hash, how many of a source's items are stored and how many it needs."""
        got = self.collection.get(where={"source": source}, include=["metadatas"])
        states: dict[str, FileState] = {}
        for meta in got["metadatas"] or []:
            sha, expected = str(meta["sha"]), meta["n_items"]
            assert isinstance(expected, int), "n_items is stored as an int (see rag.library.ingest)"
            old = states.get(sha, FileState(sha, 0, expected))
            states[sha] = FileState(sha, old.stored + 1, expected, old.undescribed + (meta.get(DESCRIBED) is False))
        return states

    def delete_source(self, source: str, keep_sha: str | None = None) -> None:
        where: dict = {"source": source}
        if keep_sha is not None:
            where = {"$and": [where, {"sha": {"$ne": keep_sha}}]}
        self.collection.delete(where=where)
        self._bump()

    def sources(self) -> set[str]:
        got = self.collection.get(include=["metadatas"])
        return {str(m["source"]) for m in got["metadatas"] or []}

    def texts(self) -> tuple[list[str], list[str], list[str]]:
        """Every item's id, text and title (what a lexical index is built from)."""
        got = self.collection.get(include=["documents", "metadatas"])
        titles = [str(m.get("title", "")) for m in included(got["metadatas"])]
        return list(got["ids"]), list(included(got["documents"])), titles

    def embeddings(self, ids: Sequence[str]) -> dict[str, np.ndarray]:
        """The stored vectors of these items."""
        if not ids:
            return {}
        got = self.collection.get(ids=list(ids), include=["embeddings"])
        return dict(zip(got["ids"], np.asarray(included(got["embeddings"]), dtype=np.float32), strict=True))

    def get(self, ids: Sequence[str]) -> list[Hit]:
        if not ids:
            return []
        got = self.collection.get(ids=list(ids), include=["documents", "metadatas"])
        documents, metadatas = included(got["documents"]), included(got["metadatas"])
        by_id = {
            i: _hit(self.corpus.name, i, d, m, 0.0)
            for i, d, m in zip(got["ids"], documents, metadatas, strict=True)
        }
        return [by_id[i] for i in ids if i in by_id]

    def query(self, embedding: np.ndarray, k: int) -> list[Hit]:
        """Nearest items, scored by cosine similarity to `embedding`. Chroma returns fewer
        than k for a small or empty collection; no count() first (it costs ~4 ms at 100k)."""
        res = self.collection.query(
            query_embeddings=[embedding], n_results=k, include=["documents", "metadatas", "distances"]
        )
        rows = zip(
            res["ids"][0],
            included(res["documents"])[0],
            included(res["metadatas"])[0],
            included(res["distances"])[0],
            strict=True,
        )
        return [_hit(self.corpus.name, i, d, m, 1.0 - dist) for i, d, m, dist in rows]


def included(field: T | None) -> T:
    """A field of a Chroma get() or query() result that `include=` asked for. Chroma types
    every field but the ids as optional (it is None when not asked for); an asked-for one is there."""
    assert field is not None, "Chroma left out a result field that include= asked for"
    return field


def _metadata(item: Item) -> dict[str, str | int | float | bool]:
    meta = {**item.metadata, **item.span.to_metadata()}
    meta.update(
        source=item.source,
        modality=item.modality,
        granularity=item.granularity,
        title=item.title,
        parent_id=item.parent_id or "",
        frames=json.dumps([str(f) for f in item.frames]),
    )
    return meta


def _hit(corpus: str, item_id: str, text: str | None, meta: Mapping[str, Any], score: float) -> Hit:
    return Hit(
        id=item_id,
        corpus=corpus,
        score=float(score),
        source=str(meta["source"]),
        modality=meta["modality"],
        granularity=meta["granularity"],
        text=text or "",
        span=Span.from_metadata(meta),
        title=str(meta.get("title", "")),
        parent_id=str(meta.get("parent_id") or "") or None,
        frames=tuple(json.loads(str(meta.get("frames") or "[]"))),
    )
