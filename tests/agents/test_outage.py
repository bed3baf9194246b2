"""Generator outages: a real HTTP server on loopback that answers badly (not JSON, too slow,
HTTP 500, text that is no label). Bounded attempts, then a clear error or a labelled fallback:
the trained router decides, the cheap reflection stands, re-ranking goes on without the
model's judgement. Never a hang: each call runs in a thread that must finish."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from agents import Agent, AgentConfig
from agents.reflect import Reflector
from agents.rerank import Reranker
from agents.router import LLMRouter, Router, label_corpora
from rag.core.config import GeneratorConfig
from rag.core.errors import GeneratorError, GeneratorUnavailable
from rag.generation.answer import Answer, Citation
from rag.generation.generator import Generator
from rag.library import Library
from tests.helpers import BrokenOpenAIServer

SALT = "how many grams of salt per litre of pasta water"


EXPECTED = {"garbage": "malformed response", "slow": "did not answer in time", "error": "HTTP 500"}


@pytest.fixture(params=list(EXPECTED))
def broken(request: pytest.FixtureRequest) -> Iterator[BrokenOpenAIServer]:
    server = BrokenOpenAIServer(request.param, delay=20)
    yield server
    server.close()


def finishes(call: Callable[[], Any], within: float = 60) -> Any:
    """The call's result (or exception, re-raised), failing the test if it hangs."""
    out: dict[str, Any] = {}

    def run() -> None:
        try:
            out["value"] = call()
        except BaseException as exc:  # noqa: BLE001 - handed back to the test
            out["error"] = exc

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(within)
    assert not thread.is_alive(), "the call hung"
    if "error" in out:
        raise out["error"]
    return out["value"]


def generator(server: BrokenOpenAIServer) -> Generator:
    settings = GeneratorConfig(base_url=server.url, timeout_s=1.0, retries=1)
    return Generator(server.url, "m", settings, vision=False)


def test_bad_servers_give_one_clear_error_after_bounded_attempts(broken: BrokenOpenAIServer) -> None:
    with pytest.raises(GeneratorError) as caught:
        finishes(lambda: generator(broken).complete([{"role": "user", "content": "hi"}]))
    message = str(caught.value)
    assert broken.url in message and EXPECTED[broken.mode] in message
    assert broken.requests == (1 if broken.mode == "garbage" else 2)  # retries = 1; bad JSON is not retried
    assert isinstance(caught.value, GeneratorUnavailable) == (broken.mode == "slow")


def test_a_failing_llm_router_leaves_the_decision_to_the_trained_router(broken: BrokenOpenAIServer, fixed_router) -> None:
    from rag.core.config import Config

    config = Config()
    unsure = fixed_router({"paragraph": 0.4, "document": 0.35, "image": 0.25})
    router = Router(AgentConfig(router="hybrid", confidence=0.9), unsure, LLMRouter(lambda: generator(broken), config))
    decision = finishes(lambda: router.decide("Which river is longer?", label_corpora(config)))
    assert decision.decided_by == "trained" and decision.label == "paragraph"
    assert decision.reason.startswith("LLM router unavailable (the generator at")


def test_a_nonsense_router_reply_still_gives_an_offered_label() -> None:
    server = BrokenOpenAIServer("nonsense")
    try:
        from rag.core.config import Config

        router = LLMRouter(lambda: generator(server), Config())
        assert finishes(lambda: router.choose("Show me the lava clip", ["clip", "video"])) in ("clip", "video")
    finally:
        server.close()


def test_reflection_and_reranking_go_on_without_the_model(sample_library: Library) -> None:
    server = BrokenOpenAIServer("garbage")
    try:
        hits = sample_library.search(SALT, corpus="text-paragraph", k=3)
        answer = Answer(SALT, "About ten grams per litre [1].", [Citation(1, hits[0])], hits, {}, grounding="cited")
        reflector = Reflector(AgentConfig(reflection="llm"), lambda: generator(server))
        verdict = finishes(lambda: reflector.verdict(0, SALT, ("paragraph",), ("text-paragraph",), answer, [], False))
        assert verdict.mode == "cheap" and "LLM check unavailable" in verdict.reason
        library = Library(sample_library.config.model_copy(update={"generator": GeneratorConfig(base_url=server.url, timeout_s=1, retries=0)}))
        scored = finishes(lambda: Reranker(library, AgentConfig(model_relevance="on")).score(SALT, hits))
        assert all("model" not in s.signals and "calibrated" in s.signals for s in scored)
    finally:
        server.close()


def test_the_agent_with_a_dead_generator_fails_clearly_not_forever(sample_library: Library) -> None:
    server = BrokenOpenAIServer("slow", delay=20)
    try:
        settings = GeneratorConfig(base_url=server.url, timeout_s=1, retries=0)
        library = Library(sample_library.config.model_copy(update={"generator": settings}))
        agent = Agent(library, AgentConfig(router="trained"))
        with pytest.raises(GeneratorUnavailable, match="did not answer in time"):
            finishes(lambda: agent.ask(SALT))
    finally:
        server.close()


def test_replicas_share_requests_round_robin_and_cover_for_a_dead_one() -> None:
    from tests.helpers import free_port

    first, second = BrokenOpenAIServer("nonsense"), BrokenOpenAIServer("nonsense")
    try:
        settings = GeneratorConfig(base_url=first.url, replicas=[second.url], timeout_s=2, retries=0)
        shared = Generator(first.url, "m", settings, vision=False)
        for _ in range(4):
            assert shared.complete([{"role": "user", "content": "hi"}]).startswith("{{{")
        assert (first.requests, second.requests) == (2, 2)
        dead = f"http://127.0.0.1:{free_port()}/v1"
        failover = Generator(dead, "m", settings.model_copy(update={"base_url": dead, "replicas": [first.url]}), vision=False)
        for _ in range(3):
            finishes(lambda: failover.complete([{"role": "user", "content": "hi"}]))
        assert first.requests == 2 + 3
    finally:
        first.close()
        second.close()


def test_routing_and_relevance_calls_go_to_the_configured_helper_model(sample_library: Library) -> None:
    helper = BrokenOpenAIServer("nonsense")
    try:
        config = AgentConfig(router="llm", model_relevance="on", helper=GeneratorConfig(base_url=helper.url, model="small"))
        agent = Agent(sample_library, config, trained_router=None)
        decision = agent.router().decide(SALT, agent.mapping())
        assert decision.decided_by == "llm" and helper.requests == 1
        hits = sample_library.search(SALT, corpus="text-paragraph", k=2)
        scored = agent.reranker.score(SALT, hits)
        assert helper.requests == 3 and all(s.signals["model"] in (0.0, 1.0) for s in scored)  # no logprobs: the reply
        assert agent.helper().model == "small" and agent.helper() is agent.helper()
    finally:
        helper.close()
