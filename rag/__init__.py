"""mmrag: agentic multimodal retrieval-augmented generation.

Public names load lazily, so `mmrag --help` and config checks do not import torch.
"""

import os
from importlib import import_module
from typing import Any

# OpenMP threads (torch, scikit-learn) sleep instead of spinning while they wait: with a core
# busy (the answer model's server, another request) spinning made a one-question MiniLM
# encode 700 ms instead of 15 ms on 2 cores. Must be set before torch or sklearn loads.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

_EXPORTS = {
    "Config": "rag.config", "ConfigError": "rag.config", "CorpusConfig": "rag.config",
    "load_config": "rag.config", "FileOutcome": "rag.ingest", "IngestReport": "rag.ingest",
    "Hit": "rag.items", "Item": "rag.items", "Query": "rag.items", "Span": "rag.items",
    "Library": "rag.library",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'rag' has no attribute {name!r}")
