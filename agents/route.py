"""Routing: which corpora answer a question.

Router labels (UniversalRAG's set) map onto the configured corpora by granularity; a label
with no configured corpus holding items is never chosen (a deployment without video never
routes there) and `no` means the model answers alone. Three routers:

- trained (agents.routing.TrainedRouter): calibrated probabilities over the six labels,
  restricted to the available ones and renormalised;
- llm: the configured corpora described in a prompt (agents/prompts/router.md), the label
  read through vLLM structured outputs (`choice`), so it always parses;
- hybrid: the trained router when its top probability exceeds `confidence`, else the LLM.

When the top-2 probabilities are within `multi_route_margin`, both routes are searched.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from typing import Any, Protocol

from agents.config import AgentConfig, prompt
from agents.state import LABELS, Label, RouteDecision
from rag.config import Config
from rag.errors import GeneratorError
from rag.generator import Generator

log = logging.getLogger(__name__)

RETRIEVAL_LABELS: tuple[Label, ...] = LABELS[1:]
LABEL_MEANING: dict[str, str] = {
    "no": "no retrieval: general knowledge, arithmetic, definitions, small talk or rewriting "
    "that the assistant can answer alone",
    "paragraph": "short text passages: a specific fact, number, name or detail",
    "document": "whole documents or long sections: questions that need a document's overall content",
    "image": "images: what something looks like, visual appearance, photos and figures",
    "clip": "short video clips: a moment, an action or a step shown or said in a video",
    "video": "whole videos: the overall story, topic or sequence of a video",
}


class ProbabilisticRouter(Protocol):
    """What the agent needs from agents.routing.TrainedRouter."""

    def route(self, question: str) -> list[tuple[str, float]]: ...


def label_corpora(
    config: Config, counts: Mapping[str, int] | None = None
) -> dict[Label, tuple[str, ...]]:
    """Each router label and the configured corpora it searches (only those holding items
    when `counts` is given); `no` maps to no corpus and is always available."""
    mapping: dict[Label, tuple[str, ...]] = {"no": ()}
    for label in RETRIEVAL_LABELS:
        names = tuple(
            c.name
            for c in config.corpora
            if c.granularity == label and (counts is None or counts.get(c.name, 0) > 0)
        )
        if names:
            mapping[label] = names
    return mapping


def restrict(probabilities: Mapping[str, float], available: Sequence[str]) -> dict[str, float]:
    """Probabilities over the available labels only, renormalised (uniform when all are 0)."""
    kept = {label: max(float(probabilities.get(label, 0.0)), 0.0) for label in available}
    total = sum(kept.values())
    if total <= 0:
        return {label: 1.0 / len(kept) for label in kept}
    return {label: p / total for label, p in kept.items()}


def decide(
    probabilities: Mapping[str, float] | None,
    mapping: Mapping[Label, tuple[str, ...]],
    margin: float,
    decided_by: str,
    mode: str,
    first: Label | None = None,
    reason: str = "",
) -> RouteDecision:
    """The route decision: the best available label (or `first`, e.g. the LLM's choice),
    plus the runner-up when it is within `margin` of the best (multi-route). With no
    probabilities (a bare LLM choice) the ranking after `first` is the labels' order."""
    probs = restrict(probabilities, list(mapping)) if probabilities is not None else {}
    ranking: list[Label] = sorted(
        mapping, key=lambda label: (-probs.get(label, 0.0), LABELS.index(label))
    )
    if first is not None:
        ranking.remove(first)
        ranking.insert(0, first)
    labels = [ranking[0]]
    if (
        first is None
        and probs
        and len(ranking) > 1
        and probs[ranking[0]] - probs[ranking[1]] <= margin
    ):
        labels.append(ranking[1])
        reason = (reason + "; " if reason else "") + (
            f"top-2 within {margin:.2f} ({ranking[0]} {probs[ranking[0]]:.2f}, "
            f"{ranking[1]} {probs[ranking[1]]:.2f}): searching both"
        )
    corpora = tuple(name for label in labels for name in mapping[label])
    return RouteDecision(tuple(labels), corpora, probs, tuple(ranking), decided_by, mode, reason)  # type: ignore[arg-type]


class LLMRouter:
    """Zero-shot routing by the answer model: the configured corpora are described in the
    prompt and the label comes back through vLLM structured outputs (`choice`), so the reply
    is exactly one of the allowed labels."""

    def __init__(self, generator: Callable[[], Generator], config: Config, max_tokens: int = 8):
        self.generator = generator  # e.g. Library.generator: the server starts on first use
        self.config = config
        self.max_tokens = max_tokens

    def messages(self, question: str, labels: Sequence[Label]) -> list[dict[str, Any]]:
        lines = []
        for label in labels:
            described = [
                c.description or c.name for c in self.config.corpora if c.granularity == label
            ]
            where = f" Holds: {'; '.join(described)}" if described else ""
            lines.append(f"- {label}: {LABEL_MEANING[label]}.{where}")
        system = prompt("router").format(sources="\n".join(lines), labels=", ".join(labels))
        return [
            {"role": "system", "content": system},
            {"role": "user", "content": f"Question: {question}\nSource:"},
        ]

    def choose(self, question: str, labels: Sequence[Label]) -> Label:
        """One of `labels` for the question."""
        if len(labels) == 1:
            return labels[0]
        reply = self.generator().choose(self.messages(question, labels), labels, self.max_tokens)
        return parse_label(reply, labels)


def parse_label(reply: str, labels: Sequence[Label]) -> Label:
    """The label in a reply: exact (structured outputs), else the first label word in it
    (a server that ignored structured outputs), else the first allowed label."""
    text = reply.strip().strip("\"'` .").lower()
    if text in labels:
        return text  # type: ignore[return-value]
    for word in re.findall(r"[a-z]+", text):
        if word in labels:
            return word  # type: ignore[return-value]
    log.warning("router reply %r names no label; using %s", reply, labels[0])
    return labels[0]


def load_trained() -> ProbabilisticRouter | None:
    """The shipped trained router, or None (with the reason logged) when it is not there."""
    try:
        from agents.routing import TrainedRouter  # type: ignore[import-not-found]
    except ImportError as exc:
        log.info("trained router unavailable (%s); routing with the LLM", exc)
        return None
    try:
        return TrainedRouter.load()
    except Exception as exc:  # noqa: BLE001 - any failure of the optional router means: use the LLM
        log.warning(
            "trained router could not be loaded (%s: %s); routing with the LLM",
            type(exc).__name__,
            exc,
        )
        return None


class Router:
    """The configured routing policy (trained | llm | hybrid) over the available corpora."""

    def __init__(
        self, config: AgentConfig, trained: ProbabilisticRouter | None, llm: LLMRouter | None
    ):
        self.config = config
        self.trained = trained
        self.llm = llm

    def decide(self, question: str, mapping: Mapping[Label, tuple[str, ...]]) -> RouteDecision:
        """The route. When the LLM router fails (server down, timed out, refused), the
        trained router's decision stands, with the failure in its reason."""
        mode, margin = self.config.router, self.config.multi_route_margin
        labels = list(mapping)
        trained = None
        if self.trained is not None:
            probs = dict(self.trained.route(question))
            trained = decide(probs, mapping, margin, "trained", mode)
            top = trained.probabilities[trained.label]
            if mode == "trained" or self.llm is None or (mode == "hybrid" and top > self.config.confidence):
                return trained
        if self.llm is None:
            raise RuntimeError("no router: the trained router is unavailable and no LLM router was given")  # fmt: skip
        try:
            choice = self.llm.choose(question, labels)
        except GeneratorError as exc:
            if trained is None:
                raise
            log.warning("LLM router failed (%s); the trained router decides", exc)
            return replace(trained, reason=f"LLM router unavailable ({exc}); the trained router decided")  # fmt: skip
        if trained is None or mode == "llm":
            reason = "" if mode == "llm" else "trained router unavailable: the LLM chose"
            return decide(None, mapping, margin, "llm", mode, first=choice, reason=reason)
        top = trained.probabilities[trained.label]
        reason = f"trained router unsure (top {trained.label} {top:.2f} <= {self.config.confidence:.2f}): the LLM chose {choice}"  # fmt: skip
        return decide(trained.probabilities, mapping, margin, "llm", mode, first=choice, reason=reason)

    def next_label(
        self,
        question: str,
        decision: RouteDecision,
        tried: Sequence[str],
        mapping: Mapping[Label, tuple[str, ...]],
    ) -> Label | None:
        """The next-best untried retrieval label: along the decision's ranking when it has
        probabilities, else the LLM's choice among the untried ones."""
        left = untried(decision, tried, mapping)
        if not left:
            return None
        if decision.probabilities or self.llm is None:
            return left[0]
        return self.llm.choose(question, left)


def untried(decision: RouteDecision, tried: Sequence[str], mapping: Mapping[Label, tuple[str, ...]]) -> list[Label]:  # fmt: skip
    """Retrieval labels still to search, in the decision's order (what a re-route may take)."""
    return [label for label in decision.ranking if label != "no" and label not in tried and label in mapping]


def forced_decision(
    labels: Sequence[Label], mapping: Mapping[Label, tuple[str, ...]], mode: str
) -> RouteDecision:
    """A caller-chosen route: `labels` in order (the first is searched, the rest are the
    re-routing order), the other available labels after them."""
    unknown = [label for label in labels if label not in mapping]
    if unknown:
        raise ValueError(f"cannot route to {unknown}: available labels here are {list(mapping)}")
    ranking = [
        *labels,
        *(label for label in RETRIEVAL_LABELS if label in mapping and label not in labels),
    ]
    first = labels[0]
    probs = {label: (1.0 if label == first else 0.0) for label in mapping}
    return RouteDecision(
        (first,),
        mapping[first],
        probs,
        tuple(ranking),
        "forced",
        mode,
        "route chosen by the caller",
    )
