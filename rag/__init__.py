"""mmrag: agentic multimodal retrieval-augmented generation.

Public names load lazily, so `mmrag --help` and config checks do not import torch.
"""

from importlib import import_module
from typing import Any

_EXPORTS = {
    "Config": "rag.core.config", "ConfigError": "rag.core.config", "CorpusConfig": "rag.core.config",
    "load_config": "rag.core.config", "FileOutcome": "rag.library.ingest", "IngestReport": "rag.library.ingest",
    "Hit": "rag.core.items", "Item": "rag.core.items", "Query": "rag.core.items", "Span": "rag.core.items",
    "Library": "rag.library",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'rag' has no attribute {name!r}")
