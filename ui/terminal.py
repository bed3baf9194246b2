"""Terminal rendering shared by the `mmrag` commands and the demo: hits, answers, reports."""

from __future__ import annotations

from collections.abc import Collection, Iterator
from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from agents.state import AgentAnswer, Event, event_line
from rag.core.items import Hit
from rag.generation.answer import Answer
from rag.library.ingest import STATUSES, IngestReport

console = Console()


def print_report(report: IngestReport) -> None:
    table = Table(title="Ingest summary", show_lines=False)
    for column in ("status", "file", "items", "reason / notes"):
        table.add_column(column, overflow="fold")
    for o in report.for_display():
        color = {"failed": "red", "ingested": "green", "pruned": "yellow"}.get(o.status, "dim")
        items = ", ".join(f"{k}:{v}" for k, v in o.items.items()) if o.status == "ingested" else ""
        table.add_row(f"[{color}]{o.status}[/{color}]", _short(o.path), items, o.reason)
    console.print(table)
    counts = {s: len(report.by_status(s)) for s in STATUSES}
    console.print(" · ".join(f"{n} {s}" for s, n in counts.items()))
    for note in report.run_notes:
        console.print(f"[dim]note:[/dim] {escape(note)}")


def _short(path: str) -> str:
    try:
        return str(Path(path).relative_to(Path.cwd()))
    except ValueError:
        return path


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


def print_answer(events: Iterator[str | Answer], stream: bool) -> Answer:
    """Streams the model's text when asked, then the checked answer, notes and sources."""
    answer = None
    for event in events:
        if isinstance(event, str):
            if stream:
                console.print(event, end="", highlight=False, markup=False)
        else:
            answer = event
    assert answer is not None
    if stream:
        console.print()
    show_answer(answer, stream)
    return answer


def print_agent(events: Iterator[Event], stream: bool, steps: Collection[str] | None = None) -> AgentAnswer:
    """The agent's steps as they happen (condense, route, hits, re-rank, reflection; only the
    kinds in `steps` when given), the model's text when streaming, then the checked answer."""
    streaming = False
    for event in events:
        if event.kind == "token":
            if stream:
                console.print(event.text, end="", highlight=False, markup=False)
                streaming = True
            continue
        if streaming:
            console.print()
            streaming = False
        if event.kind == "final":
            show_answer(event.answer, stream)
            return event.answer
        if steps is None or event.kind in steps:
            console.print(f"[dim]{escape(event_line(event))}[/dim]", highlight=False)
    raise RuntimeError("the agent ended without an answer")


def show_answer(answer: Answer, stream: bool) -> None:
    """The checked answer (unless the stream already showed it unchanged), notes and sources."""
    if not stream or answer.text != answer.draft.strip():
        console.print(("[bold]Checked answer:[/bold] " if stream else "") + escape(answer.text), highlight=False)
    for note in answer.notes:
        console.print(f"[dim]{escape(note)}[/dim]")
    if answer.citations:
        console.print("[bold]Sources[/bold]")
        for c in answer.citations:
            console.print(f"  [{c.n}] {escape(_short(c.hit.source))}  [dim]{c.hit.span}[/dim]", highlight=False)
    if answer.dropped_citations:
        console.print(f"[dim]{answer.dropped_citations} citation(s) to missing evidence dropped[/dim]")
    console.print(f"[dim]{answer.model} · " + " · ".join(f"{k} {v:.2f}" for k, v in answer.timings.items()) + "[/dim]")
