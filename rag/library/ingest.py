"""Ingestion: files -> loaders -> retrievers, incremental, crash-safe, and never stopped by
one bad file.

A file is skipped when every target corpus already holds all of its items for its current
content hash. New items are written before the old version's are deleted, so a crash leaves
either version findable and the next run completes the work. Loading (parsing, OCR, speech
recognition) runs ahead of encoding and writing, in its own thread (`ingest_files`); the files
waiting when the writer is free are encoded together (one encoder call per corpus, not one per
small file) and, should that fail, written again one by one so a bad file fails alone.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, TypeVar

from rag.core.config import Config, CorpusConfig
from rag.core.items import Item
from rag.core.store import DESCRIBED
from rag.library.describe import Describer, describable, failure_note
from rag.loaders import LOADERS, LoadContext, LoadError, file_sha, granularities_of, modality_of
from rag.loaders.image import SIDECAR_SUFFIXES
from retrievers import Retriever

log = logging.getLogger(__name__)
Status = Literal["ingested", "unchanged", "skipped", "failed", "pruned"]
STATUSES: tuple[Status, ...] = ("failed", "ingested", "pruned", "skipped", "unchanged")  # display order
LOAD_AHEAD = 32  # files loaded and waiting for the encoder, at most
T = TypeVar("T")


@dataclass
class FileOutcome:
    path: str
    status: Status
    reason: str = ""
    items: dict[str, int] = field(default_factory=dict)


@dataclass
class IngestReport:
    outcomes: list[FileOutcome] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def by_status(self, status: Status) -> list[FileOutcome]:
        return [o for o in self.outcomes if o.status == status]

    def for_display(self) -> list[FileOutcome]:
        """Failures first (they need attention), then ingested, pruned, skipped, unchanged."""
        return sorted(self.outcomes, key=lambda o: (STATUSES.index(o.status), o.path))

    @property
    def run_notes(self) -> list[str]:
        """The notes about the run as a whole (a file's own are its outcome's reason)."""
        reasons = {o.reason for o in self.outcomes}
        return [note for note in self.notes if note not in reasons]

    @property
    def all_failed(self) -> bool:
        """True when files were given and none of them could be read."""
        tried = [o for o in self.outcomes if o.status != "pruned"]
        return bool(tried) and all(o.status == "failed" for o in tried)


def expand(paths: Iterable[Path]) -> list[Path]:
    """Files under the given paths, sorted, without hidden files or folders."""
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            files.extend(
                p for p in sorted(path.rglob("*"))
                if p.is_file()
                and not any(part.startswith(".") for part in p.relative_to(path).parts)
                and not p.name.lower().endswith(SIDECAR_SUFFIXES)
            )
        else:
            files.append(path)
    return files


@dataclass
class Loaded:
    """A file's items for each corpus that lacks its current version, ready to be written."""

    source: str
    sha: str
    items: dict[str, list[Item]]  # corpus name -> items
    notes: list[str]
    optional: frozenset[str] = frozenset()  # corpora the file may give no items (a PDF's pictures)


def ingest_files(
    jobs: Sequence[tuple[Path, Sequence[CorpusConfig]]],
    retrievers: Callable[[str], Retriever],
    config: Config,
    ahead: int | None = None,
    describer: Describer | None = None,
    redescribe: bool = False,
) -> Iterator[FileOutcome]:
    """Each job's outcome (`load_file`, `describe`, then `write_files`), in order. A thread loads
    files (parsing, OCR, speech recognition) while this one describes, encodes and writes what
    has been loaded; the queue between them holds at most `ahead` files, so a slow encoder holds
    the loader back instead of filling memory. `redescribe` loads again the files whose
    pictures lack descriptions."""
    queue_: queue.Queue[Loaded | FileOutcome | BaseException | None] = queue.Queue(maxsize=ahead or LOAD_AHEAD)
    stop = threading.Event()

    def offer(value: Loaded | FileOutcome | BaseException | None) -> bool:
        while not stop.is_set():
            try:
                queue_.put(value, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for path, corpora in jobs:
                if not offer(load_file(path, corpora, retrievers, config, redescribe)):
                    return
        except BaseException as exc:  # noqa: BLE001 - re-raised in the consumer's thread
            offer(exc)
        offer(None)

    loader = threading.Thread(target=produce, name="ingest-loader", daemon=True)
    loader.start()
    try:
        done = False
        while not done:
            ready = [queue_.get()]
            while ready[-1] is not None and not isinstance(ready[-1], BaseException) and not queue_.empty():
                ready.append(queue_.get())
            done = ready[-1] is None
            batch: list[Loaded] = []
            for loaded in ready:
                if isinstance(loaded, Loaded):
                    batch.append(loaded)
                    continue
                yield from write_files(describe(batch, describer), retrievers)
                batch = []
                if isinstance(loaded, BaseException):
                    raise loaded
                if isinstance(loaded, FileOutcome):
                    yield loaded
            yield from write_files(describe(batch, describer), retrievers)
    finally:
        stop.set()
        loader.join()


def load_file(
    path: Path,
    corpora: Sequence[CorpusConfig],
    retrievers: Callable[[str], Retriever],
    config: Config,
    redescribe: bool = False,
) -> Loaded | FileOutcome:
    """A file's items for the corpora lacking its current version, or the outcome that needs
    no writing (skipped, unchanged, failed)."""
    source = str(path.resolve())
    modality = modality_of(path)
    if modality is None:
        return FileOutcome(source, "skipped", f"unsupported file type {path.suffix or '(none)'}")
    targets = [c for c in corpora if c.modality == modality]
    if not targets:
        return FileOutcome(source, "skipped", f"no configured corpus holds {modality}")
    extras = [c for c in corpora if c.modality != modality and c.granularity in granularities_of(path)]

    def load() -> Loaded | FileOutcome:
        sha = file_sha(path)
        todo = [c for c in targets if not _complete(retrievers(c.name), source, sha, redescribe)]
        extra = extras if todo else [c for c in extras if not _settled(retrievers(c.name), source, sha, redescribe)]
        if not todo and not extra:
            return FileOutcome(source, "unchanged")
        ctx = LoadContext(config.ingest, config.data_dir / "frames", sha)
        items = LOADERS[modality].load(path.resolve(), {c.granularity for c in todo + extra}, ctx)
        # Extras first: a crash before the file's own corpora are written leaves them
        # incomplete, so the next run redoes the file.
        written = {c.name: items.get(c.granularity, []) for c in extra + todo}
        return Loaded(source, sha, written, ctx.notes, frozenset(c.name for c in extra))

    return _guarded(source, load)


def describe(batch: list[Loaded], describer: Describer | None) -> list[Loaded]:
    """The batch with its pictures described (when a describer is given) or marked as
    lacking a description; a file's failures become one note of its outcome."""
    items = [item for loaded in batch for group in loaded.items.values() for item in group]
    for item in items:
        if describable(item):
            item.metadata.setdefault(DESCRIBED, False)
    if describer is None or not items:
        return batch
    failures = describer.fill(items)
    for loaded in batch:
        failed = [failures[i.id] for group in loaded.items.values() for i in group if i.id in failures]
        if failed:
            loaded.notes.append(failure_note(failed))
    return batch


def write_files(batch: Sequence[Loaded], retrievers: Callable[[str], Retriever]) -> list[FileOutcome]:
    """Writes several loaded files with one `add` per corpus; if that fails, file by file."""
    if len(batch) <= 1 or any(not items for loaded in batch for n, items in loaded.items.items() if n not in loaded.optional):
        return [write_file(loaded, retrievers) for loaded in batch]
    try:
        for name in dict.fromkeys(name for loaded in batch for name in loaded.items):
            retrievers(name).add([i for loaded in batch for i in _stamped(loaded.items.get(name, []), loaded.sha)])
        for loaded in batch:
            for name in loaded.items:
                retrievers(name).remove(loaded.source, keep_sha=loaded.sha)
    except Exception:
        log.debug("batched write failed; writing file by file", exc_info=True)
        return [write_file(loaded, retrievers) for loaded in batch]
    return [
        FileOutcome(loaded.source, "ingested", "; ".join(loaded.notes), {n: len(i) for n, i in loaded.items.items()})
        for loaded in batch
    ]


def _stamped(items: list[Item], sha: str) -> list[Item]:
    """A file's items for one corpus, marked with its version and their count (how
    `versions` tells a complete file from one a crash cut short)."""
    for item in items:
        item.metadata.update(sha=sha, n_items=len(items))
    return items


def write_file(loaded: Loaded, retrievers: Callable[[str], Retriever]) -> FileOutcome:
    """Encodes and writes the items, corpus by corpus, then deletes older versions there."""

    def write() -> FileOutcome:
        counts = {
            name: _write(retrievers(name), items, loaded.source, loaded.sha, name in loaded.optional)
            for name, items in loaded.items.items()
        }
        return FileOutcome(loaded.source, "ingested", "; ".join(loaded.notes), counts)

    return _guarded(loaded.source, write)


def _guarded(source: str, work: Callable[[], T]) -> T | FileOutcome:
    """The work's result, or a failed outcome whose reason says what went wrong."""
    try:
        return work()
    except LoadError as exc:
        return FileOutcome(source, "failed", str(exc))
    except FileNotFoundError:
        return FileOutcome(source, "failed", "file disappeared before it could be read")
    except Exception as exc:
        log.debug("ingest of %s failed", source, exc_info=True)
        return FileOutcome(source, "failed", f"{type(exc).__name__}: {exc}")


def _complete(retriever: Retriever, source: str, sha: str, redescribe: bool = False) -> bool:
    """True when the corpus holds all of the file's current version and nothing else (and,
    with `redescribe`, every picture of it has its description)."""
    state = retriever.versions(source)
    return len(state) == 1 and sha in state and state[sha].complete and not (redescribe and state[sha].undescribed)


def _settled(retriever: Retriever, source: str, sha: str, redescribe: bool = False) -> bool:
    """For a file whose own corpora are complete: true when a corpus it may give no items
    holds nothing of it (it gave none) or is `_complete`."""
    state = retriever.versions(source)
    return not state or _complete(retriever, source, sha, redescribe)


def _write(retriever: Retriever, items: list[Item], source: str, sha: str, optional: bool = False) -> int:
    if not items and not optional:
        raise LoadError(f"no {retriever.corpus.granularity} items could be made from the file")
    if items:
        retriever.add(_stamped(items, sha))
    retriever.remove(source, keep_sha=sha)
    return len(items)


def prune(roots: Sequence[Path], retrievers: Sequence[Retriever]) -> list[FileOutcome]:
    """Remove the items of files that no longer exist (under `roots`, or anywhere if empty)."""
    prefixes = [str(r.resolve()) for r in roots]
    gone: dict[str, dict[str, int]] = {}
    for retriever in retrievers:
        for source in retriever.sources():
            inside = not prefixes or any(source == p or source.startswith(p + "/") for p in prefixes)
            if inside and not Path(source).exists():
                retriever.remove(source)
                gone.setdefault(source, {})[retriever.corpus.name] = 0
    return [FileOutcome(s, "pruned", "file no longer exists", c) for s, c in sorted(gone.items())]
