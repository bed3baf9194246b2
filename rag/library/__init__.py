"""The public Python API: a Library of configured corpora that can ingest files and search.

    from rag import Library
    lib = Library.from_config()            # ./mmrag.toml, $MMRAG_CONFIG, or built-in defaults
    report = lib.ingest(["docs/", "photos/"])
    hits = lib.search("a cat on a sofa", corpus="image", k=5)
"""

from __future__ import annotations

import atexit
import logging
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from itertools import zip_longest
from pathlib import Path

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from rag.core.config import Config, ConfigError, CorpusConfig, EncoderConfig, load_config
from rag.core.items import Hit, Query
from rag.core.store import connect
from rag.generation.answer import Answer, answer_stream
from rag.generation.generator import Generator
from rag.generation.serving import Server, start_embedded
from rag.library.describe import Describer, DescriptionCache, off_reason
from rag.library.ingest import FileOutcome, IngestReport, expand, ingest_files, prune
from retrievers import Retriever, build_retriever
from retrievers.encoders import TextEncoder, text_encoder

log = logging.getLogger(__name__)
COUNTS_TTL_S = 2.0


class Library:
    def __init__(self, config: Config):
        self.config = config
        self.client = connect(config)
        self._retrievers: dict[str, Retriever] = {}
        self._generator: Generator | None = None
        self._server: Server | None = None
        self._lock = threading.RLock()  # one embedded server, one retriever per corpus, across threads
        self._counts: tuple[float, dict[str, int]] | None = None  # (when, items per corpus)

    def __enter__(self) -> Library:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Stop the embedded model server if this library started it."""
        if self._server is not None:
            self._server.stop()
            self._server = None
            self._generator = None

    @classmethod
    def from_config(cls, path: str | Path | None = None) -> Library:
        return cls(load_config(path))

    def retriever(self, corpus: str) -> Retriever:
        """The corpus's retriever, built on first use (loads its encoders)."""
        with self._lock:  # the ingest's loader thread asks too
            if corpus not in self._retrievers:
                self._retrievers[corpus] = build_retriever(self.config.corpus(corpus), self.client)
            return self._retrievers[corpus]

    def counts(self) -> dict[str, int]:
        """Items per corpus, without loading any encoder. Kept for COUNTS_TTL_S (Chroma's
        count takes ~10 ms at 100k items, and the agent asks on every question); this
        library's own ingests refresh it at once, another process's within the TTL."""
        with self._lock:
            if self._counts is None or time.monotonic() - self._counts[0] > COUNTS_TTL_S:
                existing = {c.name for c in self.client.list_collections()}
                counts = {
                    c.name: self.client.get_collection(c.name).count() if c.name in existing else 0
                    for c in self.config.corpora
                }
                self._counts = (time.monotonic(), counts)
            return dict(self._counts[1])

    def ingest(
        self,
        paths: Sequence[str | Path] = (),
        corpus: str | None = None,
        prune_missing: bool = False,
        rebuild: bool = False,
        progress: bool = True,
        on_file: Callable[[int, int, str], None] | None = None,
        describe: bool = False,
    ) -> IngestReport:
        """Ingest files (or, with no paths, each corpus's configured sources).

        Unchanged files are skipped, changed ones replaced; with `prune_missing` the items of
        files that no longer exist are removed; `rebuild` empties the target corpora first.
        Pictures get the vision model's descriptions as `[ingest] describe` says; `describe`
        asks for them whatever it says, and also fills in those that an earlier ingest lacks.
        `progress` draws a terminal bar; `on_file(done, total, name)` is called after each
        file (the UI's progress bar).
        """
        corpora = [self.config.corpus(corpus)] if corpus else self.config.corpora
        self._counts = None
        if rebuild:
            self._drop(corpora)
        jobs = self._jobs([Path(p) for p in paths], corpora)
        report = IngestReport()
        with _progress(progress) as bar:
            task = bar.add_task("ingest", total=len(jobs), file="")
            describer, why = self._describer(describe, bar)
            try:
                for outcome in ingest_files(jobs, self.retriever, self.config, describer=describer, redescribe=describe):
                    bar.update(task, file=Path(outcome.path).name)
                    report.outcomes.append(outcome)
                    bar.advance(task)
                    if on_file is not None:
                        on_file(len(report.outcomes), len(jobs), Path(outcome.path).name)
            finally:
                if describer is not None:
                    describer.cache.close()
        if prune_missing:
            roots = [Path(p) for p in paths] or [s for c in corpora for s in c.sources]
            report.outcomes.extend(prune(roots, [self.retriever(c.name) for c in corpora]))
        report.notes = sorted({o.reason for o in report.outcomes if o.status == "ingested" and o.reason})
        pictured = {c.name for c in corpora if c.granularity in ("image", "clip")}
        if why and (describe or self.config.ingest.describe == "on" or any(o.items.get(name) for o in report.outcomes for name in pictured)):
            report.notes.append(f"descriptions of pictures by the vision model are off: {why}")
        self._counts = None
        return report

    def _describer(self, asked: bool, bar: Progress) -> tuple[Describer | None, str]:
        """The describer of this ingest, or None and why descriptions are off."""
        why = off_reason(self.config, asked)
        if why:
            return None, why
        settings = self.config.ingest
        task = bar.add_task("describe", total=0, file="")
        return Describer(
            self.generator(),
            DescriptionCache(self.config.data_dir / "descriptions.sqlite"),
            settings.describe_concurrency,
            settings.describe_max_tokens,
            lambda done, total: bar.update(task, completed=done, total=total),
        ), ""

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


    def generator(self) -> Generator:
        """The configured answer model's client; with no base_url, the embedded server is
        started (or an already running one reused)."""
        with self._lock:
            return self._generator or self._connect()

    def _connect(self) -> Generator:
        """The generator client (starting the embedded server when there is no base_url)."""
        settings = self.config.generator
        if settings.base_url:
            self._generator = Generator(settings.base_url, settings.model, settings, settings.vision)
        else:
            self._server = start_embedded(self.config)
            atexit.register(self._server.stop)
            small = self.config.answer_settings()
            self._generator = Generator(self._server.base_url, self._server.model, small, vision=False)
        return self._generator

    def ask(self, question: str, corpus: str | None = None, image: str | Path | None = None, k: int | None = None) -> Answer:
        """A grounded answer with citations mapped to their sources."""
        *_, answer = self.ask_stream(question, corpus, image, k)
        assert isinstance(answer, Answer)
        return answer

    def ask_stream(
        self, question: str, corpus: str | None = None, image: str | Path | None = None, k: int | None = None
    ) -> Iterator[str | Answer]:
        """Yields the answer's text as it is generated, then the finished Answer."""
        generator = self.generator()
        start = time.perf_counter()
        evidence = self.evidence(question, corpus, image, k or generator.settings.evidence_k)
        timings = {"retrieve_s": time.perf_counter() - start}
        yield from answer_stream(generator, question, evidence, timings, self.text_encoder())
        timings["total_s"] = time.perf_counter() - start

    def text_encoder(self) -> TextEncoder:
        """The text encoder of the first text corpus (MiniLM by default), for sentence scoring."""
        names = [c.encoder.text_model for c in self.config.corpora if c.modality == "text"]
        return text_encoder(names[0] if names else EncoderConfig().text_model)

    def evidence(self, question: str, corpus: str | None, image: str | Path | None, k: int) -> list[Hit]:
        """Top-k hits of one corpus, or, across corpora, interleaved by rank (their scores are
        not comparable); the agent's router replaces this choice."""
        hits = self.search(question, corpus=corpus, k=k, image=image)
        if corpus:
            return hits
        by_corpus: dict[str, list[Hit]] = {}
        for hit in hits:
            by_corpus.setdefault(hit.corpus, []).append(hit)
        ranked = [h for group in zip_longest(*by_corpus.values()) for h in group if h is not None]
        return ranked[:k]


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


__all__ = ["Answer", "FileOutcome", "IngestReport", "Library"]
