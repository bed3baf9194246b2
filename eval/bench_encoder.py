"""Text encoder speed and agreement: torch (sentence-transformers) against ONNX Runtime fp32/int8.

N real passages from a BEIR corpus (f"{title}\\n{text}") are encoded by each backend; items/s is
timed after one warm-up batch, and each ONNX vector is compared with torch's for the same text
(mean and min cosine). When the corpus has a queries.jsonl beside it, the queries are ranked
against the N passages too, and each ONNX backend's top-10 is compared with torch's.

    HF_HUB_OFFLINE=1 python -m eval.bench_encoder --corpus /tmp/dev/yesno/corpus.jsonl \\
        [--texts 1000] [--cache /tmp/onnx-cache] [--json eval/results/bench-encoder.json]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from rag.core.models import model_cache, resolve_model
from retrievers.encoders import text_encoder
from retrievers.onnx_text import OnnxTextModel, cache_path

MODEL = "sentence-transformers/all-MiniLM-L6-v2"
BATCH = 64
TOP_K = 10

Encode = Callable[[list[str], int], np.ndarray]


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    with path.open(encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def passages(corpus: Path, n: int, seed: int = 0) -> list[str]:
    """N passages drawn at random (seeded) from the corpus, as f"{title}\\n{text}"."""
    docs = read_jsonl(corpus)
    docs = random.Random(seed).sample(docs, min(n, len(docs)))
    return [f"{d.get('title', '')}\n{d.get('text', '')}" for d in docs]


def timed(encode: Encode, texts: list[str]) -> tuple[np.ndarray, float]:
    """Vectors for all texts and items/s, after one warm-up batch that is not counted."""
    encode(texts[:BATCH], BATCH)
    start = time.perf_counter()
    vectors = encode(texts, BATCH)
    return vectors, len(texts) / (time.perf_counter() - start)


def top_k(queries: np.ndarray, docs: np.ndarray) -> np.ndarray:
    return np.argsort(-(queries @ docs.T), axis=1, kind="stable")[:, :TOP_K]


def overlap(a: np.ndarray, b: np.ndarray) -> float:
    """Mean share of each row's top-k that the two rankings have in common."""
    return float(np.mean([len(set(x) & set(y)) / TOP_K for x, y in zip(a, b, strict=True)]))


def bench(texts: list[str], queries: list[str], cache: Path) -> list[dict[str, Any]]:
    torch_encoder = text_encoder(MODEL)
    torch_encoder.encode(["load"])  # first-call setup outside the clock
    reference, speed = timed(lambda t, b: torch_encoder.encode(t, b), texts)
    ref_top = top_k(torch_encoder.encode(queries), reference) if queries else None
    rows: list[dict[str, Any]] = [{"backend": "torch", "items_per_s": speed}]

    model_dir = resolve_model(MODEL)
    for quantize in (False, True):
        cached = cache_path(model_dir, cache, quantize).exists()
        start = time.perf_counter()
        model = OnnxTextModel(model_dir, cache, quantize=quantize)
        load_s = time.perf_counter() - start  # the export, when there was none to reuse
        vectors, speed = timed(model.encode, texts)
        cosines = np.sum(vectors * reference, axis=1)
        row = {
            "backend": f"onnx-{'int8' if quantize else 'fp32'}",
            "items_per_s": speed,
            "cos_mean": float(cosines.mean()),
            "cos_min": float(cosines.min()),
            "export_s": None if cached else load_s,
            "file": str(model.path),
            "file_mb": model.path.stat().st_size / 2**20,
        }
        if ref_top is not None:
            row[f"top{TOP_K}_overlap"] = overlap(top_k(model.encode(queries), vectors), ref_top)
        rows.append(row)
    return rows


def describe(row: dict[str, Any], torch_speed: float) -> str:
    line = f"{row['backend']:<10} {row['items_per_s']:7.1f} items/s ({row['items_per_s'] / torch_speed:.2f}x)"
    if "cos_mean" in row:
        line += f"  cos mean {row['cos_mean']:.5f} min {row['cos_min']:.5f}"
        if f"top{TOP_K}_overlap" in row:
            line += f"  top{TOP_K} overlap {row[f'top{TOP_K}_overlap']:.3f}"
        export = "cached" if row["export_s"] is None else f"{row['export_s']:.1f}s"
        line += f"  export {export}  {row['file_mb']:.1f} MiB"
    return line


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m eval.bench_encoder", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--corpus", type=Path, required=True, help="BEIR corpus.jsonl")
    parser.add_argument("--texts", type=int, default=1000, help="passages to encode")
    parser.add_argument("--cache", type=Path, default=model_cache() / "onnx")
    parser.add_argument("--json", type=Path, default=Path("eval/results/bench-encoder.json"))
    args = parser.parse_args(argv)

    texts = passages(args.corpus, args.texts)
    queries_file = args.corpus.with_name("queries.jsonl")
    queries = [q["text"] for q in read_jsonl(queries_file)] if queries_file.exists() else []
    rows = bench(texts, queries, args.cache)
    for row in rows:
        print(describe(row, rows[0]["items_per_s"]))
    result = {
        "model": MODEL,
        "corpus": str(args.corpus),
        "texts": len(texts),
        "queries": len(queries),
        "batch_size": BATCH,
        "cpu_count": os.cpu_count(),
        "load_average": os.getloadavg()[0],
        "backends": rows,
    }
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
