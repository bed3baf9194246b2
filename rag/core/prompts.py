"""Prompts are data files, not strings in code: PACKAGE/prompts/NAME.md, read once."""

from functools import cache
from importlib import resources


@cache
def prompt(package: str, name: str) -> str:
    """The template PACKAGE/prompts/NAME.md (e.g. prompt("agents", "router"))."""
    return resources.files(package).joinpath("prompts", f"{name}.md").read_text(encoding="utf-8").strip()
