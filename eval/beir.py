"""BEIR-layout datasets: `corpus.jsonl` (_id, title, text), `queries.jsonl` (_id, text),
qrels (`qrels/<split>.tsv` or `qrels.tsv`: query-id, corpus-id, score, with a header), and
optionally `answers.jsonl` (_id, question, answers) for answer evaluation. Also writes the
corpus as one text file per document so the normal ingest path (loaders, chunking, Chroma)
indexes it, and maps hits back to document ids."""

from __future__ import annotations

import csv
import json
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from rag.core.config import Config, CorpusConfig, StoreConfig
from rag.core.items import Hit
from rag.library import Library


@dataclass
class Beir:
    corpus: dict[str, dict[str, str]]  # doc id -> {"title", "text"}
    queries: dict[str, str]  # query id -> text
    qrels: dict[str, dict[str, int]]  # query id -> doc id -> grade
    answers: dict[str, list[str]] = field(default_factory=dict)  # query id -> gold answers

    @classmethod
    def load(cls, folder: str | Path, split: str = "test") -> Beir:
        root = Path(folder)
        for name in ("corpus.jsonl", "queries.jsonl"):
            if not (root / name).is_file():
                raise FileNotFoundError(f"{root / name}: not a BEIR folder (corpus.jsonl, queries.jsonl, qrels)")
        qrels_file = next((p for p in (root / "qrels" / f"{split}.tsv", root / "qrels.tsv") if p.is_file()), None)
        if qrels_file is None:
            raise FileNotFoundError(f"{root}: no qrels/{split}.tsv or qrels.tsv")
        corpus = {str(r["_id"]): {"title": r.get("title") or "", "text": r.get("text") or ""} for r in _jsonl(root / "corpus.jsonl")}
        queries = {str(r["_id"]): r["text"] for r in _jsonl(root / "queries.jsonl")}
        qrels: dict[str, dict[str, int]] = {}
        with qrels_file.open(encoding="utf-8", newline="") as fh:
            rows = csv.reader(fh, delimiter="\t")
            next(rows, None)  # header
            for row in rows:
                if len(row) >= 3:
                    qrels.setdefault(row[0], {})[row[1]] = int(float(row[2]))
        answers = {}
        if (root / "answers.jsonl").is_file():
            for r in _jsonl(root / "answers.jsonl"):
                gold = r.get("answers", r.get("answer", []))
                answers[str(r["_id"])] = [gold] if isinstance(gold, str) else list(gold)
                queries.setdefault(str(r["_id"]), r.get("question", ""))
        return cls(corpus, queries, qrels, answers)

    def judged(self) -> list[str]:
        """Query ids with at least one relevant document, in file order."""
        return [q for q in self.queries if any(g > 0 for g in self.qrels.get(q, {}).values())]

    def write_documents(self, folder: Path) -> dict[str, str]:
        """One .txt file per document (title, blank line, text); returns file stem -> doc id.
        File names are numbers: BEIR ids may hold characters no file name can."""
        folder.mkdir(parents=True, exist_ok=True)
        stems = {}
        for i, (doc_id, doc) in enumerate(self.corpus.items()):
            stem = f"{i:07d}"
            body = f"{doc['title']}\n\n{doc['text']}" if doc["title"] else doc["text"]
            (folder / f"{stem}.txt").write_text(body or " ", encoding="utf-8")
            stems[stem] = doc_id
        return stems


@contextmanager
def indexed(beir: Beir, config: Config, corpora: Sequence[CorpusConfig], workdir: Path) -> Iterator[tuple[Library, dict[str, str], float]]:
    """The corpus ingested into a fresh embedded store under `workdir` (these corpora only,
    the rest of `config` as given): the library, file stem -> doc id, and the ingest seconds."""
    store = config.model_copy(update={"data_dir": workdir / "store", "store": StoreConfig(), "corpora": list(corpora)})
    stems = beir.write_documents(workdir / "docs")
    with Library(store) as library:
        start = time.perf_counter()
        library.ingest([workdir / "docs"])
        yield library, stems, time.perf_counter() - start


def ranking(hits: list[Hit], doc_of: Callable[[Hit], str | None]) -> list[str]:
    """Document ids in the order of their first hit (a chunk's hit counts for its document);
    hits `doc_of` maps to None are left out."""
    return list(dict.fromkeys(d for h in hits if (d := doc_of(h)) is not None))


def beir_ids(stems: dict[str, str]) -> Callable[[Hit], str | None]:
    """A hit's BEIR document id, from the file stem `write_documents` gave it."""
    return lambda hit: stems.get(Path(hit.source).stem)


def _jsonl(path: Path) -> Iterator[dict]:
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                yield json.loads(line)
