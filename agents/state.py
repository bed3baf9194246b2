"""The agent's typed records: the graph's one state, what each step decides, the events that
`Agent.stream` yields, and the finished AgentAnswer."""

from __future__ import annotations

import operator
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal, TypedDict

from agents.labels import Label
from rag.core.items import Hit
from rag.generation.answer import Answer

DecidedBy = Literal["trained", "llm", "forced"]
Action = Literal["end", "reroute", "widen", "rewrite"]
CondenseMethod = Literal["none", "rules", "llm"]


@dataclass(frozen=True)
class Condensed:
    """A follow-up made standalone before routing: what the user typed, the question the
    agent searched and answered, how (none: a first turn or a self-contained question), why,
    whether it leaned on the earlier turns, and the route to prefer (the previous turn's, or
    the cited item's it points at; none when it names where to look)."""

    asked: str
    standalone: str
    method: CondenseMethod
    reason: str = ""
    dependent: bool = False
    seconds: float = 0.0
    prefer: tuple[Label, ...] = ()


@dataclass(frozen=True)
class Turn:
    """One finished exchange of a conversation: the question as typed, the standalone question
    the agent used, the answer text, its route and the evidence it cited. `Turn(q, a)` is
    enough for `Agent.ask(..., history=[...])`."""

    question: str
    answer: str = ""
    standalone: str = ""
    labels: tuple[Label, ...] = ()
    cited: tuple[Hit, ...] = ()
    method: CondenseMethod = "none"

    @property
    def asked(self) -> str:
        """The question the turn settled on: the standalone one when there was one."""
        return self.standalone or self.question

    def to_dict(self) -> dict[str, Any]:
        return {"question": self.question, "answer": self.answer, "standalone": self.standalone,
                "labels": list(self.labels), "cited": [h.to_dict() for h in self.cited], "method": self.method}

    @classmethod
    def from_dict(cls, row: Mapping[str, Any]) -> Turn:
        return cls(row["question"], row.get("answer", ""), row.get("standalone", ""), tuple(row.get("labels", ())),
                   tuple(Hit.from_dict(h) for h in row.get("cited", ())), row.get("method", "none"))


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
    condensed: Condensed | None = None  # `question` is its standalone question
    labels: tuple[Label, ...] = ()  # the route of the round the answer comes from

    @property
    def ok(self) -> bool:
        return bool(self.verdicts) and self.verdicts[-1].ok

    def turn(self) -> Turn:
        """This answer as a conversation turn."""
        condensed = self.condensed or Condensed(self.question, self.question, "none")
        standalone = condensed.standalone if condensed.standalone != condensed.asked else ""
        return Turn(condensed.asked, self.text, standalone, self.labels, tuple(c.hit for c in self.citations), condensed.method)


# Events of Agent.stream, in order: condense (a follow-up in a conversation only), route,
# hits, rerank, token..., reflection, (again for a re-route, a wider k or a second hop),
# final. The `no` route skips hits and rerank.


@dataclass(frozen=True)
class CondenseEvent:
    condensed: Condensed
    kind: Literal["condense"] = "condense"


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


Event = CondenseEvent | RouteEvent | HitsEvent | RerankEvent | TokenEvent | ReflectionEvent | FinalEvent


def event_line(event: Event) -> str:
    """One line for a step event (route, hits, rerank, reflection): the CLI prints it, the UI's
    status panel shows it."""
    if event.kind == "condense":
        c = event.condensed
        how = f" ({c.method}: {c.reason})" if c.reason else f" ({c.method})"
        return f"standalone question: {c.standalone}{how}"
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

    question: str  # the standalone question (the condense step rewrites a follow-up)
    history: list[Turn]  # the conversation's earlier turns, oldest first
    condensed: Condensed
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
