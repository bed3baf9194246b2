"""Self-reflection: is the answer supported by its cited evidence, and was that evidence
sufficient? If not, and rounds remain: re-route to the next-best corpus, else widen k, but
only when the evidence itself is weak. A draft that fails the grounding check over strong
evidence (the right video kept with high relevance, covering the question) is not a sign
that the corpus was wrong: its answer, quoted from the evidence, stands.

A `no` answer is checked too: when the question's content words have a confident match in
a corpus (agents.evidence.Prober.content_match), the next round searches that corpus.

cheap (the default, right for a small model): supported = the answer is grounded (`cited`,
`attributed` or `extracted`, see rag.generation.grounding) with citations; sufficient = the cited
evidence holds at least `min_coverage` of the question's content words (an answer about ash
clouds cited from a passage that never mentions what the question asks about is grounded but
does not answer it).

When the evidence names a bridge and a follow-up query finds the rest (agents.rewrite), the
next round is a second hop in the same corpora, even after an ok verdict: a multi-hop
question's first hop is often grounded and covers most words while missing the answer.

llm: the answer model also judges (supported | unsupported | insufficient) through vLLM
structured outputs (`choice`), on top of the grounding check.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Literal

from agents.config import AgentConfig
from agents.rewrite import FollowUp
from agents.state import Action, Label, Scored, Verdict
from rag.core.errors import GeneratorError
from rag.core.items import Hit
from rag.core.prompts import prompt
from rag.generation.answer import Answer
from rag.generation.generator import Generator
from rag.generation.grounding import NO_ANSWER, QUESTION_FORM, content_words
from rag.generation.messages import evidence_text

Judgement = Literal["supported", "unsupported", "insufficient"]
JUDGEMENTS: tuple[Judgement, ...] = ("supported", "unsupported", "insufficient")


def coverage(question: str, evidence: Sequence[Hit]) -> float:
    """Share of the question's content words that the evidence holds (1.0 for a question
    with none)."""
    words = content_words(question) - QUESTION_FORM
    if not words:
        return 1.0
    known = (
        set().union(*(content_words(f"{h.title} {h.text}") for h in evidence))
        if evidence
        else set()
    )
    return len(words & known) / len(words)


def next_action(
    ok: bool, round_: int, max_rounds: int, can_reroute: bool, can_widen: bool,
    can_rewrite: bool = False, strong: bool = False,
) -> tuple[Action, str]:
    """What to do after a round's verdict: a connecting second hop first, then (when not ok
    and the evidence is not `strong`) the next-best corpus, then a larger k."""
    if round_ < max_rounds and can_rewrite:
        return "rewrite", "second hop: searching the follow-up query"
    if ok:
        return "end", "answer supported by sufficient evidence"
    if round_ >= max_rounds:
        return "end", f"no rounds left ({max_rounds} extra rounds allowed)"
    if strong:
        return "end", "the kept evidence is strong: the draft failed, not the corpus; its quoted answer stands"
    if can_reroute:
        return "reroute", "re-routing to the next-best corpus"
    if can_widen:
        return "widen", "no other corpus to try: widening k"
    return "end", "no other corpus to try and nothing more to retrieve"


class Reflector:
    def __init__(self, config: AgentConfig, generator: Callable[[], Generator]):
        self.config = config
        self.generator = generator

    def verdict(
        self,
        round_: int,
        question: str,
        labels: Sequence[Label],
        corpora: Sequence[str],
        answer: Answer,
        untried: Sequence[Label],
        can_widen: bool,
        follow_up: FollowUp | None = None,
        kept: Sequence[Scored] = (),
        match: tuple[Label, str, float] | None = None,
    ) -> Verdict:
        """The verdict on one round's answer and the next action. `untried`: retrieval labels
        not searched yet; `can_widen`: a larger k would bring evidence the round did not use;
        `follow_up`: a second-hop query whose look-ahead search connects; `kept`: the
        round's evidence; `match`: for a `no` answer, a corpus with a confident match for
        the question's content (label, corpus, probability)."""
        mode = self.config.reflection
        if not corpora:
            if match is not None and round_ < self.config.reflection_rounds:
                return Verdict(
                    round_, False, False, 0.0, answer.grounding, "reroute",
                    f"route `no`, but {match[1]} holds a confident match for the question's content "
                    f"({match[2]:.2f}): searching {match[0]}", mode, (),
                )
            return Verdict(
                round_, False, True, 1.0, answer.grounding, "end",
                "route `no`: the model answered alone, with no evidence to check against", mode, (),
            )
        cited = [c.hit for c in answer.citations]
        cover = coverage(question, cited)
        supported = answer.supported
        sufficient = supported and cover >= self.config.min_coverage
        why = []
        if not supported:
            why.append(f"not supported (grounding: {answer.grounding}, {len(cited)} citations)")
        elif not sufficient:
            why.append(
                f"cited evidence covers {cover:.0%} of the question (< {self.config.min_coverage:.0%})"
            )
        if mode == "llm" and supported:
            try:
                judgement: Judgement | None = self.model_verdict(question, answer)
            except GeneratorError as exc:  # the cheap check stands, labelled
                judgement, mode = None, "cheap"
                why.append(f"LLM check unavailable ({exc}); cheap check only")
            if judgement == "unsupported":
                supported = False
            if judgement is not None:
                sufficient = judgement == "supported"
            if judgement not in (None, "supported"):
                why.append(f"the model judged the answer {judgement}")
        ok = supported and sufficient
        strong = self.strong(question, kept)
        action, reason = next_action(
            ok, round_, self.config.reflection_rounds, bool(untried), can_widen, follow_up is not None, strong
        )
        if action == "rewrite" and follow_up is not None:
            why.append(f"the evidence lacks {', '.join(follow_up.missing)}; it names {', '.join(follow_up.bridge)}")
            reason = f"{reason} '{follow_up.query}'"
        reason = "; ".join([*why, reason])
        return Verdict(
            round_,
            supported,
            sufficient,
            cover,
            answer.grounding,
            action,
            reason,
            mode,
            tuple(corpora),
        )

    def strong(self, question: str, kept: Sequence[Scored]) -> bool:
        """Whether the kept evidence is strong: its best hit's relevance reaches
        `strong_relevance` and together it holds every content word of the question."""
        return bool(kept) and kept[0].relevance >= self.config.strong_relevance and (
            coverage(question, [s.hit for s in kept]) == 1.0
        )

    def model_verdict(self, question: str, answer: Answer) -> Judgement:
        """The answer model's verdict on the answer and its cited evidence (structured output)."""
        generator = self.generator()
        hits = [c.hit for c in answer.citations] or answer.evidence
        evidence = evidence_text(hits, generator.settings.max_evidence_chars)
        text = prompt("agents", "reflect").format(evidence=evidence, question=question, answer=answer.text)
        word = generator.choose([{"role": "user", "content": text}], JUDGEMENTS, 4).strip().lower()
        return word if word in JUDGEMENTS else "insufficient"


def caveat(
    answer: Answer, verdict: Verdict | None, searched: Sequence[str]
) -> tuple[str, list[str]]:
    """The final text and notes, saying plainly when support is missing."""
    where = ", ".join(searched) or "no corpus"
    if verdict is None or verdict.ok:
        return answer.text, []
    if not searched:
        return answer.text, []  # the `no` route's answer carries its own note
    if answer.text == NO_ANSWER or not answer.supported:
        return answer.text, [f"No supporting evidence was found in: {where}."]
    text = f"{answer.text}\n\nSupport is incomplete: the cited evidence (searched: {where}) may not fully answer this question."
    return text, [f"The cited evidence covers {verdict.coverage:.0%} of the question's terms."]
