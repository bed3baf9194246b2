"""Wall time of `mmrag eval retrieval` at 5,000 documents x 1,000 queries (goal: 15 minutes
on a 2-core CPU), on a synthetic BEIR folder: eval.bench_ingest's generated paragraphs as
documents, each query a reworded sentence of one document (its single relevant document).

    HF_HUB_OFFLINE=1 python -m eval.bench_retrieval [--docs 5000] [--queries 1000] \
        [--json eval/results/bench_retrieval.json]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from eval import retrieval
from eval.bench_ingest import paragraphs


def write_synthetic(folder: Path, docs: int, queries: int, seed: int = 7) -> None:
    """corpus.jsonl, queries.jsonl and qrels/test.tsv: query i is the first sentence of a
    random document with its first word dropped, so exactly that document is relevant."""
    rng = random.Random(seed)
    texts = list(paragraphs(docs))
    (folder / "qrels").mkdir(parents=True, exist_ok=True)
    with (folder / "corpus.jsonl").open("w", encoding="utf-8") as fh:
        for i, text in enumerate(texts):
            fh.write(json.dumps({"_id": f"d{i}", "title": "", "text": text}) + "\n")
    chosen = rng.sample(range(docs), queries)
    with (folder / "queries.jsonl").open("w", encoding="utf-8") as fh:
        for i, d in enumerate(chosen):
            first = texts[d].split(". ")[0]
            fh.write(json.dumps({"_id": f"q{i}", "text": " ".join(first.split()[1:]) + "?"}) + "\n")
    lines = ["query-id\tcorpus-id\tscore", *(f"q{i}\td{d}\t1" for i, d in enumerate(chosen))]
    (folder / "qrels" / "test.tsv").write_text("\n".join(lines) + "\n", encoding="utf-8")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m eval.bench_retrieval", description=__doc__.split("\n\n")[0])
    parser.add_argument("--docs", type=int, default=5000)
    parser.add_argument("--queries", type=int, default=1000)
    parser.add_argument("--json", type=Path, default=Path("eval/results/bench_retrieval.json"))
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="mmrag-bench-") as tmp:
        folder = Path(tmp) / "synthetic"
        write_synthetic(folder, args.docs, args.queries)
        start = time.perf_counter()
        retrieval.main(["--beir", str(folder), "--json", str(args.json.with_name(args.json.stem + "-run.json"))])
        wall = time.perf_counter() - start
    run = json.loads(args.json.with_name(args.json.stem + "-run.json").read_text())
    result = {"docs": args.docs, "queries": args.queries, "wall_s": wall, "load_average": os.getloadavg(),
              "ingest_s": run["figures"]["ingest_s"], "queries_per_s": run["figures"]["queries_per_s"],
              "ndcg@10": run["figures"]["ndcg@10"], "goal_s": 900}
    args.json.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(f"{args.docs} documents x {args.queries} queries: {wall:.0f} s wall (ingest {result['ingest_s']:.0f} s, "
          f"{result['queries_per_s']:.1f} queries/s), goal 900 s")
    print(f"wall_s={wall:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
