"""Follow-up handling alone: each turn of a conversation set is condensed and routed, without
answering, so that condensing methods compare on the same history at a fraction of the cost
of `eval answers`.

    mmrag eval conversations --dataset FILE.jsonl [--condense rules|llm|off] [--json OUT]

A turn's history is the earlier turns as the dataset gives them (their gold answers), with
the routes the agent chose and, as their cited evidence, the top hit of each routed corpus.
Per follow-up: resolution (the standalone question's top k in the gold label's corpora holds
a gold item; also for the follow-up as typed), whether the first route includes the gold
label, and the condense step's latency. `llm` asks the configured answer model (the embedded
one starts when there is no base_url). The last line printed is `resolution=<float>
right_route=<float>`.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from rich.progress import track

from agents.agent import Agent
from agents.condense import condense
from agents.config import AgentConfig
from agents.state import Turn
from eval import report
from eval.answers import Dialogue, Sample, load_dataset, resolves
from eval.stats import p50_p95
from rag.core.config import load_config
from rag.library import Library


def turn_row(agent: Agent, method: str, sample: Sample, history: list[Turn]) -> tuple[dict[str, Any], Turn]:
    """One turn condensed and routed; its row and the turn the next one reads as history."""
    generator = agent.helper() if method == "llm" else None
    condensed = condense(sample.question, history, method, generator, agent.config.condense_max_tokens)
    decision = agent.router().decide(condensed.standalone, agent.mapping(), prefer=condensed.prefer)
    cited = tuple(h for c in decision.corpora for h in agent.library.search(condensed.standalone, corpus=c, k=1))
    row: dict[str, Any] = {"id": sample.id, "turn": sample.turn, "kind": sample.kind, "question": sample.question,
                           "standalone": condensed.standalone, "method": condensed.method, "reason": condensed.reason,
                           "route": list(decision.labels), "condense_s": condensed.seconds}
    if sample.label:
        row["right_route"] = float(sample.label in decision.labels)
    if sample.turn and sample.label and sample.label != "no" and sample.evidence:
        row["resolution"] = resolves(agent, condensed.standalone, sample)
        row["resolution_as_typed"] = resolves(agent, sample.question, sample)
    answer = sample.answers[0] if sample.answers else ""
    standalone = condensed.standalone if condensed.standalone != sample.question else ""
    return row, Turn(sample.question, answer, standalone, decision.labels, cited, condensed.method)


def run(agent: Agent, method: str, dialogues: Sequence[Dialogue]) -> list[dict[str, Any]]:
    rows = []
    for dialogue in track(dialogues, description=f"condensing and routing {len(dialogues)} conversations"):
        history: list[Turn] = []
        for sample in dialogue:
            row, turn = turn_row(agent, method, sample, history)
            rows.append(row)
            history.append(turn)
    return rows


def figures_of(rows: Sequence[dict[str, Any]]) -> dict[str, float]:
    follow = [r for r in rows if r["turn"]]
    figures = {"follow-ups": float(len(follow))}
    for name in ("resolution", "resolution_as_typed", "right_route"):
        values = [r[name] for r in follow if name in r]
        if values:
            figures[name] = float(np.mean(values))
    figures["right_route all turns"] = float(np.mean([r["right_route"] for r in rows if "right_route" in r]))
    condensed = p50_p95([r["condense_s"] for r in follow])
    return figures | {"condense p50_s": condensed["p50"], "condense p95_s": condensed["p95"]}


def by_kind(rows: Sequence[dict[str, Any]]) -> dict[str, dict[str, float]]:
    kinds = sorted({r["kind"] for r in rows if r["turn"] and r["kind"]})
    return {k: figures_of([r for r in rows if r["kind"] == k]) for k in kinds}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="mmrag eval conversations", description=__doc__.split("\n\n")[0])
    parser.add_argument("--dataset", type=Path, required=True, help="JSONL of conversations {id, turns: [...]}")
    parser.add_argument("--condense", choices=("rules", "llm", "off"), default="rules")
    parser.add_argument("--limit", type=int, help="only the first N conversations")
    parser.add_argument("--config", type=Path)
    parser.add_argument("--json", type=Path, help="result file")
    args = parser.parse_args(argv)
    config = load_config(args.config)
    with Library(config) as library:
        agent = Agent(library, AgentConfig.of(config))
        if args.condense == "llm":
            library.generator()  # start (or reach) the model before the clock runs
        rows = run(agent, args.condense, load_dataset(args.dataset)[: args.limit])
        model = library.generator().model if args.condense == "llm" else ""
    figures = figures_of(rows)
    name = args.dataset.resolve().stem
    out = args.json or Path("eval/results") / f"conversations-{name}-{args.condense}.json"
    result = {"command": "conversations", "dataset": str(args.dataset), "condense": args.condense, "model": model,
              "meta": report.meta(config), "figures": figures, "by_kind": by_kind(rows), "rows": rows}
    intro = f"{len(rows)} turns, condensed by `{args.condense}`{f' ({model})' if model else ''}, routed without answering."
    report.publish(result, out, f"Conversations: {name}", intro, {})
    print(f"resolution={figures.get('resolution', 0.0):.4f} right_route={figures.get('right_route', 0.0):.4f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
