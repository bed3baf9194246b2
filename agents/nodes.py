"""The agent's steps: module-level functions over one typed state (agents.state.AgentState)
and the small set of parts they use (Deps), passed as LangGraph's runtime context.

Each node returns the keys it changes and writes its event (agents.state.*Event) to the
stream, which Agent.stream yields. The wiring between them is agents.graph.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

from langgraph.runtime import Runtime

from agents.condense import condense as condense_question
from agents.config import AgentConfig
from agents.reflect import Reflector, caveat
from agents.rerank import Reranker
from agents.rewrite import FollowUp, follow_up, llm_query
from agents.router import Router, corpora_for, forced_decision, label_corpora, untried
from agents.state import (
    AgentAnswer,
    AgentState,
    Condensed,
    CondenseEvent,
    FinalEvent,
    HitsEvent,
    Label,
    ReflectionEvent,
    Reranked,
    RerankEvent,
    Round,
    RouteDecision,
    RouteEvent,
    Scored,
    Step,
    TokenEvent,
)
from rag.core.errors import GeneratorError, ServerError
from rag.core.items import Hit, Query
from rag.core.prompts import prompt
from rag.generation.answer import Answer, answer_stream
from rag.generation.generator import Generator
from rag.generation.grounding import NO_ANSWER
from rag.generation.messages import Exchange, history_messages
from rag.library import Library


@dataclass(frozen=True)
class Deps:
    """What the steps use: the corpora, the settings, and the agent's parts (built lazily)."""

    library: Library
    config: AgentConfig
    router: Callable[[], Router]
    reranker: Reranker
    reflector: Reflector
    helper: Callable[[], Generator]  # the model for routing, relevance and rewrite calls
    condense: str = "rules"  # how follow-ups are made standalone: rules | llm | off

    def mapping(self) -> dict[Label, tuple[str, ...]]:
        """Router labels -> the configured corpora (holding items) they search."""
        return label_corpora(self.library.config, self.library.counts())


@contextmanager
def _timed(name: str, round_: int, steps: list[Step]) -> Iterator[None]:
    start = time.perf_counter()
    yield
    steps.append(Step(name, round_, time.perf_counter() - start))


def condense(state: AgentState, runtime: Runtime[Deps]) -> dict[str, Any]:
    """A follow-up made standalone (agents.condense); a first question passes unchanged."""
    deps = runtime.context
    history = state.get("history", [])
    if not history:
        return {"condensed": Condensed(state["question"], state["question"], "none")}
    helper = None
    if deps.condense == "llm":
        with suppress(GeneratorError, ServerError):  # no model: the rules stand in
            helper = deps.helper()
    recent = history[-deps.config.condense_turns:]
    condensed = condense_question(state["question"], recent, deps.condense, helper, deps.config.condense_max_tokens)
    runtime.stream_writer(CondenseEvent(condensed))
    step = Step("condense", 0, condensed.seconds)
    return {"condensed": condensed, "question": condensed.standalone, "steps": [step]}


def route(state: AgentState, runtime: Runtime[Deps]) -> dict[str, Any]:
    deps = runtime.context
    steps: list[Step] = []
    round_ = state.get("round", 0)
    with _timed("route", round_, steps):
        mapping = deps.mapping()
        if "decision" not in state:
            forced = state.get("forced", ())
            if forced:
                decision = forced_decision(forced, mapping, deps.config.router)
            else:
                image = state.get("image")
                prefer = state["condensed"].prefer if "condensed" in state else ()
                decision = deps.router().decide(state["question"], mapping, Path(image) if image else None, prefer=prefer)
            labels, corpora = decision.labels, decision.corpora
        else:
            decision = state["decision"]
            label = state.get("reroute_to") or deps.router().next_label(
                state["question"], decision, state.get("tried", []), mapping
            )
            assert label is not None, "reflect only re-routes when an untried label exists"
            labels, corpora = (label,), corpora_for(label, mapping, decision.evidence)
    runtime.stream_writer(RouteEvent(decision, round_, labels, corpora))
    return {
        "decision": decision,
        "labels": labels,
        "corpora": corpora,
        "round": round_,
        "steps": steps,
        "reroute_to": None,
    }

def after_route(state: AgentState) -> str:
    return "retrieve" if state["corpora"] else "generate"

def retrieve(state: AgentState, runtime: Runtime[Deps]) -> dict[str, Any]:
    deps = runtime.context
    steps: list[Step] = []
    round_, k, n = state["round"], state["k"], state["candidates"]
    hop_query = state.get("query") or ""
    with _timed("retrieve", round_, steps):
        image = state.get("image")
        query = Query(hop_query) if hop_query else Query(state["question"], Path(image) if image else None)
        hits = search(deps, query, state["corpora"], n)
    runtime.stream_writer(HitsEvent(hits, state["corpora"], round_, k, hop_query))
    tried = [label for label in state["labels"] if label not in state.get("tried", [])]
    return {"hits": hits, "tried": tried, "steps": steps}

def rerank(state: AgentState, runtime: Runtime[Deps]) -> dict[str, Any]:
    deps = runtime.context
    steps: list[Step] = []
    with _timed("rerank", state["round"], steps):
        query = state.get("query") or state["question"]
        reranked = carry(state.get("carried", []), deps.reranker.rerank(query, state["hits"], state["k"]))
    runtime.stream_writer(RerankEvent(reranked.kept, reranked.dropped, state["round"]))
    return {"reranked": reranked, "steps": steps}

def generate(state: AgentState, runtime: Runtime[Deps]) -> dict[str, Any]:
    deps = runtime.context
    steps: list[Step] = []
    round_ = state["round"]
    write = runtime.stream_writer
    with _timed("generate", round_, steps):
        if not state["corpora"]:
            answer = direct_answer(
                deps, state["question"], lambda piece: write(TokenEvent(piece, round_)), exchanges(state)
            )
        elif not (reranked := state.get("reranked")) or not reranked.kept:
            note = "No retrieved evidence cleared the re-ranker's threshold; the model was not asked."
            answer = Answer(
                state["question"], NO_ANSWER, [], [], {}, notes=[note], grounding="refused"
            )
        else:
            answer = None
            stream = answer_stream(
                deps.library.generator(),
                state["question"],
                reranked.hits,
                {},
                deps.library.text_encoder(),
                history=exchanges(state),
            )
            for piece in stream:
                if isinstance(piece, str):
                    write(TokenEvent(piece, round_))
                else:
                    answer = piece
            assert answer is not None
    return {"answer": answer, "steps": steps}

def reflect(state: AgentState, runtime: Runtime[Deps]) -> dict[str, Any]:
    deps = runtime.context
    steps: list[Step] = []
    round_, decision = state["round"], state["decision"]
    reranked, hits = state.get("reranked"), state.get("hits", [])
    with _timed("reflect", round_, steps):
        mapping = deps.mapping()
        left = untried(decision, state.get("tried", []), mapping)
        can_widen = bool(state["corpora"]) and (
            len(hits) >= state["candidates"] * len(state["corpora"])
            or (
                reranked is not None
                and any(d.reason.startswith("beyond k") for d in reranked.dropped)
            )
        )
        hop = second_hop(deps, state) if round_ < deps.config.reflection_rounds else None
        match = None if state["corpora"] else content_match(deps, state["question"], decision, mapping)
        kept = reranked.kept if reranked else []
        verdict = deps.reflector.verdict(
            round_, state["question"], state["labels"], state["corpora"], state["answer"],
            left, can_widen, hop, kept, match,
        )
    runtime.stream_writer(ReflectionEvent(verdict))
    record = Round(
        round_,
        state["labels"],
        state["corpora"],
        state["k"],
        reranked if state["corpora"] else None,
        state["answer"],
        verdict,
        state.get("query") or "",
    )
    update: dict[str, Any] = {
        "verdicts": [verdict],
        "rounds": [record],
        "action": verdict.action,
        "steps": steps,
    }
    if verdict.action != "end":
        update["round"] = round_ + 1
    if verdict.action == "widen":
        update["k"] = state["k"] * deps.config.widen_factor
        update["candidates"] = state["candidates"] * deps.config.widen_factor
    if verdict.action == "reroute":
        update |= {"reranked": None, "query": None, "carried": []}
        if match is not None:  # a `no` answer whose content a corpus holds: search its label
            update["reroute_to"] = match[0]
    if verdict.action == "rewrite" and hop is not None:
        kept = reranked.kept if reranked else []
        update |= {"query": hop.query, "queries": [hop.query], "carried": kept}
    return update

def after_reflect(state: AgentState) -> str:
    return {"reroute": "route", "widen": "retrieve", "rewrite": "retrieve", "end": "finish"}[state["action"]]

def finish(state: AgentState, runtime: Runtime[Deps]) -> dict[str, Any]:
    final = compose(state)
    runtime.stream_writer(FinalEvent(final))
    return {"final": final}


def search(deps: Deps, query: Query | str, corpora: Sequence[str], n: int) -> list[Hit]:
    """The top `n` hits of each corpus."""
    return [h for corpus in corpora for h in deps.library.search(query, corpus=corpus, k=n)]


def carry(carried: list[Scored], reranked: Reranked) -> Reranked:
    """The evidence the first hop kept and the second hop's re-ranked hits (each judged
    against its own query), best first."""
    if not carried:
        return reranked
    seen = {s.hit.id for s in carried}
    kept = [*carried, *(s for s in reranked.kept if s.hit.id not in seen)]
    return Reranked(sorted(kept, key=lambda s: -s.relevance), reranked.dropped, reranked.threshold, reranked.k)


def second_hop(deps: Deps, state: AgentState) -> FollowUp | None:
    """A connecting follow-up query from this round's evidence (cited, else kept), or None."""
    reranked, mode = state.get("reranked"), deps.config.rewrite
    if mode == "off" or not state["corpora"] or reranked is None:
        return None
    evidence = [c.hit for c in state["answer"].citations] or reranked.hits

    def write(missing: Sequence[str]) -> str:
        try:
            return llm_query(deps.helper(), state["question"], evidence, missing, deps.config.rewrite_max_tokens)
        except GeneratorError:  # the feedback query stands in
            return ""

    tried = [state["question"], *state.get("queries", [])]
    look_ahead = partial(search, deps, corpora=state["corpora"], n=state["candidates"])
    return follow_up(state["question"], evidence, look_ahead, tried, write if mode == "llm" else None, reranked.hits)


def content_match(
    deps: Deps, question: str, decision: RouteDecision, mapping: dict[Label, tuple[str, ...]]
) -> tuple[Label, str, float] | None:
    """For a `no` answer: (label, corpus, probability) of the confident match for the
    question's content in the label the intent model likes best (else the best match)."""
    prober = deps.router().prober
    if prober is None or not deps.config.evidence:
        return None
    corpora = [c for names in mapping.values() for c in names]
    found = prober.content_match(question, corpora, deps.config.no_evidence_max)
    if not found:
        return None
    label_of = {c: label for label, names in mapping.items() for c in names}
    corpus = max(found, key=lambda c: (decision.intent.get(label_of[c], 0.0), found[c]))
    return label_of[corpus], corpus, found[corpus]


def exchanges(state: AgentState) -> list[Exchange]:
    """The conversation's earlier turns as (question, answer) for the answer prompt."""
    return [(t.question, t.answer) for t in state.get("history", [])]


def direct_answer(deps: Deps, question: str, on_piece: Callable[[str], None], history: Sequence[Exchange] = ()) -> Answer:
    """The `no` route: the model answers alone, with no evidence (nothing to ground)."""
    generator = deps.library.generator()
    earlier = history_messages(history, generator.settings.history_tokens)
    messages = [
        {"role": "system", "content": prompt("agents", "direct_answer")},
        *earlier,
        {"role": "user", "content": question},
    ]
    timings: dict[str, float] = {}
    start = time.perf_counter()
    pieces: list[str] = []
    for piece in generator.stream(messages, max_tokens=deps.config.direct_max_tokens):
        if not pieces:
            timings["first_token_s"] = time.perf_counter() - start
        pieces.append(piece)
        on_piece(piece)
    timings["generate_s"] = time.perf_counter() - start
    draft = "".join(pieces)
    note = "Answered by the model alone (route `no`): nothing was retrieved, so no evidence backs this answer."
    return Answer(
        question,
        draft.strip(),
        [],
        [],
        timings,
        notes=[note],
        model=generator.model,
        draft=draft,
        grounding="model",
    )


def best_round(rounds: list[Round]) -> Round:
    """The round whose answer to keep: the last one reflection accepted (a second hop follows
    an accepted round and holds its evidence too), else the best supported one (highest
    coverage), else the last."""
    accepted = [r for r in rounds if r.verdict is not None and r.verdict.ok]
    if accepted:
        return accepted[-1]
    supported = [r for r in rounds if r.answer.supported and r.verdict is not None]
    if not supported:
        return rounds[-1]
    best = supported[0]
    for r in supported[1:]:
        gain = (r.verdict.coverage if r.verdict else 0.0) - (best.verdict.coverage if best.verdict else 0.0)
        # of equals, a later round in the same corpora (a second hop, a wider k) holds the
        # earlier evidence too; a re-routed one does not, and the router's first choice stands
        if gain > 0 or (gain == 0 and r.corpora == best.corpora):
            best = r
    return best


def compose(state: AgentState) -> AgentAnswer:
    rounds = state["rounds"]
    chosen = best_round(rounds)
    answer = chosen.answer
    searched = list(dict.fromkeys(c for r in rounds for c in r.corpora))
    text, notes = caveat(answer, chosen.verdict, searched)
    steps = state.get("steps", [])
    timings: dict[str, float] = {}
    for step in steps:
        timings[f"{step.step}_s"] = timings.get(f"{step.step}_s", 0.0) + step.seconds
    if "first_token_s" in answer.timings:
        timings["first_token_s"] = answer.timings["first_token_s"]
    timings["total_s"] = (
        time.perf_counter() - state["started"]
        if "started" in state
        else sum(s.seconds for s in steps)
    )
    reranked = chosen.reranked
    return AgentAnswer(
        question=answer.question,
        text=text,
        citations=answer.citations,
        evidence=answer.evidence,
        timings=timings,
        dropped_citations=answer.dropped_citations,
        notes=[*answer.notes, *notes],
        model=answer.model,
        draft=answer.draft,
        grounding=answer.grounding,
        route=state["decision"],
        condensed=state.get("condensed"),
        labels=chosen.labels,
        kept=reranked.kept if reranked else [],
        dropped=reranked.dropped if reranked else [],
        verdicts=state.get("verdicts", []),
        steps=steps,
        rounds=rounds,
        searched=searched,
    )
