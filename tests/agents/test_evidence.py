"""Evidence-aware routing: the fused policy's arithmetic, corpora of one granularity told
apart by their content, the `no` guard and the content probe (real MiniLM + Chroma), and the
agent end to end through the real embedded vLLM server on the issue's questions."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from agents import Agent, AgentConfig
from agents.calibration import Calibrator
from agents.evidence import Prober, content_query
from agents.router import corpora_for, fuse, label_corpora, overrule_no
from rag.core.config import Config, CorpusConfig
from rag.library import Library

MAPPING = {"no": (), "paragraph": ("notes",), "image": ("photos",), "clip": ("clips",)}


def test_fuse_moves_each_label_by_the_logit_of_its_best_corpus() -> None:
    intent = {"no": 0.1, "paragraph": 0.6, "image": 0.1, "clip": 0.2}
    evidence = {"notes": 0.2, "clips": 0.9}  # photos: no calibrated score
    fused = fuse(intent, evidence, MAPPING, weight=1.0)
    logit = lambda p: math.log(p / (1 - p))  # noqa: E731
    scores = {"no": math.log(0.1), "paragraph": math.log(0.6) + logit(0.2),
              "image": math.log(0.1), "clip": math.log(0.2) + logit(0.9)}
    total = sum(math.exp(v) for v in scores.values())
    assert fused == pytest.approx({k: math.exp(v) / total for k, v in scores.items()})
    assert max(fused, key=fused.__getitem__) == "clip"  # the content is in the clips
    assert fuse(intent, evidence, MAPPING, weight=0.0) == pytest.approx(intent)
    assert fuse(intent, {}, MAPPING, weight=1.0) == pytest.approx(intent)


def test_no_is_overruled_only_by_a_confident_match() -> None:
    probs = {"no": 0.7, "paragraph": 0.2, "clip": 0.1}
    kept, why = overrule_no(probs, {"notes": 0.79, "clips": 0.3}, ceiling=0.8)
    assert kept == probs and why == ""
    moved, why = overrule_no(probs, {"notes": 0.3, "clips": 0.95}, ceiling=0.8)
    assert moved["no"] == 0.0 and max(moved, key=moved.__getitem__) == "paragraph"
    assert sum(moved.values()) == pytest.approx(1.0) and "clips holds a confident match (0.95)" in why


def test_corpora_of_one_label_are_ordered_and_filtered_by_evidence() -> None:
    mapping = {"no": (), "paragraph": ("manuals", "tickets")}
    assert corpora_for("paragraph", mapping, {}) == ("manuals", "tickets")
    assert corpora_for("paragraph", mapping, {"manuals": 0.2, "tickets": 0.9}) == ("tickets",)
    assert corpora_for("paragraph", mapping, {"manuals": 0.6, "tickets": 0.9}) == ("tickets",)
    assert corpora_for("paragraph", mapping, {"manuals": 0.85, "tickets": 0.9}) == ("tickets", "manuals")
    assert corpora_for("paragraph", mapping, {"manuals": 0.1, "tickets": 0.2}) == ("tickets",)


def test_content_query_keeps_what_the_question_is_about() -> None:
    assert content_query("Summarise the volcano video.") == "volcano"
    assert content_query("Give me a summary of the bicycle repair video.") == "bicycle repair"
    assert content_query("thanks!") == ""


MANUALS = """# Dishwasher DW-40 manual

Descaling: run the empty machine at 65 degrees with a descaler tablet every three months.
The filter sits under the lower basket; rinse it under warm water once a week.
Error E4 means the water inlet valve is blocked: open the tap fully and clean the inlet mesh.
"""
TICKETS = """# Support tickets, March

Ticket 1182: customer Priya Nair reports the mobile app logs her out after every update.
Resolved by clearing the stored session token; closed on 14 March by agent Tomasz.
Ticket 1190: invoices show the wrong VAT rate for customers in Ireland; escalated to billing.
"""


@pytest.fixture(scope="module")
def two_paragraph_corpora(tmp_path_factory: pytest.TempPathFactory) -> Library:
    root = tmp_path_factory.mktemp("two-corpora")
    (root / "manuals").mkdir()
    (root / "tickets").mkdir()
    (root / "manuals" / "dishwasher.md").write_text(MANUALS)
    (root / "tickets" / "march.md").write_text(TICKETS)
    corpora = [
        CorpusConfig(name="manuals", modality="text", granularity="paragraph", sources=[root / "manuals"]),
        CorpusConfig(name="tickets", modality="text", granularity="paragraph", sources=[root / "tickets"]),
        CorpusConfig(name="photos", modality="image", granularity="image"),
    ]
    library = Library(Config(data_dir=root / "data", corpora=corpora))
    assert not library.ingest(progress=False).by_status("failed")
    return library


def test_two_corpora_of_one_granularity_are_told_apart_by_their_content(two_paragraph_corpora: Library) -> None:
    """Labels cannot tell "manuals" from "tickets" (both paragraphs); the probes can."""
    agent = Agent(two_paragraph_corpora, AgentConfig(router="trained"))
    mapping = agent.mapping()
    assert mapping == {"no": (), "paragraph": ("manuals", "tickets")}
    for question, corpus in [
        ("What does error E4 mean on the dishwasher?", "manuals"),
        ("How often should I descale it?", "manuals"),
        ("Why was Priya Nair logged out of the app?", "tickets"),
        ("Which ticket is about the wrong VAT rate?", "tickets"),
    ]:
        decision = agent.router().decide(question, mapping)
        assert decision.label == "paragraph" and decision.corpora == (corpus,), (question, decision)
        assert decision.evidence[corpus] > decision.evidence[({"manuals", "tickets"} - {corpus}).pop()]
    without = Agent(two_paragraph_corpora, AgentConfig(router="trained", evidence=False))
    assert without.router().decide("Why was Priya Nair logged out?", mapping).corpora == ("manuals", "tickets")


def test_probes_share_the_routers_embedding_with_every_minilm_corpus(sample_library: Library) -> None:
    """The router's pooled last layer is the vector the retrievers compute themselves."""
    from agents.intent import TrainedRouter
    from retrievers.encoders import text_encoder

    question = "How much salt goes into the pasta water?"
    _, embeddings = TrainedRouter.load().route_and_embed(question)
    (name, vector), = embeddings.items()
    assert vector @ text_encoder(name).encode([question])[0] == pytest.approx(1.0, abs=1e-4)
    prober = Prober(sample_library, Calibrator(sample_library))
    corpora = [c for names in label_corpora(sample_library.config, sample_library.counts()).values() for c in names]
    assert prober(question, corpora, embeddings) == pytest.approx(prober(question, corpora))
    # answer options are stripped before routing, so the retrievers' vector differs: none is shared
    assert TrainedRouter.load().route_and_embed(f"{question}\nA. 5 g\nB. 10 g")[1] == {}


def test_the_content_probe_finds_what_a_no_route_would_miss(sample_library: Library) -> None:
    prober = Prober(sample_library, Calibrator(sample_library))
    corpora = [c for names in label_corpora(sample_library.config, sample_library.counts()).values() for c in names]
    found = prober.content_match("Summarise the volcano video.", corpora, 0.8)
    assert {"video-clip", "video-whole"} & set(found) and all(p >= 0.8 for p in found.values())
    for task in ("What is 12 squared?", "hello there", "translate 'good morning' into German",
                 "write a haiku about rain", "how many ounces are in a pound?"):
        assert prober.content_match(task, corpora, 0.8) == {}, task


def test_no_route_stands_for_tasks_and_is_overruled_for_content(sample_library: Library) -> None:
    agent = Agent(sample_library, AgentConfig(router="trained"))
    mapping = agent.mapping()
    decision = agent.router().decide("What is 12 squared?", mapping)
    assert decision.label == "no" and decision.corpora == ()
    decision = agent.router().decide("At what point in the bicycle repair video is the wheel taken off?", mapping)
    assert decision.label == "clip" and decision.corpora == ("video-clip",)
    assert decision.evidence["video-clip"] > 0.8


# The four questions, asked of the agent as `mmrag ask` asks them (default config:
# hybrid router, evidence probes, cheap reflection) through the real embedded server.
CASES = [
    ("At what point in the bicycle repair video is the wheel taken off?", "video-clip", "bicycle_repair.mp4", 0.0),
    ("Summarise the volcano video.", "video-whole", "volcano_eruption.mp4", None),
    ("Give me a summary of the bicycle repair video.", "video-whole", "bicycle_repair.mp4", None),
]


@pytest.fixture(scope="module")
def default_agent(answer_library) -> Agent:
    return Agent(answer_library)


@pytest.mark.server
@pytest.mark.parametrize(("question", "corpus", "source", "start"), CASES)
def test_questions_about_videos_end_in_the_video_with_citations(
    default_agent: Agent, question: str, corpus: str, source: str, start: float | None
) -> None:
    answer = default_agent.ask(question)
    assert answer.route.corpora == (corpus,) and answer.searched == [corpus]
    assert answer.supported and answer.citations and answer.grounding != "model"
    assert {Path(c.hit.source).name for c in answer.citations} == {source}
    if start is not None:
        assert answer.citations[0].hit.span.start_s == start
    assert len(answer.rounds) == 1  # kept: no re-route away from the right evidence


@pytest.mark.server
def test_arithmetic_is_answered_without_retrieval(default_agent: Agent) -> None:
    answer = default_agent.ask("What is 12 squared?")
    assert answer.route.label == "no" and answer.searched == [] and answer.grounding == "model"
    assert answer.verdicts[-1].action == "end"


@pytest.mark.server
def test_a_no_answer_about_a_video_that_exists_is_rerouted(default_agent: Agent) -> None:
    answer = default_agent.ask("Summarise the volcano video.", route="no")
    first, second = answer.verdicts
    assert first.action == "reroute" and "confident match" in first.reason
    assert answer.searched and answer.searched[0].startswith("video-") and second.ok
    assert answer.grounding != "model" and answer.citations
    assert {Path(c.hit.source).name for c in answer.citations} == {"volcano_eruption.mp4"}
