"""Ingest throughput and search latency at 1k / 10k / 100k synthetic text items.

For each size: write synthetic paragraphs as .txt files, ingest them through the public
API into a fresh store (text-paragraph corpus only), then time the raw encoder on exactly
the texts the retriever embedded (ratio goal <= 1.15), search latency p50/p95 (encode +
Chroma query; goal p50 <= 25 ms at 100k), and HNSW recall@10 against exact cosine search.

    python -m eval.bench_ingest --sizes 1000 10000 100000 --json eval/results/bench_ingest.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.table import Table

from rag.config import Config, CorpusConfig, EncoderConfig, IngestConfig
from rag.library import Library

PARAGRAPHS_PER_FILE = 100
WORDS = ["river", "mountain", "engine", "protein", "galaxy", "market", "harvest", "violin", "glacier", "senate", "bacteria", "copper", "festival", "algorithm", "desert", "orchestra", "tide", "reactor", "poem", "vaccine", "canyon", "ledger", "satellite", "forest", "mineral", "voltage", "meadow", "theorem", "harbor", "pigment", "drought", "circuit", "volcano", "migration", "archive", "telescope", "enzyme", "ferry", "lantern", "quartz", "monsoon", "bridge"]
VERBS = ["measures", "carries", "shapes", "protects", "reveals", "drives", "limits", "feeds", "records", "cools"]


def sentence(rng: random.Random) -> str:
    a, b, c = rng.sample(WORDS, 3)
    return f"The {a} {rng.choice(VERBS)} the {b} near the {c} in year {rng.randint(1800, 2030)}."


def paragraph(rng: random.Random) -> str:
    """About 100 words: one paragraph is one ~140-token chunk, so items ~= paragraphs."""
    return " ".join(sentence(rng) for _ in range(9))


def write_corpus(folder: Path, n: int, seed: int = 0) -> None:
    rng = random.Random(seed)
    for start in range(0, n, PARAGRAPHS_PER_FILE):
        count = min(PARAGRAPHS_PER_FILE, n - start)
        body = "\n\n".join(paragraph(rng) for _ in range(count))
        (folder / f"doc{start // PARAGRAPHS_PER_FILE:05d}.txt").write_text(body)


def bench_size(n: int, queries: int, batch_size: int, console: Console) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "docs").mkdir()
        write_corpus(root / "docs", n)
        corpus = CorpusConfig(name="text-paragraph", modality="text", granularity="paragraph",
                              encoder=EncoderConfig(batch_size=batch_size))
        library = Library(Config(data_dir=root / "data", corpora=[corpus], ingest=IngestConfig(chunk_tokens=160, chunk_overlap=0)))
        retriever = library.retriever("text-paragraph")  # loads the encoder before the clock
        start = time.perf_counter()
        library.ingest([root / "docs"], progress=True)
        ingest_s = time.perf_counter() - start
        stored = retriever.store.collection.get(include=["documents", "metadatas", "embeddings"])
        texts = [f"{m['title']}\n{d}" for d, m in zip(stored["documents"], stored["metadatas"], strict=True)]
        start = time.perf_counter()
        retriever.encoder.encode(texts, batch_size)
        encode_s = time.perf_counter() - start
        latency, recall = search_figures(library, np.asarray(stored["embeddings"]), stored["ids"], queries)
    items = len(texts)
    return {
        "items": items, "ingest_s": ingest_s, "items_per_s": items / ingest_s, "encode_s": encode_s,
        "ingest_to_encode_ratio": ingest_s / encode_s, "search_p50_ms": float(np.percentile(latency, 50)),
        "search_p95_ms": float(np.percentile(latency, 95)), "hnsw_recall_at_10": recall,
    }


def search_figures(library: Library, vectors: np.ndarray, ids: list[str], queries: int) -> tuple[list[float], float]:
    """Per-query search latency in ms, and mean recall@10 of Chroma vs exact cosine search."""
    rng = random.Random(1)
    latency, recall = [], []
    encoder = library.retriever("text-paragraph").encoder
    for _ in range(queries):
        query = sentence(rng)
        start = time.perf_counter()
        hits = library.search(query, corpus="text-paragraph", k=10)
        latency.append((time.perf_counter() - start) * 1000)
        exact = np.argsort(-(vectors @ encoder.encode([query])[0]))[:10]
        recall.append(len({ids[i] for i in exact} & {h.id for h in hits}) / 10)
    return latency, float(np.mean(recall))


def machine() -> dict:
    import chromadb
    import sentence_transformers
    import torch

    return {
        "cpus": os.cpu_count(), "torch_threads": torch.get_num_threads(), "python": platform.python_version(),
        "torch": torch.__version__, "chromadb": chromadb.__version__,
        "sentence_transformers": sentence_transformers.__version__, "date": datetime.now(UTC).isoformat(),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--json", type=Path, help="write the figures here")
    args = parser.parse_args(argv)
    console = Console()
    rows = [{"n": n, **bench_size(n, args.queries, args.batch_size, console)} for n in args.sizes]
    table = Table(title="Ingest and search (text-paragraph, all-MiniLM-L6-v2, embedded Chroma)")
    for column in ("N", "items", "items/s", "ingest s", "encode s", "ratio", "p50 ms", "p95 ms", "recall@10"):
        table.add_column(column, justify="right")
    for r in rows:
        table.add_row(str(r["n"]), str(r["items"]), f"{r['items_per_s']:.0f}", f"{r['ingest_s']:.1f}", f"{r['encode_s']:.1f}",
                      f"{r['ingest_to_encode_ratio']:.2f}", f"{r['search_p50_ms']:.1f}", f"{r['search_p95_ms']:.1f}",
                      f"{r['hnsw_recall_at_10']:.3f}")
    console.print(table)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"machine": machine(), "results": rows}, indent=2))
        console.print(f"written: {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
