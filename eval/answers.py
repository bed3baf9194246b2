"""Answer evaluation: the full agent on questions with gold answers.

    mmrag eval answers --beir DIR [--limit N] [--json OUT]       (BEIR layout + answers.jsonl)
    mmrag eval answers --dataset FILE.jsonl [--limit N] [--json OUT]

--beir ingests the corpus into a fresh temporary store first (as `eval retrieval` does) and
takes the qrels as gold evidence. --dataset runs against the configured corpora; each line is
{question, answer or answers, optional evidence (gold ids: file names, stems or item ids),
optional choices, optional gt_retrieval (gold route label) and time_reference [start, end]},
or a conversation {id, turns: [such rows, follow-ups with optional standalone and kind]},
asked turn by turn in one agent.conversation(). For follow-ups it also reports resolution
(the standalone question's top k in the gold label's corpora holds a gold item; the same for
the follow-up as typed), the share routed to the gold label, and the condense step's
latency; --condense rules|llm|off overrides [agent] condense. Scores: exact match and token F1 (SQuAD normalisation), ROUGE-L,
multiple-choice accuracy when choices are given, citation precision/recall against gold
evidence, and faithfulness judged by the configured answer model (P(yes) that the cited
evidence supports the answer; --no-judge skips it). Also writes OUT-ragas.jsonl (user_input,
response, retrieved_contexts, reference) so ragas can score the same samples. The last line
printed is `f1=<float> em=<float>`.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from rich.progress import Progress

from agents.agent import Agent
from agents.config import AgentConfig
from agents.labels import label_name
from agents.state import AgentAnswer
from eval import metrics, report
from eval.beir import Beir, indexed
from eval.retrieval import text_corpora
from eval.stats import p50_p95
from rag.core.config import Config, load_config
from rag.core.items import Hit
from rag.core.prompts import prompt
from rag.library import Library

STEPS = ("condense", "route", "retrieve", "rerank", "generate", "reflect")


@dataclass
class Sample:
    question: str
    answers: list[str]
    evidence: set[str] = field(default_factory=set)  # gold ids
    choices: list[str] = field(default_factory=list)
    id: str = ""
    label: str = ""  # gold route label (gt_retrieval), when given
    seconds: tuple[float, float] | None = None  # a clip's gold moment (time_reference)
    turn: int = 0  # its place in the conversation (0: the first question)
    kind: str = ""  # a follow-up's kind, as the dataset names it


Dialogue = list[Sample]  # a conversation's turns; a plain question is a one-turn one


def sample_of(row: dict[str, Any], id: str, turn: int = 0) -> Sample:
    gold = row.get("answers", row.get("answer", []))
    label = row.get("gt_retrieval")
    span = row.get("time_reference")
    return Sample(row["question"], [gold] if isinstance(gold, str) else [str(a) for a in gold],
                  set(map(str, row.get("evidence", []))), list(row.get("choices", [])), id,
                  label_name(label) if label is not None else "", (float(span[0]), float(span[1])) if span else None,
                  turn, row.get("kind", ""))


def load_dataset(path: Path) -> list[Dialogue]:
    """A JSONL (or JSON array) of questions {question, answer(s), evidence?, choices?,
    gt_retrieval?, time_reference?} or conversations {id, turns: [questions]}."""
    text = path.read_text(encoding="utf-8")
    rows = json.loads(text) if text.lstrip().startswith("[") else [json.loads(x) for x in text.splitlines() if x.strip()]
    dialogues = []
    for i, row in enumerate(rows):
        name = str(row.get("id", i))
        turns = row.get("turns", [row])
        dialogues.append([sample_of(t, f"{name}.{n}" if "turns" in row else name, n) for n, t in enumerate(turns)])
    return dialogues


def beir_samples(beir: Beir) -> list[Dialogue]:
    return [[Sample(beir.queries[q], answers, {d for d, g in beir.qrels.get(q, {}).items() if g > 0}, id=q)] for q, answers in beir.answers.items()]


@contextmanager
def source(args: argparse.Namespace, config: Config) -> Iterator[tuple[Library, list[Dialogue], dict[str, str]]]:
    """The library to ask, the dialogues, and file stem -> gold id (BEIR) or {} (dataset)."""
    if args.beir:
        beir = Beir.load(args.beir, args.split)
        if not beir.answers:
            raise FileNotFoundError(f"{args.beir}: no answers.jsonl (needed for answer evaluation)")
        corpora = text_corpora(config, ("paragraph",))
        with tempfile.TemporaryDirectory(prefix="mmrag-eval-") as tmp, indexed(beir, config, corpora, Path(tmp)) as (library, stems, _):
            yield library, beir_samples(beir)[: args.limit], stems
    else:
        with Library(config) as library:
            yield library, load_dataset(args.dataset)[: args.limit], {}


def cited_ids(hits: Sequence[Hit], stems: dict[str, str], gold: set[str]) -> set[str]:
    """One id per cited source, comparable with the gold ids: the BEIR doc id, else whichever
    of file name, stem or item id is gold (the file name when none is)."""
    if stems:
        return {stems[Path(h.source).stem] for h in hits if Path(h.source).stem in stems}
    names = [(Path(h.source).name, Path(h.source).stem, h.id) for h in hits]
    return {next((x for x in ids if x in gold), ids[0]) for ids in names}


def faithfulness(agent: Agent, answer: AgentAnswer) -> float | None:
    """P(yes) from the answer model that the cited evidence supports the answer; None when
    there is nothing to judge (no citations)."""
    if not answer.citations:
        return None
    evidence = "\n\n".join(f"[{c.n}] {c.hit.text[:1500]}" for c in answer.citations)
    content = f"<evidence>\n{evidence}\n</evidence>\nQuestion: {answer.question}\nAnswer: {answer.text}\nIs the answer supported? yes or no:"
    messages = [{"role": "system", "content": prompt("eval", "faithfulness")}, {"role": "user", "content": content}]
    return agent.library.generator().choice_probabilities(messages, ("yes", "no"))["yes"]


def score(sample: Sample, answer: AgentAnswer, stems: dict[str, str], faithful: float | None) -> dict[str, Any]:
    row: dict[str, Any] = {"id": sample.id, "question": sample.question, "answer": answer.text, "gold": sample.answers,
                           "em": metrics.exact_match(answer.text, sample.answers), "f1": metrics.token_f1(answer.text, sample.answers),
                           "rouge_l": max((metrics.rouge_l(answer.text, a) for a in sample.answers), default=0.0),
                           "route": list(answer.route.labels) if answer.route else [], "grounding": answer.grounding,
                           "steps": step_seconds(answer), "actions": [v.action for v in answer.verdicts],
                           "second_hop": float(any(v.action == "rewrite" for v in answer.verdicts))}
    if sample.choices:
        picked = metrics.choice_of(answer.text, sample.choices)
        gold = metrics.choice_of(sample.answers[0], sample.choices) if sample.answers else None
        row["choice_correct"] = float(picked is not None and picked == gold)
    if sample.evidence:
        row["citation_precision"], row["citation_recall"] = metrics.precision_recall(cited_ids([c.hit for c in answer.citations], stems, sample.evidence), sample.evidence)
    if faithful is not None:
        row["faithfulness"] = faithful
    return row


def step_seconds(answer: AgentAnswer) -> dict[str, float]:
    """Seconds per agent step (the agent sums them over rounds) and the total."""
    return {s: answer.timings.get(f"{s}_s", 0.0) for s in STEPS} | {"total": answer.timings["total_s"]}


def latency(rows: Sequence[dict[str, Any]]) -> dict[str, dict[str, float]]:
    """p50/p95 seconds per step over the rows' `steps`."""
    names = list(dict.fromkeys(n for r in rows for n in r["steps"]))
    return {n: p50_p95([r["steps"][n] for r in rows]) for n in names}


def is_gold(hit: Hit, sample: Sample) -> bool:
    """A hit of a gold item: its file name, stem or id is gold (and a clip overlaps the gold moment)."""
    named = bool({Path(hit.source).name, Path(hit.source).stem, hit.id} & sample.evidence)
    if not named or sample.seconds is None or hit.span.start_s is None:
        return named
    start, end = sample.seconds
    return hit.span.start_s < end and (hit.span.end_s or hit.span.start_s) > start


def resolves(agent: Agent, question: str, sample: Sample) -> float:
    """1.0 when `question`'s top k in the gold label's corpora holds a gold item."""
    corpora = agent.mapping().get(sample.label, ())  # type: ignore[call-overload]
    hits = [h for c in corpora for h in agent.library.search(question, corpus=c, k=agent.k)]
    return float(any(is_gold(h, sample) for h in hits))


def conversation_scores(agent: Agent, sample: Sample, answer: AgentAnswer) -> dict[str, Any]:
    """A turn's conversation figures: the standalone question, routing to the gold label and,
    for a follow-up with gold items, resolution (standalone and as typed)."""
    condensed = answer.condensed
    row: dict[str, Any] = {"turn": sample.turn, "kind": sample.kind, "standalone": answer.question,
                           "condensed_by": condensed.method if condensed else "none"}
    if sample.label:
        row["right_corpus"] = float(sample.label in answer.labels)
    if sample.turn and sample.label and sample.label != "no" and sample.evidence:
        row["resolution"] = resolves(agent, answer.question, sample)
        row["resolution_as_typed"] = resolves(agent, sample.question, sample)
    return row


def ragas_row(sample: Sample, answer: AgentAnswer) -> dict[str, Any]:
    """ragas' SingleTurnSample fields."""
    return {"user_input": sample.question, "response": answer.text,
            "retrieved_contexts": [h.text for h in answer.evidence], "reference": sample.answers[0] if sample.answers else ""}


def run(agent: Agent, dialogues: Sequence[Dialogue], stems: dict[str, str], judge: bool) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    rows, ragas = [], []
    questions = sum(len(d) for d in dialogues)
    with Progress() as progress:
        task = progress.add_task(f"answering {questions} questions", total=questions)
        for dialogue in dialogues:
            conversation = agent.conversation()
            for sample in dialogue:
                answer = conversation.ask(sample.question)
                rows.append(score(sample, answer, stems, faithfulness(agent, answer) if judge else None)
                            | conversation_scores(agent, sample, answer))
                ragas.append(ragas_row(sample, answer))
                progress.advance(task)
    return rows, ragas


def summary(rows: Sequence[dict[str, Any]]) -> dict[str, float]:
    """Means of every per-question score present (each over the questions that have it), and
    for conversations the follow-ups' own figures."""
    names = ("em", "f1", "rouge_l", "choice_correct", "citation_precision", "citation_recall", "faithfulness", "second_hop", "right_corpus")
    figures = {n: float(np.mean([r[n] for r in rows if n in r])) for n in names if any(n in r for r in rows)}
    follow = [r for r in rows if r.get("turn")]
    if follow:
        figures["follow-ups"] = float(len(follow))
        for n in ("resolution", "resolution_as_typed", "right_corpus", "f1"):
            if any(n in r for r in follow):
                figures[f"follow-up {n}"] = float(np.mean([r[n] for r in follow if n in r]))
        condense = p50_p95([r["steps"]["condense"] for r in follow])
        figures |= {"follow-up condense p50_s": condense["p50"], "follow-up condense p95_s": condense["p95"]}
    return figures


def by_kind(rows: Sequence[dict[str, Any]]) -> dict[str, dict[str, float]]:
    """Follow-up figures per kind (pronoun, ellipsis, modality_switch, ...)."""
    kinds = sorted({r["kind"] for r in rows if r.get("turn") and r.get("kind")})
    out = {}
    for kind in kinds:
        group = [r for r in rows if r.get("kind") == kind]
        out[kind] = {"n": float(len(group))} | {
            n: float(np.mean([r[n] for r in group if n in r])) for n in ("resolution", "resolution_as_typed", "right_corpus") if any(n in r for r in group)
        }
    return out


def arguments(description: str) -> argparse.ArgumentParser:
    """The dataset options shared with `eval latency`."""
    parser = argparse.ArgumentParser(description=description)
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--beir", type=Path, help="BEIR folder with answers.jsonl")
    where.add_argument("--dataset", type=Path, help="JSONL of {question, answer(s), evidence?, choices?}")
    parser.add_argument("--split", default="test")
    parser.add_argument("--limit", type=int, help="only the first N questions")
    parser.add_argument("--config", type=Path)
    parser.add_argument("--json", type=Path, help="result file")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = arguments(__doc__.split("\n\n")[0])
    parser.prog = "mmrag eval answers"
    parser.add_argument("--no-judge", action="store_true", help="skip the LLM faithfulness judge")
    parser.add_argument("--condense", choices=("rules", "llm", "off"), help="how follow-ups are made standalone (default: [agent] condense)")
    args = parser.parse_args(argv)
    config = load_config(args.config)
    agent_config = AgentConfig.of(config)
    if args.condense:
        agent_config = agent_config.model_copy(update={"condense": args.condense})
    with source(args, config) as (library, dialogues, stems):
        agent = Agent(library, agent_config)
        rows, ragas = run(agent, dialogues, stems, judge=not args.no_judge)
        model = library.generator().model
        condense = agent.condense_method
    figures = summary(rows)
    steps = latency(rows)
    figures |= {f"latency {n} p50_s": v["p50"] for n, v in steps.items()}
    name = (args.beir or args.dataset).resolve().stem
    out = args.json or Path("eval/results") / f"answers-{name}.json"
    result = {"command": "answers", "dataset": str(args.beir or args.dataset), "answer_model": model, "condense": condense,
              "meta": report.meta(config), "figures": figures, "latency": steps, "by_kind": by_kind(rows), "rows": rows}
    report.publish(result, out, f"Answers: {name}", f"{len(rows)} questions, answer model `{model}`.", {"latency": report.bar_plot(steps, "seconds")})
    ragas_path = out.with_name(f"{out.stem}-ragas.jsonl")
    ragas_path.write_text("".join(json.dumps(r) + "\n" for r in ragas), encoding="utf-8")
    print(f"wrote {ragas_path} (ragas samples)")
    print(f"f1={figures.get('f1', 0.0):.4f} em={figures.get('em', 0.0):.4f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
