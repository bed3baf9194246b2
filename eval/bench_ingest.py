"""Ingest throughput and search latency at 1k / 10k / 100k synthetic text items (issue 2).

For each size N: write N distinct synthetic English paragraphs (40-80 words) as .txt files of
100 paragraphs, ingest them through the public API into a fresh store holding only the
text-paragraph corpus, then measure

- items/s of the whole ingest (loaders, encoding, Chroma writes, per-file bookkeeping);
- the ratio of ingest wall time to the raw encoder time on exactly the texts the retriever
  embedded, same batch size, same process (goal <= 1.15);
- search latency p50/p95 of `Library.search(q, corpus="text-paragraph", k=10)` (query
  encoding + Chroma query; goal p50 <= 25 ms at 100k);
- recall@10 of Chroma's HNSW against exact brute-force cosine search on the stored vectors.

    HF_HUB_OFFLINE=1 python -m eval.bench_ingest --sizes 1000 10000 100000 \
        --json eval/results/bench_ingest.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from eval.stats import percentile
from rag.core.config import Config, CorpusConfig, EncoderConfig
from rag.core.store import included
from rag.library import Library
from retrievers.text import TextRetriever

CORPUS = "text-paragraph"
PARAGRAPHS_PER_FILE = 100
# The loader's chunks (~160 tokens, 20 overlap) hold ~1.7 of these paragraphs: N items need
# about 1.7 N paragraphs (the table reports the items really stored).
PARAGRAPHS_PER_ITEM = 1.7
K = 10
ENCODE_SLICE = 8192  # raw-encoder timing runs in slices this big (for a progress bar)

# A small grammar of plausible encyclopaedic English: subject, verb phrase, object, setting.
SUBJECTS = [
    "The river delta", "A small coastal town", "The research team", "The old copper mine",
    "The regional hospital", "A family of farmers", "The city council", "The mountain railway",
    "The local museum", "A group of volunteers", "The fishing fleet", "The national archive",
    "The observatory", "A textile factory", "The wine cooperative", "The island school",
    "The power station", "A travelling orchestra", "The forest service", "The harbour authority",
    "The university library", "A young architect", "The weather station", "The bakery guild",
    "The mountain village", "The shipping company", "A retired engineer", "The botanical garden",
    "The football club", "The water utility", "A team of geologists", "The public radio station",
]
VERBS = [
    "rebuilt", "studied", "expanded", "documented", "restored", "protected", "redesigned",
    "measured", "financed", "mapped", "replaced", "opened", "closed", "modernised", "surveyed",
    "celebrated", "digitised", "repaired", "monitored", "catalogued", "abandoned", "inherited",
]
OBJECTS = [
    "the stone bridge", "its irrigation canals", "the northern lighthouse", "a collection of maps",
    "the glacier's retreat", "the annual harvest festival", "a fleet of electric buses",
    "the medieval city walls", "the coral reef", "its solar panels", "the steam locomotive",
    "a network of hiking trails", "the flood barriers", "the cathedral's organ", "the salt marshes",
    "a seed bank", "the copper roof", "its telescope mirror", "the wind turbines", "the old mill",
    "the migratory bird colony", "a library of recordings", "the vineyard terraces",
    "the underground tunnels", "its vaccine programme", "the village market", "the ferry terminal",
]
SETTINGS = [
    "after the spring floods", "during the long winter of 1923", "before the war",
    "with money from a local lottery", "over three dry summers", "in the early nineteenth century",
    "despite strong opposition", "with help from the regional government", "in less than a year",
    "after a fire destroyed the first design", "while tourists kept arriving", "at night",
    "following a public vote", "in cooperation with two universities", "on a very small budget",
]
CLAUSES = [
    "which surprised many residents", "and the results were published in a short report",
    "because the old structure had become unsafe", "so that visitors could learn its history",
    "although the work took longer than planned", "and the project became a model for others",
    "because demand had doubled", "while critics questioned the cost",
]
FACTS = [
    "Today it employs {n} people and welcomes visitors every weekend.",
    "Records show that about {n} tonnes of material were moved by hand.",
    "The first survey counted {n} species in the surrounding hills.",
    "Local newspapers reported that {n} people attended the opening.",
    "The budget reached {n} thousand euros by the end of the decade.",
    "Engineers estimate that the structure will last another {n} years.",
]


def sentence(rng: random.Random) -> str:
    """One sentence: subject, verb, object, setting and sometimes a clause or a figure."""
    text = f"{rng.choice(SUBJECTS)} {rng.choice(VERBS)} {rng.choice(OBJECTS)} {rng.choice(SETTINGS)}"
    if rng.random() < 0.5:
        text += f", {rng.choice(CLAUSES)}"
    text += "."
    if rng.random() < 0.3:
        text += " " + rng.choice(FACTS).format(n=rng.randint(3, 9000))
    return text


def paragraph(rng: random.Random, low: int = 40, high: int = 80) -> str:
    """Whole sentences adding up to `low`..`high` words (a sentence has at most 35)."""
    target, parts, words = rng.randint(low, high), [], 0
    while words < target:
        text = sentence(rng)
        size = len(text.split())
        if words >= low and words + size > high:
            break
        parts.append(text)
        words += size
    return " ".join(parts)


def paragraphs(n: int, seed: int = 0) -> Iterator[str]:
    """`n` distinct paragraphs, always the same for the same seed."""
    rng = random.Random(seed)
    seen: set[str] = set()
    while len(seen) < n:
        text = paragraph(rng)
        if text not in seen:
            seen.add(text)
            yield text


def write_corpus(folder: Path, n: int) -> int:
    """About N items' worth of paragraphs as .txt files of PARAGRAPHS_PER_FILE paragraphs
    under a title line; returns the number of files."""
    body: list[str] = []
    files = 0
    for text in paragraphs(round(n * PARAGRAPHS_PER_ITEM)):
        body.append(text)
        if len(body) == PARAGRAPHS_PER_FILE:
            files += _write_file(folder, files, body)
            body = []
    if body:
        files += _write_file(folder, files, body)
    return files


def _write_file(folder: Path, index: int, body: list[str]) -> int:
    title = f"Field notes, volume {index + 1}"
    (folder / f"notes{index:05d}.txt").write_text(title + "\n\n" + "\n\n".join(body) + "\n")
    return 1


def queries(n: int, seed: int = 1) -> list[str]:
    """Questions in the corpus's vocabulary (not copies of stored text)."""
    rng = random.Random(seed)
    forms = ["Who {v} {o}?", "When was {o} {v}?", "Why was {o} {v} {s}?", "{o} {v} {s}"]
    return [
        rng.choice(forms).format(v=rng.choice(VERBS), o=rng.choice(OBJECTS), s=rng.choice(SETTINGS))
        for _ in range(n)
    ]


@dataclass
class SizeResult:
    """The figures of one corpus size."""

    n: int
    files: int
    items: int
    ingest_s: float
    items_per_s: float
    encode_s: float
    ingest_to_encode_ratio: float
    ingest_cpu_s: float
    encode_cpu_s: float
    cpu_ratio: float  # the same ratio in process CPU time: less sensitive to other load
    search_p50_ms: float
    search_p95_ms: float
    hnsw_recall_at_10: float
    queries: int
    batch_size: int
    encode_timed: int  # texts the raw encoder was timed on (encode_s is scaled from them)
    load_avg_1min: tuple[float, float]  # before and after: other jobs on the machine


def progress(console: Console) -> Progress:
    """A rich progress bar for the benchmark's long steps."""
    return Progress(
        TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
        console=console, transient=True,
    )


def stored(library: Library, corpus: str, page: int = 5000) -> tuple[list[str], list[str], np.ndarray]:
    """Ids, embedded texts (title + newline + chunk, as the retriever encodes them) and vectors."""
    ids: list[str] = []
    texts: list[str] = []
    vectors: list[np.ndarray] = []
    collection = library.client.get_collection(corpus)
    for offset in range(0, collection.count(), page):
        got = collection.get(limit=page, offset=offset, include=["documents", "metadatas", "embeddings"])
        ids.extend(got["ids"])
        documents, metadatas = included(got["documents"]), included(got["metadatas"])
        texts.extend(f"{m['title']}\n{d}" for d, m in zip(documents, metadatas, strict=True))
        vectors.append(np.asarray(got["embeddings"], dtype=np.float32))
    return ids, texts, np.concatenate(vectors)


def time_encoder(retriever: TextRetriever, texts: Sequence[str], batch_size: int, console: Console,
                 sample: int | None = None) -> tuple[float, float]:
    """Wall and CPU seconds the raw encoder needs for `texts` (slices of ENCODE_SLICE).

    With `sample`, a seeded random sample of that many texts is timed and the times are scaled
    to all of them (encoding cost is linear in the number of texts of one length distribution);
    this keeps the 100k run to about one hour on 2 cores."""
    scale = 1.0
    if sample is not None and sample < len(texts):
        scale = len(texts) / sample
        texts = random.Random(0).sample(list(texts), sample)
    with progress(console) as bar:
        task = bar.add_task("raw encode", total=len(texts))
        wall, cpu = time.perf_counter(), time.process_time()
        for begin in range(0, len(texts), ENCODE_SLICE):
            chunk = texts[begin : begin + ENCODE_SLICE]
            retriever.encoder.encode(chunk, batch_size)
            bar.advance(task, len(chunk))
        return (time.perf_counter() - wall) * scale, (time.process_time() - cpu) * scale


def search_latency(library: Library, questions: list[str], console: Console) -> tuple[list[float], list[list[str]]]:
    """Per-query wall time in ms of the public search, and the ids it returned."""
    for q in questions[:5]:
        library.search(q, corpus=CORPUS, k=K)  # warm-up: first calls build caches
    latency, found = [], []
    with progress(console) as bar:
        task = bar.add_task("search", total=len(questions))
        for q in questions:
            start = time.perf_counter()
            hits = library.search(q, corpus=CORPUS, k=K)
            latency.append((time.perf_counter() - start) * 1000)
            found.append([h.id for h in hits])
            bar.advance(task)
    return latency, found


def exact_recall(retriever: TextRetriever, questions: list[str], found: list[list[str]], ids: list[str], vectors: np.ndarray) -> float:
    """Mean recall@K of the returned ids against exact cosine top-K over the stored vectors."""
    encoded = retriever.encoder.encode(questions)
    scores = encoded @ vectors.T
    top = np.argpartition(-scores, K, axis=1)[:, :K]
    hits = [len({ids[i] for i in row} & set(got)) / K for row, got in zip(top, found, strict=True)]
    return float(np.mean(hits))


def bench_size(n: int, n_queries: int, batch_size: int, console: Console, encode_sample: int | None = None) -> SizeResult:
    """Ingest N paragraphs into a fresh store and measure all the figures."""
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="bench_ingest_") as tmp:
        root = Path(tmp)
        (root / "docs").mkdir()
        files = write_corpus(root / "docs", n)
        corpus = CorpusConfig(name=CORPUS, modality="text", granularity="paragraph",
                              encoder=EncoderConfig(batch_size=batch_size))
        library = Library(Config(data_dir=root / "data", corpora=[corpus]))
        retriever = library.retriever(CORPUS)  # loads the encoder before the clock starts
        assert isinstance(retriever, TextRetriever)
        wall, cpu = time.perf_counter(), time.process_time()
        report = library.ingest([root / "docs"], progress=True)
        ingest_s, ingest_cpu_s = time.perf_counter() - wall, time.process_time() - cpu
        failed = report.by_status("failed")
        if failed:
            raise RuntimeError(f"{len(failed)} files failed, e.g. {failed[0]}")
        ids, texts, vectors = stored(library, CORPUS)
        encode_s, encode_cpu_s = time_encoder(retriever, texts, batch_size, console, encode_sample)
        questions = queries(n_queries)
        latency, found = search_latency(library, questions, console)
        recall = exact_recall(retriever, questions, found, ids, vectors)
    return SizeResult(
        n=n, files=files, items=len(ids), ingest_s=ingest_s, items_per_s=len(ids) / ingest_s,
        encode_s=encode_s, ingest_to_encode_ratio=ingest_s / encode_s,
        ingest_cpu_s=ingest_cpu_s, encode_cpu_s=encode_cpu_s, cpu_ratio=ingest_cpu_s / encode_cpu_s,
        search_p50_ms=percentile(latency, 50), search_p95_ms=percentile(latency, 95),
        hnsw_recall_at_10=recall, queries=n_queries, batch_size=batch_size,
        encode_timed=min(len(texts), encode_sample or len(texts)),
        load_avg_1min=(load_before, os.getloadavg()[0]),
    )


def machine() -> dict[str, object]:
    """What the figures were measured on."""
    import chromadb
    import sentence_transformers
    import torch

    return {
        "cpu_count": os.cpu_count(), "torch_threads": torch.get_num_threads(),
        "python": platform.python_version(), "platform": platform.platform(),
        "torch": torch.__version__, "chromadb": chromadb.__version__,
        "sentence_transformers": sentence_transformers.__version__,
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def table(results: list[SizeResult]) -> Table:
    """The figures as a rich table, goals in the title."""
    out = Table(title="Ingest and search: text-paragraph, all-MiniLM-L6-v2, embedded Chroma "
                      "(goals: ratio <= 1.15, p50 <= 25 ms at 100k)")
    columns = ("N", "files", "items", "ingest s", "items/s", "encode s", "ratio", "CPU ratio", "p50 ms", "p95 ms", "recall@10")
    for column in columns:
        out.add_column(column, justify="right")
    for r in results:
        out.add_row(
            str(r.n), str(r.files), str(r.items), f"{r.ingest_s:.1f}", f"{r.items_per_s:.0f}", f"{r.encode_s:.1f}",
            f"{r.ingest_to_encode_ratio:.3f}", f"{r.cpu_ratio:.3f}", f"{r.search_p50_ms:.1f}", f"{r.search_p95_ms:.1f}",
            f"{r.hnsw_recall_at_10:.3f}",
        )
    return out


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000], help="paragraphs per run")
    parser.add_argument("--queries", type=int, default=200, help="search queries per size")
    parser.add_argument("--batch-size", type=int, default=64, help="encoder batch size (ingest and raw)")
    parser.add_argument("--encode-sample", type=int, help="time the raw encoder on this many stored texts "
                        "and scale to all (default: all of them)")
    parser.add_argument("--json", type=Path, help="write the figures and machine info here")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    console = Console()
    results: list[SizeResult] = []
    for n in args.sizes:
        console.rule(f"N = {n}")
        results.append(bench_size(n, args.queries, args.batch_size, console, args.encode_sample))
        console.print(table(results[-1:]))
        if args.json:  # written after every size, so a long run leaves its finished sizes
            args.json.parent.mkdir(parents=True, exist_ok=True)
            args.json.write_text(json.dumps({"machine": machine(), "results": [asdict(r) for r in results]}, indent=2) + "\n")
    console.print(table(results))
    if args.json:
        console.print(f"written: {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
