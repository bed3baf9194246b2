"""Modality-specific contrastive retrievers behind one protocol (see retrievers.base)."""

from __future__ import annotations

import chromadb

from rag.config import CorpusConfig
from retrievers.base import Retriever


def build_retriever(corpus: CorpusConfig, client: chromadb.api.ClientAPI) -> Retriever:
    """The retriever for a corpus's modality, bound to its collection."""
    from retrievers.image import ImageRetriever
    from retrievers.text import TextRetriever
    from retrievers.video import VideoRetriever

    kinds = {"text": TextRetriever, "image": ImageRetriever, "video": VideoRetriever}
    return kinds[corpus.modality](corpus, client)


__all__ = ["Retriever", "build_retriever"]
