"""Retrieval evaluation on a BEIR-layout dataset: Recall@1/5/10, nDCG@10, MRR@10, MAP@k.

    mmrag eval retrieval --beir DIR [--granularity paragraph|document] [--k 10]
                         [--mode rerank|retrieve|agent|routed] [--limit N] [--json OUT]
    mmrag eval retrieval --universalrag QUERIES.json [--mode ...] [--config mmrag.toml]

The corpus is ingested into a fresh temporary store through the normal ingest path (one text
file per document, the configured text corpus's chunking and encoder); a chunk's hit counts
for its document. Modes:
- rerank (default): the retriever's candidates ordered by the agent's re-ranker, which is
  what the agent answers from;
- retrieve: the text retriever's ranking (hybrid dense + BM25 with title links, as configured);
- agent: the evidence the full agent kept, up to k (route forced to the granularity; needs
  the answer model, so use --limit);
- routed: both text granularities ingested; the trained router picks the label per query, a
  label that is not a text granularity retrieves nothing (routing errors become misses).
Queries with two or more relevant documents (multi-hop) are also reported on their own.

--universalrag reads a UniversalRAG query file (eval.universal) and searches the corpora
already ingested into the configured library: each query goes to the corpus of its gold
label (retrieve, rerank, agent) or of the trained router's label (routed); `no` questions
have no gold items and are skipped. Figures are also given per gold label.
Writes OUT (JSON) and OUT.md with a recall@k plot; the last line printed is
`ndcg@10=<float> recall@5=<float>`.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
from rich.progress import track

from agents.agent import Agent
from agents.config import AgentConfig
from agents.router import label_corpora
from eval import metrics, report, universal
from eval.beir import Beir, beir_ids, indexed, ranking
from rag.core.config import Config, CorpusConfig, default_corpora, load_config
from rag.core.items import Hit
from rag.library import Library

MODES = ("retrieve", "rerank", "agent", "routed")
CANDIDATES = 3  # hits fetched per document wanted: a document may have several chunks


def text_corpora(config: Config, granularities: Sequence[str]) -> list[CorpusConfig]:
    """The configured text corpus of each granularity (the default one where none is set)."""
    pool = [c for c in config.corpora if c.modality == "text"] + [c for c in default_corpora() if c.modality == "text"]
    return [next(c for c in pool if c.granularity == g) for g in granularities]


def scores(rankings: dict[str, list[str]], qrels: dict[str, dict[str, int]], k: int) -> dict[str, Any]:
    """Mean metrics over the queries, the recall@1..k curve and per-query values."""
    per_query = {
        q: {
            "recall@1": metrics.recall_at(r, qrels[q], 1), "recall@5": metrics.recall_at(r, qrels[q], 5),
            "recall@10": metrics.recall_at(r, qrels[q], 10), "ndcg@10": metrics.ndcg_at(r, qrels[q], 10),
            "mrr@10": metrics.mrr_at(r, qrels[q], 10), f"map@{k}": metrics.average_precision_at(r, qrels[q], k),
        }
        for q, r in rankings.items()
    }
    names = next(iter(per_query.values()), {}).keys()
    means = {n: float(np.mean([v[n] for v in per_query.values()])) for n in names}
    curve = [float(np.mean([metrics.recall_at(r, qrels[q], i) for q, r in rankings.items()])) for i in range(1, k + 1)]
    return {"figures": means, "recall_curve": curve, "per_query": per_query}


def rank(library: Library, agent: Agent, question: str, mode: str, corpus: str | None, k: int, doc_of: Callable[[Hit], str | None]) -> tuple[list[str], str]:
    """Document ranking for one question, and the corpus it came from ("" for none)."""
    if mode == "routed":
        trained = agent.router().trained
        if trained is None:
            raise RuntimeError("routed mode needs the trained router, which could not be loaded (see the log)")
        label = trained.route_and_embed(question)[0][0][0]
        names = label_corpora(library.config).get(label, ())  # from config: no count queries per question
        if not names:
            return [], label
        corpus = names[0]
    if corpus is None:
        return [], ""
    if mode == "agent":
        answer = agent.ask(question, route=library.config.corpus(corpus).granularity)
        return ranking([s.hit for s in answer.kept], doc_of), corpus
    hits = library.search(question, corpus=corpus, k=k * CANDIDATES)
    if mode == "rerank":
        scored = agent.reranker.score(question, hits)
        hits = [s.hit for s in sorted(scored, key=lambda s: -s.relevance)]
    return ranking(hits, doc_of)[:k], corpus


def make_agent(library: Library, config: Config, mode: str, k: int) -> Agent:
    """The agent whose router (routed mode: the trained one) and re-ranker the modes use. It
    keeps up to k hits of k * CANDIDATES, as the other modes rank: a ranking of depth k is
    what is measured, not how much evidence the answer model is shown."""
    settings = AgentConfig.of(config).model_copy(update={"k": k, "candidates": k * CANDIDATES})
    return Agent(library, settings.model_copy(update={"router": "trained"}) if mode == "routed" else settings)


def run(beir: Beir, config: Config, granularity: str, mode: str, k: int, limit: int | None, workdir: Path) -> dict[str, Any]:
    corpora = text_corpora(config, ("paragraph", "document") if mode == "routed" else (granularity,))
    with indexed(beir, config, corpora, workdir) as (library, stems, ingest_s):
        agent, ids = make_agent(library, config, mode, k), beir_ids(stems)
        qids = beir.judged()[:limit] if limit else beir.judged()
        rankings, routed, start = {}, {}, time.perf_counter()
        for q in track(qids, description=f"{mode}: {len(qids)} queries"):
            rankings[q], routed[q] = rank(library, agent, beir.queries[q], mode, corpora[0].name, k, ids)
        query_s = time.perf_counter() - start
    result = scores(rankings, beir.qrels, k)
    multi = {q: r for q, r in rankings.items() if sum(g > 0 for g in beir.qrels[q].values()) >= 2}
    if multi:
        result["figures"] |= {f"multi-hop {n}": v for n, v in scores(multi, beir.qrels, k)["figures"].items()}
    result["figures"] |= {"ingest_s": ingest_s, "queries_per_s": len(qids) / max(query_s, 1e-9)}
    return result | {"routed": dict(Counter(routed.values())), "documents": len(beir.corpus), "queries": len(qids), "multi_hop_queries": len(multi)}


def run_universal(path: Path, config: Config, mode: str, k: int, limit: int | None) -> dict[str, Any]:
    """UniversalRAG queries against the configured library's corpora (see the module doc)."""
    queries = [q for q in universal.load(path) if q.label != "no" and q.files][:limit]
    if not queries:
        raise ValueError(f"{path}: no query with gold items (gt_texts, gt_images or gt_videos) and a retrieval label")
    qrels = {q.id: dict.fromkeys(q.files, 1) for q in queries}
    with Library(config) as library:
        agent, mapping = make_agent(library, config, mode, k), label_corpora(config)
        rankings, routed, start = {}, {}, time.perf_counter()
        for q in track(queries, description=f"{mode}: {len(queries)} queries"):
            corpus = next(iter(mapping.get(q.label, ())), None)
            ids = partial(universal.doc_id, window=q.window)
            rankings[q.id], routed[q.id] = rank(library, agent, q.question, mode, corpus, k, ids)
        query_s = time.perf_counter() - start
    result = scores(rankings, qrels, k)
    for label in dict.fromkeys(q.label for q in queries):  # per gold label, from the per-query values
        mine = [result["per_query"][q.id] for q in queries if q.label == label]
        result["figures"] |= {f"{label} {n}": float(np.mean([v[n] for v in mine])) for n in ("recall@5", "ndcg@10")}
    result["figures"]["queries_per_s"] = len(queries) / max(query_s, 1e-9)
    return result | {"routed": dict(Counter(routed.values())), "queries": len(queries), "multi_hop_queries": sum(len(g) >= 2 for g in qrels.values())}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="mmrag eval retrieval", description=__doc__.split("\n\n")[0])
    given = parser.add_mutually_exclusive_group(required=True)
    given.add_argument("--beir", type=Path, help="BEIR folder")
    given.add_argument("--universalrag", type=Path, help="UniversalRAG query file (corpora already ingested)")
    parser.add_argument("--granularity", choices=("paragraph", "document"), default="paragraph")
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--mode", choices=MODES, default="rerank")
    parser.add_argument("--split", default="test", help="qrels/<split>.tsv (else qrels.tsv)")
    parser.add_argument("--limit", type=int, help="only the first N judged queries")
    parser.add_argument("--config", type=Path, help="mmrag config (encoders, agent settings)")
    parser.add_argument("--json", type=Path, help="result file (default eval/results/retrieval-<dataset>-<mode>.json)")
    args = parser.parse_args(argv)
    config, dataset = load_config(args.config), args.beir or args.universalrag
    if args.beir:
        with tempfile.TemporaryDirectory(prefix="mmrag-eval-") as tmp:
            result = run(Beir.load(args.beir, args.split), config, args.granularity, args.mode, args.k, args.limit, Path(tmp))
        name, intro = f"{args.beir.resolve().name} · {args.mode} · {args.granularity}", f"{result['documents']} documents, "
    else:
        result = run_universal(args.universalrag, config, args.mode, args.k, args.limit)
        name, intro = f"{args.universalrag.resolve().stem} · {args.mode}", "UniversalRAG queries against the configured corpora: "
    result = {"command": "retrieval", "dataset": str(dataset), "mode": args.mode, "granularity": args.granularity,
              "meta": report.meta(config, k=args.k, candidates=args.k * CANDIDATES)} | result
    out = args.json or Path("eval/results") / f"retrieval-{dataset.resolve().stem}-{args.mode}.json"
    intro += f"{result['queries']} queries ({result['multi_hop_queries']} multi-hop)."
    report.publish(result, out, f"Retrieval: {name}", intro, {"recall-curve": report.curve_plot({args.mode: result["recall_curve"]}, "k", "recall@k")})
    f = result["figures"]
    print(f"ndcg@10={f['ndcg@10']:.4f} recall@5={f['recall@5']:.4f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
