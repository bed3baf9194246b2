"""Loopback load test of the Python API: questions/s and latency p50/p95 at 1, 4 and 8
concurrent users, each asking the agent in its own thread, over the sample corpora with the
embedded model server (or the configured generator). Bounded in count: every level asks the
same `--questions` questions.

    HF_HUB_OFFLINE=1 python -m eval.bench_load [--users 1 4 8] [--questions 16] \
        [--json eval/results/bench_load.json]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from agents import Agent
from eval.stats import p50_p95
from rag.core.config import Config
from rag.library import Library
from rag.library.samples import build_samples

QUESTIONS = [
    "how many grams of salt per litre of pasta water",
    "Why do aircraft avoid volcanic ash clouds?",
    "How do I patch an inner tube?",
    "What color is the cat in the photo?",
    "What happens when the lava reaches the sea in the volcano video?",
    "When did the first crewed moon landing happen?",
    "How long should spaghetti cook?",
    "What is a pyroclastic flow?",
]


def level(agent: Agent, users: int, questions: Sequence[str]) -> dict[str, float]:
    """Runs the questions with `users` in flight; throughput and per-question latency."""

    def ask(question: str) -> float:
        start = time.perf_counter()
        agent.ask(question)
        return time.perf_counter() - start

    start = time.perf_counter()
    with ThreadPoolExecutor(users) as pool:
        latencies = list(pool.map(ask, questions))
    wall = time.perf_counter() - start
    return {"users": users, "questions": len(questions), "wall_s": wall, "questions_per_s": len(questions) / wall,
            **p50_p95(latencies, "{}_s")}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m eval.bench_load", description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, nargs="+", default=[1, 4, 8])
    parser.add_argument("--questions", type=int, default=16)
    parser.add_argument("--json", type=Path, default=Path("eval/results/bench_load.json"))
    args = parser.parse_args(argv)
    questions = [QUESTIONS[i % len(QUESTIONS)] for i in range(args.questions)]
    with tempfile.TemporaryDirectory(prefix="mmrag-load-") as tmp:
        library = Library(Config(data_dir=Path(tmp) / "data"))
        library.ingest([build_samples(Path(tmp) / "samples")], progress=False)
        with Agent(library) as agent:
            agent.ask(questions[0])  # warm-up: server start, encoders, calibration
            rows = [level(agent, users, questions) for users in args.users]
    print("| users | questions/s | p50 s | p95 s |\n|---:|---:|---:|---:|")
    for r in rows:
        print(f"| {r['users']} | {r['questions_per_s']:.2f} | {r['p50_s']:.2f} | {r['p95_s']:.2f} |")
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps({"levels": rows, "load_average": os.getloadavg()}, indent=2) + "\n")
    print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
