"""Reflection: the cheap verdict (grounding + coverage of the question), the next action,
widening k when no other corpus is left, plain statements when support is missing, and the
LLM verdict's structured output against the real embedded server."""

from __future__ import annotations

import pytest

from agents import Agent, AgentConfig
from agents.reflect import JUDGEMENTS, Reflector, caveat, coverage, next_action
from rag.generation.answer import Answer, Citation
from rag.generation.grounding import NO_ANSWER

ASH = "What closes when volcanic ash drifts over nearby villages?"


def _never() -> None:
    raise AssertionError("the cheap reflection must not call the model")


@pytest.fixture(scope="module")
def ash_hits(sample_library) -> dict[str, list]:
    return {c: sample_library.search(ASH, corpus=c, k=2) for c in ("text-paragraph", "video-clip")}


def _answer(text: str, hits: list, grounding: str = "cited") -> Answer:
    citations = [Citation(n, h) for n, h in enumerate(hits, start=1)]
    return Answer(ASH, text, citations, list(hits), {}, grounding=grounding)  # type: ignore[arg-type]


def test_coverage_counts_the_question_words_the_evidence_holds(ash_hits) -> None:
    assert (
        coverage(ASH, ash_hits["text-paragraph"]) < 0.5 <= coverage(ASH, ash_hits["video-clip"][:1])
    )
    assert coverage(ASH, []) == 0.0 and coverage("How does it happen?", []) == 1.0


def test_cheap_verdicts(ash_hits) -> None:
    reflector = Reflector(AgentConfig(), _never)
    text_answer = _answer("Aircraft avoid ash clouds [1].", ash_hits["text-paragraph"][:1])
    verdict = reflector.verdict(
        0, ASH, ["paragraph"], ["text-paragraph"], text_answer, ["clip"], can_widen=True
    )
    assert (
        verdict.supported
        and not verdict.sufficient
        and verdict.action == "reroute"
        and "covers" in verdict.reason
    )
    clip_answer = _answer("The airports close [1].", ash_hits["video-clip"][:1], "extracted")
    verdict = reflector.verdict(
        1, ASH, ["clip"], ["video-clip"], clip_answer, ["document"], can_widen=True
    )
    assert verdict.ok and verdict.action == "end"
    refused = Answer(ASH, NO_ANSWER, [], [], {}, grounding="refused")
    verdict = reflector.verdict(0, ASH, ["image"], ["image"], refused, [], can_widen=True)
    assert not verdict.supported and verdict.action == "widen"
    verdict = reflector.verdict(2, ASH, ["image"], ["image"], refused, ["clip"], can_widen=True)
    assert verdict.action == "end" and "no rounds left" in verdict.reason
    verdict = reflector.verdict(
        0, ASH, ["no"], [], Answer(ASH, "Airports.", [], [], {}, grounding="model"), ["clip"], True
    )  # type: ignore[arg-type]
    assert verdict.action == "end" and not verdict.supported


def test_strong_evidence_is_not_rerouted_away_from_when_the_draft_fails(ash_hits) -> None:
    """A failed draft over strong evidence (relevant, holding every word of the question) is
    the model's failure, not the corpus's: end. Weak or partial evidence is re-routed."""
    from agents.state import Scored

    reflector = Reflector(AgentConfig(), _never)
    clip = ash_hits["video-clip"][:1]
    carried = "Where does the wind carry the volcanic ash?"  # every content word is in the clip
    unanswered = Answer(carried, NO_ANSWER, [], clip, {}, grounding="unanswered")
    for relevance, action in ((0.9, "end"), (0.55, "reroute")):
        kept = [Scored(clip[0], relevance, {})]
        verdict = reflector.verdict(0, carried, ["clip"], ["video-clip"], unanswered, ["paragraph"], True, None, kept)
        assert not verdict.ok and verdict.action == action, verdict
    unanswered = Answer(ASH, NO_ANSWER, [], clip, {}, grounding="unanswered")
    partial = [Scored(ash_hits["text-paragraph"][0], 0.9, {})]  # about ash clouds, not what closes
    verdict = reflector.verdict(0, ASH, ["paragraph"], ["text-paragraph"], unanswered, ["clip"], True, None, partial)
    assert verdict.action == "reroute"
    assert next_action(False, 0, 2, True, True, strong=True)[0] == "end"


def test_a_no_answer_with_a_confident_content_match_is_rerouted_there() -> None:
    reflector = Reflector(AgentConfig(), _never)
    model_only = Answer(ASH, "Airports.", [], [], {}, grounding="model")  # type: ignore[arg-type]
    verdict = reflector.verdict(0, ASH, ["no"], [], model_only, [], False, None, (), ("clip", "video-clip", 0.93))
    assert verdict.action == "reroute" and "video-clip holds a confident match" in verdict.reason
    last = reflector.verdict(2, ASH, ["no"], [], model_only, [], False, None, (), ("clip", "video-clip", 0.93))
    assert last.action == "end"  # no rounds left


def test_next_action_order() -> None:
    assert next_action(True, 0, 2, True, True)[0] == "end"
    assert next_action(False, 0, 2, True, True)[0] == "reroute"
    assert next_action(False, 1, 2, False, True)[0] == "widen"
    assert next_action(False, 1, 2, False, False)[0] == "end"
    assert next_action(False, 2, 2, True, True)[0] == "end"
    assert next_action(False, 0, 0, True, True)[0] == "end"  # reflection_rounds = 0: never loop
    # A connecting second hop comes first, even after an ok verdict, while rounds remain.
    assert next_action(True, 0, 2, True, True, can_rewrite=True)[0] == "rewrite"
    assert next_action(False, 0, 2, True, True, can_rewrite=True)[0] == "rewrite"
    assert next_action(True, 2, 2, True, True, can_rewrite=True)[0] == "end"


def test_missing_support_is_said_plainly(ash_hits) -> None:
    reflector = Reflector(AgentConfig(), _never)
    partial = _answer("Aircraft avoid ash clouds [1].", ash_hits["text-paragraph"][:1])
    verdict = reflector.verdict(
        2, ASH, ["paragraph"], ["text-paragraph"], partial, [], can_widen=False
    )
    text, notes = caveat(partial, verdict, ["text-paragraph"])
    assert (
        text.startswith(partial.text)
        and "Support is incomplete" in text
        and "text-paragraph" in text
    )
    refused = Answer(ASH, NO_ANSWER, [], [], {}, grounding="refused")
    verdict = reflector.verdict(2, ASH, ["image"], ["image"], refused, [], can_widen=False)
    text, notes = caveat(refused, verdict, ["text-paragraph", "image"])
    assert text == NO_ANSWER and notes == [
        "No supporting evidence was found in: text-paragraph, image."
    ]


def test_widens_k_when_no_other_corpus_is_left(sample_library) -> None:
    """A library configured with text paragraphs only (same store): a question nothing
    answers is re-tried with a wider k, then answered plainly. No evidence clears the
    threshold, so the model is never asked (no server needed)."""
    from rag.library import Library

    paragraphs = [c for c in sample_library.config.corpora if c.name == "text-paragraph"]
    library = Library(sample_library.config.model_copy(update={"corpora": paragraphs}))
    agent = Agent(library, AgentConfig(k=3, candidates=5, reflection_rounds=1), trained_router=None)
    answer = agent.ask("What is the capital of Peru?", route="paragraph")
    assert [v.action for v in answer.verdicts] == ["widen", "end"]
    assert [r.k for r in answer.rounds] == [3, 6] and answer.searched == ["text-paragraph"]
    hits_seen = [len(r.reranked.kept) + len(r.reranked.dropped) for r in answer.rounds]
    assert hits_seen == [5, 10]
    assert answer.text == NO_ANSWER and not answer.citations
    assert "No supporting evidence was found in: text-paragraph." in answer.notes


@pytest.mark.server
def test_llm_verdict_is_always_one_of_the_choices(answer_library, sample_library) -> None:
    hits = sample_library.search(
        "How much salt should go in the pasta water?", corpus="text-paragraph", k=1
    )
    reflector = Reflector(AgentConfig(reflection="llm"), answer_library.generator)
    good = Answer(
        "How much salt should go in the pasta water?",
        "About ten grams per litre [1].",
        [Citation(1, hits[0])],
        hits,
        {},
    )
    assert reflector.model_verdict(good.question, good) in JUDGEMENTS
    verdict = reflector.verdict(
        0, good.question, ["paragraph"], ["text-paragraph"], good, ["clip"], can_widen=False
    )
    assert verdict.mode == "llm" and verdict.action in ("end", "reroute")
