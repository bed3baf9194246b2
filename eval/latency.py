"""Per-step latency of the agent: p50/p95 seconds of condense (follow-ups), route, retrieve,
rerank, generate, reflect and the total, over the questions of a dataset.

    mmrag eval latency --dataset FILE.jsonl | --beir DIR [--limit N] [--json OUT]

The dataset is read as for `eval answers` (answers may be absent). Writes OUT and OUT.md
with a latency breakdown plot; the last line printed is `total_p50_s=<float> total_p95_s=<float>`.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

from agents.agent import Agent
from agents.config import AgentConfig
from eval import report
from eval.answers import arguments, latency, run, source
from rag.core.config import load_config


def main(argv: Sequence[str] | None = None) -> int:
    parser = arguments(__doc__.split("\n\n")[0])
    parser.prog = "mmrag eval latency"
    args = parser.parse_args(argv)
    config = load_config(args.config)
    with source(args, config) as (library, dialogues, stems):
        agent = Agent(library, AgentConfig.of(config))
        agent.ask(dialogues[0][0].question)  # warm-up: model server start, encoders, calibration
        rows, _ = run(agent, dialogues, stems, judge=False)
        model = library.generator().model
    steps = latency(rows)
    figures = {f"{n} {q}_s": v[q] for n, v in steps.items() for q in ("p50", "p95")}
    name = (args.beir or args.dataset).resolve().stem
    out = args.json or Path("eval/results") / f"latency-{name}.json"
    result = {"command": "latency", "dataset": str(args.beir or args.dataset), "answer_model": model,
              "meta": report.meta(config), "figures": figures, "latency": steps, "questions": len(rows)}
    intro = f"{len(rows)} questions (after one warm-up), answer model `{model}`."
    report.publish(result, out, f"Latency: {name}", intro, {"latency": report.bar_plot(steps, "seconds")})
    print(f"total_p50_s={steps['total']['p50']:.4f} total_p95_s={steps['total']['p95']:.4f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
