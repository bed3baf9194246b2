"""Prompt templates as data files; `load(name)` reads rag/prompts/NAME.md."""

from functools import cache
from importlib import resources


@cache
def load(name: str) -> str:
    return resources.files(__name__).joinpath(f"{name}.md").read_text(encoding="utf-8").strip()
