"""The agent's prompt templates (data files in agents/prompts/). Its settings are the
`[agent]` table of the library's config: rag.config.AgentConfig."""

from __future__ import annotations

from functools import cache
from importlib import resources

from rag.config import AgentConfig

__all__ = ["AgentConfig", "prompt"]


@cache
def prompt(name: str) -> str:
    """A prompt template: agents/prompts/NAME.md."""
    return (
        resources.files("agents")
        .joinpath("prompts", f"{name}.md")
        .read_text(encoding="utf-8")
        .strip()
    )
