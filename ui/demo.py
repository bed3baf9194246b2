"""`mmrag demo`: build the sample corpora, ingest them, and run one example search per corpus."""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path

from rich.console import Console

from rag.core.config import Config


def run_demo(workdir: Path, console: Console) -> int:
    from rag.library import Library
    from rag.library.samples import build_samples
    from ui.terminal import print_answer, print_hits, print_report

    workdir = workdir.resolve()
    console.rule("[bold]1. Sample corpora")
    samples = build_samples(workdir / "samples")
    console.print(f"written to {samples}")
    console.rule("[bold]2. Ingest")
    library = Library(Config(data_dir=workdir / ".mmrag"))
    report = library.ingest([samples])
    print_report(report)
    console.rule("[bold]3. Example searches")
    examples = json.loads(resources.files("ui").joinpath("demo_queries.json").read_text())
    for example in examples["searches"]:
        print_hits(library.search(example["query"], corpus=example["corpus"], k=3), example["query"])
    console.rule("[bold]4. Questions (embedded model on vLLM CPU)")
    with library:
        with console.status("starting the embedded answer model (vLLM CPU, about a minute)…"):
            library.generator()
        for example in examples["questions"]:
            console.print(f"[bold]Q ({example['corpus']}):[/bold] {example['question']}")
            print_answer(library.ask_stream(example["question"], corpus=example["corpus"]), stream=False)
            console.print()
    return 1 if report.all_failed else 0
