"""Routing latency with the evidence probes, at scale: the agent's trained policy (intent
model + a calibrated probe of every corpus) per question, with N items in each of two
corpora (default 100,000: text paragraphs and image descriptors).

The items' vectors are real MiniLM embeddings of synthetic paragraphs (eval.bench_ingest's
grammar): `--unique` of them are encoded, and each stored vector is the normalised sum of
two of those, so a 100k collection costs a minute of encoding instead of ten. Latency is
measured on the held-out natural questions (eval/data/natural_test.json), one at a time,
after a warm-up: the whole decision (intent model, shared embedding, probes, fusion), and
its two parts (intent model alone; probes alone).

    HF_HUB_OFFLINE=1 python -m eval.bench_routing [--items 100000] [--questions 300] \
        [--store DIR] [--json eval/results/bench_routing.json]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from rich.progress import track

from agents.agent import Agent
from agents.intent import load_labelled
from eval.bench_ingest import paragraphs
from eval.report import figures_table, meta, write
from eval.stats import p50_p95
from rag.core.config import Config, CorpusConfig
from rag.core.items import Granularity, Item, Modality
from rag.core.store import SPEC_KEY, CorpusIndex
from rag.library import Library
from retrievers.encoders import text_encoder

CORPORA: tuple[tuple[str, Modality, Granularity], ...] = (
    ("text-paragraph", "text", "paragraph"),
    ("image", "image", "image"),
)
QUESTIONS = Path(__file__).with_name("data") / "natural_test.json"


def fill(library: Library, items: int, unique: int, seed: int = 0) -> None:
    """`items` stored vectors in each corpus: normalised sums of two of `unique` embeddings."""
    texts = list(paragraphs(unique, seed))
    base = text_encoder(library.config.corpora[0].encoder.text_model).encode(texts, batch_size=64)
    rng = np.random.default_rng(seed)
    for name, modality, granularity in CORPORA:
        library.retriever(name)  # makes the collection, tied to the retriever's encoder spec
        spec = (library.client.get_collection(name).metadata or {})[SPEC_KEY]
        store = CorpusIndex(library.client, library.config.corpus(name), spec)
        for start in track(range(0, items, 5000), description=f"{name}: {items} items"):
            n = min(5000, items - start)
            a, b = rng.integers(0, unique, n), rng.integers(0, unique, n)
            vectors = base[a] + base[b]
            vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
            batch = [
                Item(f"{name}-{start + i}", f"/bench/{name}/{(start + i) // 100}.txt", modality, granularity,
                     f"{texts[a[i]]} {texts[b[i]]}", metadata={"sha": "bench", "n_items": 100})
                for i in range(n)
            ]
            store.add(batch, vectors.astype(np.float32))


def percentiles(call: Callable[[str], Any], questions: Sequence[str]) -> dict[str, float]:
    """p50/p95/mean milliseconds of `call(question)`, one at a time, after one warm-up call."""
    call(questions[0])
    times = []
    for question in questions:
        start = time.perf_counter()
        call(question)
        times.append(1000 * (time.perf_counter() - start))
    return {**p50_p95(times, "{}_ms"),
            "mean_ms": float(np.mean(times)), "n": len(times)}


def run(items: int, unique: int, questions: int, workdir: Path) -> dict[str, Any]:
    corpora = [CorpusConfig(name=n, modality=m, granularity=g) for n, m, g in CORPORA]
    library = Library(Config(data_dir=workdir, corpora=corpora))
    start = time.perf_counter()
    if min(library.counts().values()) < items:  # a kept --store is filled once
        fill(library, items, unique)
    fill_s = time.perf_counter() - start
    del library  # measured on the store as a user opens it, not mid-write
    library = Library(Config(data_dir=workdir, corpora=corpora))
    agent = Agent(library)
    router, mapping = agent.router(), agent.mapping()
    asked = load_labelled(QUESTIONS).questions[:questions]
    trained = router.trained
    if trained is None:
        raise RuntimeError("the benchmark needs the trained router, which could not be loaded (see the log)")

    _, sample = trained.route_and_embed(asked[0])
    result: dict[str, Any] = {
        "items_per_corpus": library.counts(),
        "fill_s": fill_s,
        "decide": percentiles(lambda q: router.decide(q, mapping), asked),
        "intent": percentiles(lambda q: trained.route_and_embed(q), asked),
        "probes": percentiles(lambda q: router.probe(q, mapping, sample), asked),
    }
    result["figures"] = {
        "decide_p50_ms": result["decide"]["p50_ms"], "decide_p95_ms": result["decide"]["p95_ms"],
        "intent_p50_ms": result["intent"]["p50_ms"], "probes_p50_ms": result["probes"]["p50_ms"],
    }
    return result


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m eval.bench_routing", description=__doc__.split("\n\n")[0])
    parser.add_argument("--items", type=int, default=100_000, help="items in each of the two corpora")
    parser.add_argument("--unique", type=int, default=20_000, help="paragraphs really encoded")
    parser.add_argument("--questions", type=int, default=300)
    parser.add_argument("--store", type=Path, help="keep the filled store here and reuse it (default: a temporary one)")
    parser.add_argument("--json", type=Path, default=Path("eval/results/bench_routing.json"))
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench_routing_") as tmp:
        result = run(args.items, min(args.unique, args.items), args.questions, args.store or Path(tmp))
    result |= {"command": "bench_routing", "meta": meta(None, items=args.items, questions=args.questions)}
    title = f"Routing latency with evidence probes: {args.items} items in each of two corpora"
    write(result, args.json, title, figures_table(result["figures"]), {})
    f = result["figures"]
    print(f"decide p50 {f['decide_p50_ms']:.1f} ms p95 {f['decide_p95_ms']:.1f} ms "
          f"(intent p50 {f['intent_p50_ms']:.1f} ms, probes p50 {f['probes_p50_ms']:.1f} ms)")
    print(f"decide_p50_ms={f['decide_p50_ms']:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
