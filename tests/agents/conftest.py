"""Fixtures for the agent: an agent over the sample library answering through the real
embedded vLLM CPU server (the session's `answer_library`), and a fixed-probability router
standing in for the trained one where a test needs chosen probabilities."""

from __future__ import annotations

from collections.abc import Mapping

import pytest

from agents import Agent, AgentConfig


class FixedRouter:
    """The trained router's interface with fixed probabilities (decision logic tests)."""

    def __init__(self, probabilities: Mapping[str, float]):
        self.probabilities = dict(probabilities)

    def route(self, question: str) -> list[tuple[str, float]]:
        return sorted(self.probabilities.items(), key=lambda kv: -kv[1])

    def route_and_embed(self, question: str) -> tuple[list[tuple[str, float]], dict]:
        return self.route(question), {}


@pytest.fixture(scope="session")
def agent(answer_library) -> Agent:
    """LLM routing (no trained router), default re-ranking and cheap reflection; the `no`
    route's answers kept short to save time."""
    return Agent(
        answer_library, AgentConfig(router="llm", direct_max_tokens=24), trained_router=None
    )


@pytest.fixture
def fixed_router() -> type[FixedRouter]:
    return FixedRouter
