"""The agent's typed records: the graph's one state, what each step decides, the events that
`Agent.stream` yields, and the finished AgentAnswer."""

from __future__ import annotations

import operator
from dataclasses import dataclass, field
from typing import Annotated, Literal, TypedDict

from agents.labels import Label
from rag.core.items import Hit
from rag.generation.answer import Answer

DecidedBy = Literal["trained", "llm", "forced"]
Action = Literal["end", "reroute", "widen", "rewrite"]


@dataclass(frozen=True)
class RouteDecision:
    """Where to look: the labels chosen (two when the top-2 are close or the decision is
    unsure), the corpora they map to, the probabilities over the labels this config can
    serve (the intent model's moved by the evidence probes), and who decided."""

    labels: tuple[Label, ...]
    corpora: tuple[str, ...]
    probabilities: dict[
        str, float
    ]  # over available labels, summing to 1 (empty for a bare LLM choice)
    ranking: tuple[Label, ...]  # available labels, best first: the order re-routing follows
    decided_by: DecidedBy
    mode: str  # the configured router mode
    reason: str = ""
    intent: dict[str, float] = field(default_factory=dict)  # the intent model's own view
    evidence: dict[str, float] = field(default_factory=dict)  # corpus -> P(holds a match)

    @property
    def label(self) -> Label:
        return self.labels[0]

    @property
    def multi(self) -> bool:
        return len(self.labels) > 1


@dataclass(frozen=True)
class Scored:
    """A hit with its relevance (0-1) and the signals it was computed from."""

    hit: Hit
    relevance: float
    signals: dict[str, float]
    reason: str = ""  # why it was dropped ("below threshold", "beyond k")


@dataclass(frozen=True)
class Reranked:
    kept: list[Scored]
    dropped: list[Scored]
    threshold: float
    k: int

    @property
    def hits(self) -> list[Hit]:
        return [s.hit for s in self.kept]


@dataclass(frozen=True)
class Verdict:
    """Reflection on one round's answer: supported by its citations, and was the evidence
    sufficient (it covers the question)? Then what to do next."""

    round: int
    supported: bool
    sufficient: bool
    coverage: float  # share of the question's content words found in the cited evidence
    grounding: str
    action: Action
    reason: str
    mode: str = "cheap"
    corpora: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return self.supported and self.sufficient


@dataclass(frozen=True)
class Step:
    step: str
    round: int
    seconds: float


@dataclass
class Round:
    """Everything one pass through retrieve -> rerank -> generate -> reflect produced."""

    round: int
    labels: tuple[Label, ...]
    corpora: tuple[str, ...]
    k: int
    reranked: Reranked | None
    answer: Answer
    verdict: Verdict | None = None
    query: str = ""  # a second hop's follow-up query (empty: the question itself)


@dataclass
class AgentAnswer(Answer):
    """rag.generation.answer.Answer plus the agent's decisions. `grounding` may also be "model": the
    `no` route, answered by the model alone with no evidence."""

    route: RouteDecision | None = None
    kept: list[Scored] = field(default_factory=list)
    dropped: list[Scored] = field(default_factory=list)
    verdicts: list[Verdict] = field(default_factory=list)
    steps: list[Step] = field(default_factory=list)
    rounds: list[Round] = field(default_factory=list)
    searched: list[str] = field(default_factory=list)  # corpora searched, in order

    @property
    def ok(self) -> bool:
        return bool(self.verdicts) and self.verdicts[-1].ok


# Events of Agent.stream, in order: route, hits, rerank, token..., reflection, (again for a
# re-route, a wider k or a second hop), final. The `no` route skips hits and rerank.


@dataclass(frozen=True)
class RouteEvent:
    decision: RouteDecision
    round: int
    labels: tuple[Label, ...]  # this round's labels (a re-route moves on along decision.ranking)
    corpora: tuple[str, ...]
    kind: Literal["route"] = "route"


@dataclass(frozen=True)
class HitsEvent:
    hits: list[Hit]
    corpora: tuple[str, ...]
    round: int
    k: int
    query: str = ""  # a second hop's follow-up query (empty: the question itself)
    kind: Literal["hits"] = "hits"


@dataclass(frozen=True)
class RerankEvent:
    kept: list[Scored]
    dropped: list[Scored]
    round: int
    kind: Literal["rerank"] = "rerank"


@dataclass(frozen=True)
class TokenEvent:
    text: str
    round: int
    kind: Literal["token"] = "token"


@dataclass(frozen=True)
class ReflectionEvent:
    verdict: Verdict
    kind: Literal["reflection"] = "reflection"


@dataclass(frozen=True)
class FinalEvent:
    answer: AgentAnswer
    kind: Literal["final"] = "final"


Event = RouteEvent | HitsEvent | RerankEvent | TokenEvent | ReflectionEvent | FinalEvent


def event_line(event: Event) -> str:
    """One line for a step event (route, hits, rerank, reflection): the CLI prints it, the UI's
    status panel shows it."""
    if event.kind == "route":
        d = event.decision
        probs = ", ".join(
            f"{label} {p:.2f}"
            for label, p in sorted(d.probabilities.items(), key=lambda x: -x[1])[:3]
        )
        where = ", ".join(event.corpora) or "none: the model answers alone"
        if d.evidence and event.round == 0:
            probs += "; evidence " + ", ".join(
                f"{c} {p:.2f}" for c, p in sorted(d.evidence.items(), key=lambda x: -x[1])[:3]
            )
        why = f"; {d.reason}" if d.reason and event.round == 0 else ""
        head = "route" if event.round == 0 else f"re-route (round {event.round})"
        return f"{head}: {'+'.join(event.labels)} -> {where} [{d.decided_by}{': ' + probs if probs else ''}]{why}"
    if event.kind == "hits":
        per = {c: sum(h.corpus == c for h in event.hits) for c in event.corpora}
        hop = f" for the follow-up query '{event.query}'" if event.query else ""
        return (
            "retrieve: "
            + ", ".join(f"{n} hits from {c}" for c, n in per.items())
            + f" (k={event.k}){hop}"
        )
    if event.kind == "rerank":
        best = ", ".join(f"{s.relevance:.2f}" for s in event.kept[:5])
        return f"rerank: kept {len(event.kept)}{' (' + best + ')' if best else ''}, dropped {len(event.dropped)}"
    if event.kind == "reflection":
        v = event.verdict
        return f"reflect (round {v.round}): {'ok' if v.ok else 'not ok'}, coverage {v.coverage:.2f} -> {v.action}; {v.reason}"
    return event.kind


class AgentState(TypedDict, total=False):
    """The graph's one state. Nodes return the keys they change; lists marked with
    operator.add accumulate over rounds."""

    question: str
    image: str | None
    started: float  # time.perf_counter() when the question came in
    forced: tuple[Label, ...]  # labels the caller forced, in order (empty: the router decides)
    decision: RouteDecision
    labels: tuple[Label, ...]  # this round's labels
    corpora: tuple[str, ...]  # this round's corpora
    tried: Annotated[list[str], operator.add]  # labels already searched
    reroute_to: Label | None  # the label reflection chose for the next round (else the ranking's next)
    round: int
    k: int
    candidates: int
    query: str  # this round's search query: the question, or a second hop's follow-up
    queries: Annotated[list[str], operator.add]  # follow-up queries already searched
    carried: list[Scored]  # evidence kept by the first hop, kept beside the second hop's
    hits: list[Hit]
    reranked: Reranked | None
    answer: Answer
    action: Action
    rounds: Annotated[list[Round], operator.add]
    verdicts: Annotated[list[Verdict], operator.add]
    steps: Annotated[list[Step], operator.add]
    final: AgentAnswer
