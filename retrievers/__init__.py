"""Modality-specific contrastive retrievers behind one protocol (see retrievers.base)."""

from __future__ import annotations

import chromadb

from rag.core.config import CorpusConfig
from retrievers.base import Retriever


def build_retriever(corpus: CorpusConfig, client: chromadb.api.ClientAPI) -> Retriever:
    """The retriever for a corpus's modality, bound to its collection."""
    from retrievers.text import TextRetriever
    from retrievers.visual import VisualRetriever

    if corpus.modality == "text":
        return TextRetriever(corpus, client)
    return VisualRetriever(corpus, client)


__all__ = ["Retriever", "build_retriever"]
