"""The agent graph end to end, through the real embedded vLLM CPU server (SmolLM2-135M):
event order, the `no` route, re-routing after reflection, multi-route fusion, the LLM and
hybrid routers, and the async twins. Plus config mapping and the graph's shape (no server)."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import pytest

from agents import Agent, AgentAnswer, AgentConfig
from agents.router import LLMRouter, decide, label_corpora, load_trained
from agents.state import FinalEvent, RerankEvent, RouteEvent, TokenEvent
from rag.core.config import Config, CorpusConfig, load_config
from rag.core.errors import ConfigError

ASH = "What closes when volcanic ash drifts over nearby villages?"  # said only in a video clip
CODE = {"route": "R", "hits": "H", "rerank": "K", "token": "t", "reflection": "F", "final": "Z"}


def kinds(events: list) -> str:
    return "".join(CODE[e.kind] for e in events)


@pytest.fixture(scope="module")
def ash_events(agent: Agent) -> list:
    """Routed first to text paragraphs (which only say aircraft avoid ash clouds), with video
    clips next in the ranking: the transcript says the airports close."""
    return list(agent.stream(ASH, route=["paragraph", "clip"]))


@pytest.mark.server
def test_stream_yields_typed_events_in_order(ash_events: list) -> None:
    assert re.fullmatch(r"(RHKt*F)+Z", kinds(ash_events)), kinds(ash_events)
    final = ash_events[-1]
    assert isinstance(final, FinalEvent) and isinstance(final.answer, AgentAnswer)
    for record in final.answer.rounds:  # each round's tokens are that round's draft, in order
        tokens = [
            e.text for e in ash_events if isinstance(e, TokenEvent) and e.round == record.round
        ]
        assert "".join(tokens) == record.answer.draft
    rounds = [e.round for e in ash_events if isinstance(e, RouteEvent)]
    assert rounds == list(range(len(final.answer.rounds)))


@pytest.mark.server
def test_reflection_reroutes_when_the_first_corpus_has_no_support(ash_events: list) -> None:
    answer: AgentAnswer = ash_events[-1].answer
    first, second = answer.verdicts
    assert first.corpora == ("text-paragraph",) and not first.ok and first.action == "reroute"
    assert second.corpora == ("video-clip",) and second.ok and second.action == "end"
    assert answer.searched == ["text-paragraph", "video-clip"]
    assert answer.citations and all(
        Path(c.hit.source).name == "volcano_eruption.mp4" for c in answer.citations
    )
    assert "airport" in answer.text.lower() and answer.supported
    cited = answer.citations[0].hit
    assert cited.span.start_s is not None and cited.span.end_s > cited.span.start_s
    assert {s.hit.corpus for s in answer.kept} == {"video-clip"}
    assert all(s.relevance < answer.kept[-1].relevance for s in answer.dropped)
    assert [(s.step, s.round) for s in answer.steps][:5] == [
        ("route", 0),
        ("retrieve", 0),
        ("rerank", 0),
        ("generate", 0),
        ("reflect", 0),
    ]
    assert answer.timings["total_s"] >= answer.timings["generate_s"] > 0


@pytest.mark.server
def test_no_route_answers_from_the_model_alone(agent: Agent) -> None:
    events = list(agent.stream("What is twelve times seven?", route="no"))
    assert re.fullmatch(r"Rt+FZ", kinds(events)), kinds(events)  # no hits, no re-ranking
    answer = events[-1].answer
    assert answer.route.label == "no" and answer.route.corpora == ()
    assert (
        answer.evidence == []
        and answer.citations == []
        and answer.kept == []
        and answer.searched == []
    )
    assert answer.grounding == "model" and answer.text and not answer.supported
    assert any("model alone" in note for note in answer.notes)


@pytest.mark.server
def test_multi_route_searches_both_corpora_and_fuses_by_calibrated_relevance(
    answer_library, fixed_router
) -> None:
    close = fixed_router(
        {"paragraph": 0.42, "clip": 0.38, "document": 0.1, "image": 0.05, "video": 0.03, "no": 0.02}
    )
    agent = Agent(  # evidence off: the fixed probabilities are the decision's
        answer_library, AgentConfig(router="trained", multi_route_margin=0.1, evidence=False), trained_router=close
    )
    events = []
    for event in agent.stream("What happens when lava reaches the sea?"):
        events.append(event)
        if isinstance(event, RerankEvent):
            break  # the decision and the fusion are what this test is about
    route, hits, rerank = events
    assert route.decision.decided_by == "trained" and route.decision.multi
    assert route.labels == ("paragraph", "clip") and set(route.corpora) == {
        "text-paragraph",
        "video-clip",
    }
    assert {h.corpus for h in hits.hits} == {"text-paragraph", "video-clip"}
    relevances = [s.relevance for s in rerank.kept]
    assert relevances == sorted(relevances, reverse=True) and len(rerank.kept) <= hits.k
    sources = {Path(s.hit.source).name for s in rerank.kept}
    assert sources <= {"volcanoes.md", "volcano_eruption.mp4"} and "volcano_eruption.mp4" in sources


@pytest.mark.server
def test_llm_router_always_returns_an_available_label(answer_library) -> None:
    """Validity, not accuracy: a 135M model routes poorly, but structured outputs make its
    reply exactly one of the labels offered."""
    router = LLMRouter(answer_library.generator, answer_library.config)
    offered = ["no", "paragraph", "image"]
    for question in (
        "How much salt goes in pasta water?",
        "What does a tabby cat look like?",
        "Hi there!",
    ):
        assert router.choose(question, offered) in offered
    assert router.choose("Show me the lava clip", ["clip", "video"]) in ("clip", "video")


@pytest.mark.server
def test_hybrid_asks_the_llm_only_when_the_trained_router_is_unsure(
    answer_library, fixed_router
) -> None:
    unsure = fixed_router(
        {"paragraph": 0.3, "document": 0.25, "image": 0.2, "clip": 0.15, "video": 0.05, "no": 0.05}
    )
    config = AgentConfig(router="hybrid", confidence=0.6, multi_route_margin=0.0, evidence=False)
    # By default the embedded 135M model is not trusted to route: the top two are searched.
    agent = Agent(answer_library, config, trained_router=unsure)
    assert not agent.trusts_llm_router
    decision = agent.router().decide("What happens when lava reaches the sea?", agent.mapping())
    assert decision.decided_by == "trained" and decision.labels == ("paragraph", "document")
    assert "unsure (top 0.30)" in decision.reason
    agent = Agent(answer_library, config.model_copy(update={"llm_router": "on"}), trained_router=unsure)
    decision = agent.router().decide("What happens when lava reaches the sea?", agent.mapping())
    assert (
        decision.decided_by == "llm"
        and decision.label in agent.mapping()
        and "unsure" in decision.reason
    )
    assert decision.probabilities["paragraph"] == pytest.approx(
        0.3
    )  # the trained router's view is kept
    confident = fixed_router({"clip": 0.9, "paragraph": 0.05, "no": 0.05})
    agent = Agent(
        answer_library, AgentConfig(router="hybrid", confidence=0.6, llm_router="on"), trained_router=confident
    )
    decision = agent.router().decide("What happens when lava reaches the sea?", agent.mapping())
    assert (
        decision.decided_by == "trained"
        and decision.labels == ("clip",)
        and decision.corpora == ("video-clip",)
    )


@pytest.mark.server
def test_async_twins_match_the_sync_api(agent: Agent) -> None:
    async def run() -> tuple[list, AgentAnswer]:
        events = [e async for e in agent.astream("Say hello.", route="no")]
        return events, await agent.aask("Say hello.", route="no")

    events, answer = asyncio.run(run())
    assert re.fullmatch(r"Rt+FZ", kinds(events)) and isinstance(answer, AgentAnswer)
    assert answer.route.label == "no" and answer.text


def test_labels_map_only_to_configured_corpora() -> None:
    corpora = [
        CorpusConfig(name="notes", modality="text", granularity="paragraph"),
        CorpusConfig(name="manuals", modality="text", granularity="paragraph"),
        CorpusConfig(name="photos", modality="image", granularity="image"),
    ]
    mapping = label_corpora(Config(corpora=corpora))
    assert mapping == {"no": (), "paragraph": ("notes", "manuals"), "image": ("photos",)}
    video_heavy = {"clip": 0.5, "video": 0.2, "paragraph": 0.2, "image": 0.05, "no": 0.05}
    decision = decide(video_heavy, mapping, margin=0.0, decided_by="trained", mode="trained")
    assert decision.labels == ("paragraph",) and decision.corpora == ("notes", "manuals")
    assert set(decision.probabilities) == {"no", "paragraph", "image"}
    assert sum(decision.probabilities.values()) == pytest.approx(1.0)
    assert "clip" not in decision.ranking and "video" not in decision.ranking
    assert label_corpora(
        Config(corpora=corpora), counts={"notes": 3, "manuals": 0, "photos": 0}
    ) == {"no": (), "paragraph": ("notes",)}  # empty corpora are not routed to


def test_close_top_two_routes_both_and_no_stays_out_of_retrieval() -> None:
    mapping = label_corpora(Config())
    decision = decide(
        {"no": 0.4, "paragraph": 0.35, "image": 0.25}, mapping, 0.1, "trained", "hybrid"
    )
    assert decision.labels == ("no", "paragraph") and decision.corpora == ("text-paragraph",)
    decision = decide(
        {"no": 0.4, "paragraph": 0.25, "image": 0.35}, mapping, 0.01, "trained", "hybrid"
    )
    assert decision.labels == ("no",) and decision.corpora == () and not decision.multi


def test_trained_router_decisions_stay_within_the_configured_corpora() -> None:
    router = load_trained()
    assert router is not None, "the shipped router model (agents/router_model) must load"
    corpora = [CorpusConfig(name="notes", modality="text", granularity="paragraph"),
               CorpusConfig(name="photos", modality="image", granularity="image")]
    mapping = label_corpora(Config(corpora=corpora))
    for question in (
        "Show me the moment the lava reaches the sea in the video.",
        "What does a tabby cat look like?",
    ):
        decision = decide(dict(router.route(question)), mapping, 0.1, "trained", "trained")
        assert set(decision.labels) <= set(mapping) and sum(
            decision.probabilities.values()
        ) == pytest.approx(1.0)


def test_agent_reads_its_table_from_the_library_config(tmp_path: Path) -> None:
    path = tmp_path / "mmrag.toml"
    path.write_text(
        'data_dir = "data"\n[generator]\nevidence_k = 4\nbase_url = "http://127.0.0.1:9/v1"\n'
        '[agent]\nrouter = "llm"\nrerank_threshold = 0.3\nreflection_rounds = 1\nmulti_route_margin = 0.05\n'
    )
    config = load_config(path)
    agent_config = AgentConfig.of(config)
    assert config.data_dir == (tmp_path / "data").resolve() and config.generator.evidence_k == 4
    assert (agent_config.router, agent_config.rerank_threshold, agent_config.reflection_rounds) == (
        "llm",
        0.3,
        1,
    )
    assert agent_config.reflection == "cheap" and agent_config.cross_encoder is None
    agent = Agent.from_config(path)  # builds the graph; starts no server
    assert agent.config == agent_config and agent.k == 4 and agent.library._server is None


def test_a_bad_agent_table_is_a_config_error_naming_the_setting(tmp_path: Path) -> None:
    """The [agent] table is the agent package's to validate; a mistake in it is reported
    as clearly as one in the library's tables, before anything starts."""
    path = tmp_path / "mmrag.toml"
    path.write_text('[agent]\nrouter = "psychic"\nreflection_rounds = -1\n')
    with pytest.raises(ConfigError, match=r"(?s)\[agent\].*router.*reflection_rounds"):
        Agent.from_config(path)


def test_graph_has_the_real_conditional_edges(sample_library) -> None:
    graph = Agent(sample_library, trained_router=None).graph.get_graph()
    edges = {(e.source, e.target): e.conditional for e in graph.edges}
    assert edges == {
        ("__start__", "condense"): False, ("condense", "route"): False,
        ("route", "retrieve"): True, ("route", "generate"): True,
        ("retrieve", "rerank"): False, ("rerank", "generate"): False, ("generate", "reflect"): False,
        ("reflect", "route"): True, ("reflect", "retrieve"): True, ("reflect", "finish"): True,
        ("finish", "__end__"): False,
    }
