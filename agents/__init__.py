"""The agent: route -> retrieve -> rerank -> generate -> reflect over the library's corpora.

    from agents import Agent

Exports load lazily, so `import agents.intent` (the trained router) stays light.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from agents.agent import Agent
    from agents.config import AgentConfig
    from agents.conversation import Conversation
    from agents.state import AgentAnswer, Turn

__all__ = ["Agent", "AgentAnswer", "AgentConfig", "Conversation", "Turn"]
_WHERE = {"Agent": "agents.agent", "AgentAnswer": "agents.state", "AgentConfig": "agents.config",
          "Conversation": "agents.conversation", "Turn": "agents.state"}


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        return getattr(import_module(_WHERE[name]), name)
    raise AttributeError(f"module 'agents' has no attribute {name!r}")
