"""The retriever protocol every modality implements, and the registry that picks one."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from rag.config import CorpusConfig
from rag.items import Hit, Item, Query
from rag.store import CorpusIndex


class Retriever(Protocol):
    """Encodes a corpus's items into its own collection and searches it."""

    corpus: CorpusConfig
    store: CorpusIndex

    def index(self, items: Sequence[Item]) -> None: ...

    def search(self, query: Query, k: int) -> list[Hit]: ...
