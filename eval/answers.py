"""Answer evaluation: the full agent on questions with gold answers.

    mmrag eval answers --beir DIR [--limit N] [--json OUT]       (BEIR layout + answers.jsonl)
    mmrag eval answers --dataset FILE.jsonl [--limit N] [--json OUT]

--beir ingests the corpus into a fresh temporary store first (as `eval retrieval` does) and
takes the qrels as gold evidence. --dataset runs against the configured corpora; each line is
{question, answer or answers, optional evidence (gold ids: file names, stems or item ids),
optional choices}. Scores: exact match and token F1 (SQuAD normalisation), ROUGE-L,
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
from rich.progress import track

from agents.agent import Agent
from agents.config import AgentConfig
from agents.state import AgentAnswer
from eval import metrics, report
from eval.beir import Beir, indexed
from eval.retrieval import text_corpora
from eval.stats import p50_p95
from rag.core.config import Config, load_config
from rag.core.items import Hit
from rag.core.prompts import prompt
from rag.library import Library

STEPS = ("route", "retrieve", "rerank", "generate", "reflect")


@dataclass
class Sample:
    question: str
    answers: list[str]
    evidence: set[str] = field(default_factory=set)  # gold ids
    choices: list[str] = field(default_factory=list)
    id: str = ""


def load_dataset(path: Path) -> list[Sample]:
    """A JSONL (or JSON array) of {question, answer(s), evidence?, choices?}."""
    text = path.read_text(encoding="utf-8")
    rows = json.loads(text) if text.lstrip().startswith("[") else [json.loads(x) for x in text.splitlines() if x.strip()]
    samples = []
    for i, row in enumerate(rows):
        gold = row.get("answers", row.get("answer", []))
        samples.append(Sample(row["question"], [gold] if isinstance(gold, str) else [str(a) for a in gold],
                              set(map(str, row.get("evidence", []))), list(row.get("choices", [])), str(row.get("id", i))))
    return samples


def beir_samples(beir: Beir) -> list[Sample]:
    return [Sample(beir.queries[q], answers, {d for d, g in beir.qrels.get(q, {}).items() if g > 0}, id=q) for q, answers in beir.answers.items()]


@contextmanager
def source(args: argparse.Namespace, config: Config) -> Iterator[tuple[Library, list[Sample], dict[str, str]]]:
    """The library to ask, the samples, and file stem -> gold id (BEIR) or {} (dataset)."""
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


def ragas_row(sample: Sample, answer: AgentAnswer) -> dict[str, Any]:
    """ragas' SingleTurnSample fields."""
    return {"user_input": sample.question, "response": answer.text,
            "retrieved_contexts": [h.text for h in answer.evidence], "reference": sample.answers[0] if sample.answers else ""}


def run(agent: Agent, samples: Sequence[Sample], stems: dict[str, str], judge: bool) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    rows, ragas = [], []
    for sample in track(samples, description=f"answering {len(samples)} questions"):
        answer = agent.ask(sample.question)
        rows.append(score(sample, answer, stems, faithfulness(agent, answer) if judge else None))
        ragas.append(ragas_row(sample, answer))
    return rows, ragas


def summary(rows: Sequence[dict[str, Any]]) -> dict[str, float]:
    """Means of every per-question score present (each over the questions that have it)."""
    names = ("em", "f1", "rouge_l", "choice_correct", "citation_precision", "citation_recall", "faithfulness", "second_hop")
    return {n: float(np.mean([r[n] for r in rows if n in r])) for n in names if any(n in r for r in rows)}


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
    args = parser.parse_args(argv)
    config = load_config(args.config)
    with source(args, config) as (library, samples, stems):
        agent = Agent(library, AgentConfig.of(config))
        rows, ragas = run(agent, samples, stems, judge=not args.no_judge)
        model = library.generator().model
    figures = summary(rows)
    steps = latency(rows)
    figures |= {f"latency {n} p50_s": v["p50"] for n, v in steps.items()}
    name = (args.beir or args.dataset).resolve().stem
    out = args.json or Path("eval/results") / f"answers-{name}.json"
    result = {"command": "answers", "dataset": str(args.beir or args.dataset), "answer_model": model,
              "meta": report.meta(config), "figures": figures, "latency": steps, "rows": rows}
    report.publish(result, out, f"Answers: {name}", f"{len(rows)} questions, answer model `{model}`.", {"latency": report.bar_plot(steps, "seconds")})
    ragas_path = out.with_name(f"{out.stem}-ragas.jsonl")
    ragas_path.write_text("".join(json.dumps(r) + "\n" for r in ragas), encoding="utf-8")
    print(f"wrote {ragas_path} (ragas samples)")
    print(f"f1={figures.get('f1', 0.0):.4f} em={figures.get('em', 0.0):.4f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
