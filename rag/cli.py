"""The `mmrag` command line: ingest, search, corpora, samples, demo."""

from __future__ import annotations

import argparse
import functools
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from rich.console import Console
from rich.logging import RichHandler
from rich.markup import escape
from rich.table import Table

from rag.config import ConfigError
from rag.ingest import IngestReport
from rag.items import Hit
from rag.models import ModelUnavailable
from rag.store import StoreError

console = Console()


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if getattr(args, "verbose", False) else logging.WARNING,
        format="%(message)s",
        handlers=[RichHandler(console=Console(stderr=True), show_path=False)],
    )
    logging.getLogger("pyscenedetect").setLevel(logging.WARNING)
    try:
        return args.run(args)
    except (ConfigError, StoreError, ModelUnavailable, ValueError, FileNotFoundError) as exc:
        console.print(f"[red]error:[/red] {exc}")
        return 2


def _parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--config", type=Path, default=argparse.SUPPRESS,
                        help="config file (default ./mmrag.toml or $MMRAG_CONFIG)")
    common.add_argument("-v", "--verbose", action="store_true", default=argparse.SUPPRESS, help="debug logging")
    parser = argparse.ArgumentParser(prog="mmrag", description=__doc__, parents=[common])
    sub = parser.add_subparsers(required=True, metavar="COMMAND")
    add_parser = functools.partial(sub.add_parser, parents=[common])

    p = add_parser("ingest", help="add files or folders to the corpora")
    p.add_argument("paths", nargs="*", type=Path, help="files or folders (default: configured sources)")
    p.add_argument("--corpus", help="only this corpus")
    p.add_argument("--prune", action="store_true", help="remove items of files that no longer exist")
    p.add_argument("--rebuild", action="store_true", help="empty the target corpora first")
    p.set_defaults(run=_ingest)

    p = add_parser("search", help="ranked hits for a text and/or image query")
    p.add_argument("query", nargs="?", default="")
    p.add_argument("--corpus", help="search only this corpus (default: every non-empty one)")
    p.add_argument("-k", type=int, default=5)
    p.add_argument("--image", type=Path, help="an image to search with")
    p.set_defaults(run=_search)

    p = add_parser("corpora", help="list the configured corpora and their item counts")
    p.set_defaults(run=_corpora)

    p = add_parser("samples", help="write the bundled sample corpora to a folder")
    p.add_argument("dest", type=Path)
    p.set_defaults(run=_samples)

    p = add_parser("demo", help="build the samples, ingest them and run example searches")
    p.add_argument("--dir", type=Path, default=Path(".demo"), help="where the demo keeps its data")
    p.set_defaults(run=_demo)
    return parser


def _library(args: argparse.Namespace):
    from rag.library import Library

    return Library.from_config(getattr(args, "config", None))


def _ingest(args: argparse.Namespace) -> int:
    report = _library(args).ingest(args.paths, args.corpus, prune_missing=args.prune, rebuild=args.rebuild)
    print_report(report)
    return 1 if report.all_failed else 0


def print_report(report: IngestReport) -> None:
    table = Table(title="Ingest summary", show_lines=False)
    for column in ("status", "file", "items", "reason / notes"):
        table.add_column(column, overflow="fold")
    order = {"failed": 0, "ingested": 1, "pruned": 2, "skipped": 3, "unchanged": 4}
    for o in sorted(report.outcomes, key=lambda o: (order[o.status], o.path)):
        color = {"failed": "red", "ingested": "green", "pruned": "yellow"}.get(o.status, "dim")
        items = ", ".join(f"{k}:{v}" for k, v in o.items.items()) if o.status == "ingested" else ""
        table.add_row(f"[{color}]{o.status}[/{color}]", _short(o.path), items, o.reason)
    console.print(table)
    counts = {s: len(report.by_status(s)) for s in order}  # type: ignore[arg-type]
    console.print(" · ".join(f"{n} {s}" for s, n in counts.items()))


def _short(path: str) -> str:
    try:
        return str(Path(path).relative_to(Path.cwd()))
    except ValueError:
        return path


def _search(args: argparse.Namespace) -> int:
    hits = _library(args).search(args.query, corpus=args.corpus, k=args.k, image=args.image)
    print_hits(hits, f"{args.query or args.image}")
    return 0


def print_hits(hits: list[Hit], title: str) -> None:
    """One block per hit: rank, score, corpus, source and span on a line, the snippet below."""
    console.print(f"[bold]Search:[/bold] {escape(title)}")
    if not hits:
        console.print("  [yellow]no hits[/yellow] (is anything ingested? see `mmrag corpora`)")
    rank: dict[str, int] = {}
    for hit in hits:
        rank[hit.corpus] = rank.get(hit.corpus, 0) + 1
        console.print(
            f"  {rank[hit.corpus]:>2}. [cyan]{hit.score:.3f}[/cyan]  [magenta]{hit.corpus}[/magenta]  "
            f"{escape(_short(hit.source))}  [dim]{hit.span}[/dim]",
            soft_wrap=True,
        )
        console.print(f"      {escape(hit.snippet(200))}", soft_wrap=True, highlight=False)
    console.print()


def _corpora(args: argparse.Namespace) -> int:
    library = _library(args)
    table = Table(title=f"Corpora (data: {library.config.data_dir})")
    for column in ("name", "modality", "granularity", "items", "description"):
        table.add_column(column)
    counts = library.counts()
    for c in library.config.corpora:
        table.add_row(c.name, c.modality, c.granularity, str(counts[c.name]), c.description)
    console.print(table)
    return 0


def _samples(args: argparse.Namespace) -> int:
    from rag.samples import build_samples

    root = build_samples(args.dest)
    console.print(f"sample corpora written to {root}")
    return 0


def _demo(args: argparse.Namespace) -> int:
    from rag.demo import run_demo

    return run_demo(args.dir, console)


if __name__ == "__main__":
    sys.exit(main())
