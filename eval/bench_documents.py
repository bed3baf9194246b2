"""PDF ingest time per page with and without OCR and page rendering.

Each case ingests one generated PDF (eval.documents: ~300 words a page) into a fresh store
holding a text-paragraph corpus and an image corpus (descriptor encoder, no CLIP weights),
after a one-page warm-up ingest so that loading the encoders is not timed:

- text PDF (`--pages`): page rendering off, then on;
- scanned PDF (`--scanned-pages`, pages as pictures without a text layer): OCR and page
  rendering on, then OCR off (the file is expected to fail or carry a note; its status and
  reason are recorded).

    HF_HUB_OFFLINE=1 python -m eval.bench_documents [--pages 20] [--scanned-pages 5] \
        [--json eval/results/bench_documents.json]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, get_args

from eval.documents import scanned_text_pdf, text_pdf
from rag.core.config import Config, CorpusConfig, EncoderConfig, IngestConfig, PageItems
from rag.library import Library

Builder = Callable[[Path, int], Path]


@dataclass(frozen=True)
class Case:
    """One timed ingest: which PDF, how many pages, which ingest settings."""

    name: str
    build: Builder
    pages: int
    ocr: bool
    render_pages: bool


def corpora() -> list[CorpusConfig]:
    """A text-paragraph corpus and an image corpus that needs no CLIP weights."""
    return [
        CorpusConfig(name="text-paragraph", modality="text", granularity="paragraph"),
        CorpusConfig(
            name="image",
            modality="image",
            granularity="image",
            encoder=EncoderConfig(visual_model=None),
        ),
    ]


def cases(pages: int, scanned_pages: int) -> list[Case]:
    """The four cases of the module docstring."""
    return [
        Case("text, render off", text_pdf, pages, ocr=True, render_pages=False),
        Case("text, render on", text_pdf, pages, ocr=True, render_pages=True),
        Case(
            "scanned, OCR on, render on",
            scanned_text_pdf,
            scanned_pages,
            ocr=True,
            render_pages=True,
        ),
        Case("scanned, OCR off", scanned_text_pdf, scanned_pages, ocr=False, render_pages=True),
    ]


def bench(case: Case, page_items: PageItems) -> dict[str, Any]:
    """Ingest the case's PDF into a fresh store and time it (after a one-page warm-up)."""
    with tempfile.TemporaryDirectory(prefix="bench_documents_") as tmp:
        root = Path(tmp)
        pdf = case.build(root / "document.pdf", case.pages)
        warmup = case.build(root / "warmup.pdf", 1)
        ingest = IngestConfig(
            ocr=case.ocr, render_pages=case.render_pages, page_items=page_items, describe="off"
        )
        config = Config(data_dir=root / "data", corpora=corpora(), ingest=ingest)
        with Library(config) as library:
            for corpus in config.corpora:
                library.retriever(corpus.name)  # encoders loaded before the clock
            library.ingest([warmup], progress=False)
            start = time.perf_counter()
            report = library.ingest([pdf], progress=False)
            seconds = time.perf_counter() - start
    outcome = report.outcomes[0] if report.outcomes else None
    return {
        "name": case.name,
        "pages": case.pages,
        "seconds": seconds,
        "s_per_page": seconds / case.pages,
        "pages_per_s": case.pages / seconds,
        "status": outcome.status if outcome else "none",
        "reason": outcome.reason if outcome else "no outcome reported",
        "items": dict(outcome.items) if outcome else {},
        "ocr": case.ocr,
        "render_pages": case.render_pages,
        "page_items": page_items,
    }


def table(rows: Sequence[dict[str, Any]]) -> str:
    """The results as a Markdown table."""
    lines = [
        "| case | pages | s | s/page | pages/s | status | items | reason |",
        "|---|---:|---:|---:|---:|---|---|---|",
    ]
    for r in rows:
        items = ", ".join(f"{k}: {v}" for k, v in r["items"].items()) or "-"
        lines.append(
            f"| {r['name']} | {r['pages']} | {r['seconds']:.2f} | {r['s_per_page']:.3f} "
            f"| {r['pages_per_s']:.2f} | {r['status']} | {items} | {r['reason'] or '-'} |"
        )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m eval.bench_documents", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--pages", type=int, default=20, help="pages of the text PDF")
    parser.add_argument("--scanned-pages", type=int, default=5, help="pages of the scanned PDF")
    parser.add_argument("--page-items", choices=get_args(PageItems), default="visual")
    parser.add_argument("--json", type=Path, help="write the results here")
    args = parser.parse_args(argv)
    rows: list[dict[str, Any]] = []
    for case in cases(args.pages, args.scanned_pages):
        rows.append(bench(case, args.page_items))
        print(f"{case.name}: {rows[-1]['seconds']:.2f} s ({rows[-1]['status']})", flush=True)
    print(table(rows))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        result = {"cases": rows, "machine": os.cpu_count(), "load_average": os.getloadavg()[0]}
        args.json.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
