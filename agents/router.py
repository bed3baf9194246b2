"""Routing: which corpora answer a question.

Router labels (UniversalRAG's set) map onto the configured corpora by granularity; a label
with no configured corpus holding items is never chosen (a deployment without video never
routes there) and `no` means the model answers alone. The decision, for router modes:

- trained (the intent model, agents.intent.TrainedRouter) with evidence: its calibrated
  probabilities over the available labels are combined with evidence probes of the
  corpora (agents.evidence), see `fuse`. `no` is never a blind guess: it stands only when
  no corpus holds a confident match (`no_evidence_max`).
- llm: the configured corpora described in a prompt (agents/prompts/router.md), the label
  read through vLLM structured outputs (`choice`), so it always parses;
- hybrid: the trained decision when its top probability exceeds `confidence`; below it
  the LLM decides when it is trusted (`llm_router`: by default only a served model, since
  the embedded 135M model routes worse than the trained router), else the top two labels
  are both searched.

When the top-2 probabilities are within `multi_route_margin`, both routes are searched too.
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from agents.config import AgentConfig
from agents.evidence import Prober
from agents.labels import LABELS, RETRIEVAL_LABELS, Label
from agents.state import DecidedBy, RouteDecision
from rag.core.config import Config
from rag.core.errors import GeneratorError
from rag.core.prompts import prompt
from rag.generation.generator import Generator

log = logging.getLogger(__name__)

CONFIDENT = 0.5  # a probe's probability from which a corpus counts as holding a match
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
    """What the agent needs from agents.intent.TrainedRouter: label probabilities, and the
    question's embedding by encoder name when the same forward pass gives it."""

    def route_and_embed(self, question: str) -> tuple[list[tuple[Label, float]], dict[str, np.ndarray]]: ...


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
    decided_by: DecidedBy,
    mode: str,
    first: Label | None = None,
    reason: str = "",
    *,
    evidence: Mapping[str, float] | None = None,
    intent: Mapping[str, float] | None = None,
    unsure: bool = False,
) -> RouteDecision:
    """The route decision: the best available label (or `first`, e.g. the LLM's choice),
    plus the runner-up when it is within `margin` of the best or the decision is `unsure`
    (multi-route). With no probabilities (a bare LLM choice) the ranking after `first` is
    the labels' order. A label's corpora are searched best evidence first (`evidence`:
    corpus -> probability that it holds a match)."""
    probs = restrict(probabilities, list(mapping)) if probabilities is not None else {}
    ranking: list[Label] = sorted(
        mapping, key=lambda label: (-probs.get(label, 0.0), LABELS.index(label))
    )
    if first is not None:
        ranking.remove(first)
        ranking.insert(0, first)
    labels = [ranking[0]]
    if first is None and probs and len(ranking) > 1:
        best, second = probs[ranking[0]], probs[ranking[1]]
        why = ""
        if best - second <= margin:
            why = f"top-2 within {margin:.2f}"
        elif unsure and second > 0:
            why = f"unsure (top {best:.2f})"
        if why:
            labels.append(ranking[1])
            reason = (reason + "; " if reason else "") + (
                f"{why} ({ranking[0]} {best:.2f}, {ranking[1]} {second:.2f}): searching both"
            )
    corpora = tuple(name for label in labels for name in corpora_for(label, mapping, evidence or {}))
    return RouteDecision(
        tuple(labels), corpora, probs, tuple(ranking), decided_by, mode, reason,
        dict(intent or {}), dict(evidence or {}),
    )


def corpora_for(label: Label, mapping: Mapping[Label, tuple[str, ...]], evidence: Mapping[str, float]) -> tuple[str, ...]:
    """The label's corpora to search: all of them, or when each has evidence, the best one
    and those as likely to hold a match (a confident one, at least half the best's odds).
    This is what tells two corpora of one granularity ("manuals", "tickets") apart."""
    names = mapping.get(label, ())
    if len(names) < 2 or any(n not in evidence for n in names):
        return names
    ordered = sorted(names, key=lambda n: -evidence[n])
    best = evidence[ordered[0]]
    return (ordered[0], *(n for n in ordered[1:] if evidence[n] >= CONFIDENT and 1 - evidence[n] <= 2 * (1 - best)))


def fuse(
    intent: Mapping[str, float],
    evidence: Mapping[str, float],
    mapping: Mapping[Label, tuple[str, ...]],
    weight: float,
) -> dict[str, float]:
    """P(label | question, evidence) from the intent model's P(label | question) and the
    probes: log P = log P_intent(label) + weight * logit(e(label)) + const, where e(label)
    is the calibrated probability of the label's best corpus.

    Why this form: the intent model says where a question reads as belonging; the probes
    say where matching content is, which the wording cannot tell ("what does the wind do
    with the ash?" is answered by a video clip). Read as a Bayes update with the probes as
    independent evidence, a calibrated e (even prior odds) is the likelihood ratio
    e / (1 - e) of "this corpus holds the answer" against "unrelated", so each label's
    log-odds move by logit(e); `no` holds no corpus and does not move, nor does a label
    whose corpora give no calibrated score. `weight` (< 1) tempers the update, since neither
    the calibration nor the independence is exact."""
    scores = {}
    for label in mapping:
        known = [evidence[c] for c in mapping[label] if c in evidence]
        e = min(max(max(known), 1e-4), 1 - 1e-4) if known else None
        shift = weight * math.log(e / (1 - e)) if e is not None else 0.0
        scores[label] = math.log(max(intent.get(label, 0.0), 1e-9)) + shift
    top = max(scores.values())
    total = sum(math.exp(v - top) for v in scores.values())
    return {label: math.exp(v - top) / total for label, v in scores.items()}


def stick(probabilities: Mapping[str, float], preferred: Sequence[str], odds: float) -> tuple[dict[str, float], str]:
    """A follow-up's prior: the preferred labels' (the previous turn's route) odds multiplied
    by `odds`, renormalised, and the reason; the probabilities unchanged when none applies."""
    shown = [label for label in preferred if label in probabilities]
    if not shown or odds == 1.0:
        return dict(probabilities), ""
    moved = {label: p * (odds if label in shown else 1.0) for label, p in probabilities.items()}
    total = sum(moved.values()) or 1.0
    return {label: p / total for label, p in moved.items()}, f"follow-up: {'+'.join(shown)} preferred (odds x{odds:g})"


def overrule_no(probabilities: Mapping[str, float], evidence: Mapping[str, float], ceiling: float) -> tuple[dict[str, float], str]:
    """`no` is never a blind guess: when it is the best label but some corpus holds a match
    at least `ceiling` probable, `no` is dropped (the rest renormalised) and the reason says
    why; otherwise the probabilities are returned as they are."""
    probs = dict(probabilities)
    best = max(probs, key=probs.__getitem__)
    confident = [(p, c) for c, p in evidence.items() if p >= ceiling]
    if best != "no" or not confident or len(probs) < 2:
        return probs, ""
    value, corpus = max(confident)
    probs.pop("no")
    total = sum(probs.values()) or 1.0
    return {**{k: v / total for k, v in probs.items()}, "no": 0.0}, (
        f"the question reads as needing no retrieval, but {corpus} holds a confident match ({value:.2f})"
    )


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
        system = prompt("agents", "router").format(sources="\n".join(lines), labels=", ".join(labels))
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
    allowed = tuple(labels)  # `in` a tuple of labels narrows a str to Label
    if text in allowed:
        return text
    for word in re.findall(r"[a-z]+", text):
        if word in allowed:
            return word
    log.warning("router reply %r names no label; using %s", reply, labels[0])
    return labels[0]


def load_trained() -> ProbabilisticRouter | None:
    """The shipped trained router, or None (with the reason logged) when it cannot load."""
    from agents.intent import TrainedRouter  # scikit-learn and scipy: loaded only when routing

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
    """The configured routing policy (trained | llm | hybrid) over the available corpora.
    `prober`: the evidence probes (None: the intent model alone); `trust_llm`: whether the
    hybrid policy may hand uncertain questions to the LLM router."""

    def __init__(
        self,
        config: AgentConfig,
        trained: ProbabilisticRouter | None,
        llm: LLMRouter | None,
        prober: Prober | None = None,
        trust_llm: bool = True,
    ):
        self.config = config
        self.trained = trained
        self.llm = llm
        self.prober = prober
        self.trust_llm = trust_llm

    def probe(
        self, question: str, mapping: Mapping[Label, tuple[str, ...]], embeddings: Mapping[str, np.ndarray], image: Path | None = None
    ) -> dict[str, float]:
        """Evidence probes of every corpus the labels map to (none without a prober)."""
        if self.prober is None or not self.config.evidence:
            return {}
        corpora = list(dict.fromkeys(c for names in mapping.values() for c in names))
        return self.prober(question, corpora, embeddings, image)

    def decide(
        self,
        question: str,
        mapping: Mapping[Label, tuple[str, ...]],
        image: Path | None = None,
        use_llm: bool = True,
        prefer: Sequence[Label] = (),
    ) -> RouteDecision:
        """The route. When the LLM router fails (server down, timed out, refused), the
        trained decision stands, with the failure in its reason. `use_llm=False`: never ask
        the LLM (e.g. search-only when no generator is reachable). `prefer`: a follow-up's
        previous route, whose odds grow by `follow_up_odds` (`stick`)."""
        mode, margin = self.config.router, self.config.multi_route_margin
        trained = None
        if self.trained is not None:
            route, embeddings = self.trained.route_and_embed(question)
            trained = self.fused(question, mapping, dict(route), embeddings, image, prefer)
            top = trained.probabilities[trained.label]
            unsure = top <= self.config.confidence
            if not use_llm or self.llm is None or mode == "trained" or (mode == "hybrid" and not (unsure and self.trust_llm)):
                return trained
        if self.llm is None or not use_llm:
            raise RuntimeError("no router: the trained router is unavailable and no LLM router was given")
        try:
            choice = self.llm.choose(question, list(mapping))
        except GeneratorError as exc:
            if trained is None:
                raise
            log.warning("LLM router failed (%s); the trained router decides", exc)
            return replace(trained, reason=f"LLM router unavailable ({exc}); the trained router decided")
        if trained is None:
            return decide(None, mapping, margin, "llm", mode, first=choice, reason="" if mode == "llm" else "trained router unavailable: the LLM chose")
        top = trained.probabilities[trained.label]
        reason = f"the LLM chose {choice}" if mode == "llm" else f"trained router unsure (top {trained.label} {top:.2f} <= {self.config.confidence:.2f}): the LLM chose {choice}"
        confident = max(trained.evidence.values(), default=0.0)
        if choice == "no" and confident >= self.config.no_evidence_max:
            choice = next(label for label in trained.ranking if label != "no")
            reason += f", but a corpus holds a confident match ({confident:.2f}): {choice} instead"
        return decide(trained.probabilities, mapping, margin, "llm", mode, first=choice, reason=reason,
                      evidence=trained.evidence, intent=trained.intent)

    def fused(
        self,
        question: str,
        mapping: Mapping[Label, tuple[str, ...]],
        intent: Mapping[str, float],
        embeddings: Mapping[str, np.ndarray],
        image: Path | None = None,
        prefer: Sequence[Label] = (),
    ) -> RouteDecision:
        """The trained decision: intent probabilities moved by the evidence probes (`fuse`)
        and a follow-up's prior (`stick`), `no` overruled when a corpus holds a confident
        match, the top two searched when the result is unsure."""
        available = restrict(intent, list(mapping))
        evidence = self.probe(question, mapping, embeddings, image)
        probs = fuse(available, evidence, mapping, self.config.evidence_weight) if evidence else available
        probs, follow = stick(probs, prefer, self.config.follow_up_odds)
        probs, why = overrule_no(probs, evidence, self.config.no_evidence_max)
        moved = max(available, key=available.__getitem__)
        now = max(probs, key=probs.__getitem__)
        if not why and now != moved:
            why = f"evidence moved the route from {moved} ({available[moved]:.2f}) to {now}"
        why = "; ".join(x for x in (follow, why) if x)
        unsure = probs[now] <= self.config.confidence
        return decide(probs, mapping, self.config.multi_route_margin, "trained", self.config.router, reason=why,
                      evidence=evidence, intent=available, unsure=unsure)

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


def untried(decision: RouteDecision, tried: Sequence[str], mapping: Mapping[Label, tuple[str, ...]]) -> list[Label]:
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
    probs: dict[str, float] = {label: (1.0 if label == first else 0.0) for label in mapping}
    return RouteDecision(
        (first,),
        mapping[first],
        probs,
        tuple(ranking),
        "forced",
        mode,
        "route chosen by the caller",
    )
