"""The agent: route -> retrieve -> rerank -> generate -> reflect over the library's corpora.

    from agents import Agent

Exports load lazily, so `import agents.routing` (the trained router) stays light.
"""

from __future__ import annotations

import os
from importlib import import_module
from typing import TYPE_CHECKING, Any

# OpenMP threads (torch, scikit-learn) sleep instead of spinning while they wait: with a core
# busy (the answer model's server, another request) spinning made a one-question MiniLM
# encode 700 ms instead of 15 ms on 2 cores. Must be set before torch or sklearn loads.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

if TYPE_CHECKING:
    from agents.agent import Agent
    from agents.config import AgentConfig
    from agents.state import AgentAnswer

__all__ = ["Agent", "AgentAnswer", "AgentConfig"]
_WHERE = {"Agent": "agents.agent", "AgentAnswer": "agents.state", "AgentConfig": "agents.config"}


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        return getattr(import_module(_WHERE[name]), name)
    raise AttributeError(f"module 'agents' has no attribute {name!r}")
