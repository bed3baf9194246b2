"""The public Python API: a Library of configured corpora that can ingest files and search.

    from rag import Library
    lib = Library.from_config()            # ./mmrag.toml, $MMRAG_CONFIG, or built-in defaults
    report = lib.ingest(["docs/", "photos/"])
    hits = lib.search("a cat on a sofa", corpus="image", k=5)
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from rag.config import Config, ConfigError, CorpusConfig, load_config
from rag.ingest import FileOutcome, IngestReport, expand, ingest_file, prune
from rag.items import Hit, Query
from rag.store import connect
from retrievers import Retriever, build_retriever

log = logging.getLogger(__name__)


class Library:
    def __init__(self, config: Config):
        self.config = config
        self.client = connect(config)
        self._retrievers: dict[str, Retriever] = {}

    @classmethod
    def from_config(cls, path: str | Path | None = None) -> Library:
        return cls(load_config(path))

    def retriever(self, corpus: str) -> Retriever:
        """The corpus's retriever, built on first use (loads its encoders)."""
        if corpus not in self._retrievers:
            self._retrievers[corpus] = build_retriever(self.config.corpus(corpus), self.client)
        return self._retrievers[corpus]

    def counts(self) -> dict[str, int]:
        """Items per corpus, without loading any encoder."""
        existing = {c.name for c in self.client.list_collections()}
        return {
            c.name: self.client.get_collection(c.name).count() if c.name in existing else 0
            for c in self.config.corpora
        }

    def ingest(
        self,
        paths: Sequence[str | Path] = (),
        corpus: str | None = None,
        prune_missing: bool = False,
        rebuild: bool = False,
        progress: bool = True,
    ) -> IngestReport:
        """Ingest files (or, with no paths, each corpus's configured sources).

        Unchanged files are skipped, changed ones replaced; with `prune_missing` the items of
        files that no longer exist are removed; `rebuild` empties the target corpora first.
        """
        corpora = [self.config.corpus(corpus)] if corpus else self.config.corpora
        if rebuild:
            self._drop(corpora)
        jobs = self._jobs([Path(p) for p in paths], corpora)
        report = IngestReport()
        with _progress(progress) as bar:
            task = bar.add_task("ingest", total=len(jobs), file="")
            for path, targets in jobs:
                bar.update(task, file=path.name)
                outcome = ingest_file(path, targets, self.retriever, self.config)
                report.outcomes.append(outcome)
                bar.advance(task)
        if prune_missing:
            roots = [Path(p) for p in paths] or [s for c in corpora for s in c.sources]
            report.outcomes.extend(prune(roots, [self.retriever(c.name) for c in corpora]))
        report.notes = sorted({o.reason for o in report.outcomes if o.status == "ingested" and o.reason})
        return report

    def _jobs(self, paths: list[Path], corpora: list[CorpusConfig]) -> list[tuple[Path, list[CorpusConfig]]]:
        if paths:
            return [(f, corpora) for f in expand(paths)]
        if not any(c.sources for c in corpora):
            raise ConfigError("nothing to ingest: give paths, or set `sources` for the corpora")
        by_file: dict[Path, list[CorpusConfig]] = {}
        for c in corpora:
            for f in expand(c.sources):
                by_file.setdefault(f, []).append(c)
        return sorted(by_file.items())

    def _drop(self, corpora: list[CorpusConfig]) -> None:
        existing = {c.name for c in self.client.list_collections()}
        for c in corpora:
            self._retrievers.pop(c.name, None)
            if c.name in existing:
                self.client.delete_collection(c.name)

    def search(
        self, query: str | Query, corpus: str | None = None, k: int = 5, image: str | Path | None = None
    ) -> list[Hit]:
        """Top-k hits of one corpus, or of every non-empty corpus (each ranked on its own:
        scores of different corpora are not comparable)."""
        q = query if isinstance(query, Query) else Query(query, Path(image) if image else None)
        if corpus:
            return self.retriever(corpus).search(q, k)
        counts = self.counts()
        hits: list[Hit] = []
        for c in self.config.corpora:
            if counts[c.name] and (q.text.strip() or c.modality != "text"):
                hits.extend(self.retriever(c.name).search(q, k))
        return hits


def _progress(enabled: bool) -> Progress:
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("{task.fields[file]}"),
        disable=not enabled,
        transient=False,
    )


__all__ = ["FileOutcome", "IngestReport", "Library"]
