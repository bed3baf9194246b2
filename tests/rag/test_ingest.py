"""Incremental, idempotent ingestion that survives bad files (real Chroma, real MiniLM)."""

import shutil
from pathlib import Path

import pytest
from PIL import Image

from rag.core.config import Config
from rag.library import Library
from ui.cli import main


@pytest.fixture
def library(tmp_path: Path) -> Library:
    return Library(Config(data_dir=tmp_path / "data"))


@pytest.fixture
def docs(tmp_path: Path, samples: Path) -> Path:
    folder = tmp_path / "docs"
    folder.mkdir()
    for name in ("space_exploration.md", "volcanoes.md", "pasta_guide.html"):
        shutil.copy(samples / "text" / name, folder / name)
    return folder


def test_second_run_ingests_nothing_and_duplicates_nothing(library: Library, docs: Path) -> None:
    first = library.ingest([docs], progress=False)
    counts = library.counts()
    assert len(first.by_status("ingested")) == 3 and counts["text-paragraph"] > 3
    second = library.ingest([docs], progress=False)
    assert len(second.by_status("unchanged")) == 3 and not second.by_status("ingested")
    assert library.counts() == counts


def test_changed_file_is_replaced(library: Library, docs: Path) -> None:
    library.ingest([docs], progress=False)
    before = library.counts()
    path = docs / "volcanoes.md"
    path.write_text(path.read_text().replace("Etna in Sicily", "Stromboli in the Aeolian Islands"))
    report = library.ingest([docs], progress=False)
    assert [Path(o.path).name for o in report.by_status("ingested")] == ["volcanoes.md"]
    assert library.counts() == before
    hits = library.search("Stromboli Aeolian Islands", corpus="text-paragraph", k=1)
    assert "Stromboli" in hits[0].text
    old = library.search("Etna in Sicily", corpus="text-paragraph", k=20)
    assert not any("Etna in Sicily" in h.text for h in old)


def test_prune_removes_deleted_files(library: Library, docs: Path) -> None:
    library.ingest([docs], progress=False)
    (docs / "pasta_guide.html").unlink()
    report = library.ingest([docs], prune_missing=True, progress=False)
    assert [Path(o.path).name for o in report.by_status("pruned")] == ["pasta_guide.html"]
    for name in ("text-paragraph", "text-document"):
        assert all("pasta" not in s for s in library.retriever(name).sources())


def test_half_written_file_is_completed_on_the_next_run(library: Library, docs: Path) -> None:
    """Simulates a crash after part of a file's items were written."""
    library.ingest([docs], progress=False)
    collection = library.client.get_collection("text-paragraph")
    source = str((docs / "space_exploration.md").resolve())
    ids = collection.get(where={"source": source})["ids"]
    collection.delete(ids=ids[1:])
    report = library.ingest([docs], progress=False)
    assert [Path(o.path).name for o in report.by_status("ingested")] == ["space_exploration.md"]
    assert len(collection.get(where={"source": source})["ids"]) == len(ids)


def test_bad_files_are_listed_and_good_ones_ingested(tmp_path: Path, samples: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "mixed"
    bad.mkdir()
    shutil.copy(samples / "text" / "volcanoes.md", bad / "good.md")
    shutil.copy(samples / "images" / "coffee.jpg", bad / "good.jpg")
    (bad / "zero.txt").write_bytes(b"")
    (bad / "truncated.jpg").write_bytes((samples / "images" / "coffee.jpg").read_bytes()[:500])
    (bad / "corrupt.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 40)
    (bad / "binary.txt").write_bytes(bytes(range(256)) * 8)
    (bad / "broken.pdf").write_bytes(b"%PDF-1.7\n%%garbage")
    (bad / "notes.xyz").write_text("unknown type")
    monkeypatch.chdir(tmp_path)
    code = main(["ingest", str(bad)])
    out = capsys.readouterr().out
    assert code == 0
    library = Library.from_config()
    report = library.ingest([bad], progress=False)
    failed = {Path(o.path).name: o.reason for o in report.by_status("failed")}
    assert set(failed) == {"zero.txt", "truncated.jpg", "corrupt.mp4", "binary.txt", "broken.pdf"}
    assert all(failed.values())
    assert {Path(o.path).name for o in report.by_status("unchanged")} == {"good.md", "good.jpg"}
    assert [Path(o.path).name for o in report.by_status("skipped")] == ["notes.xyz"]
    for name in failed:
        assert name in out
    assert library.counts()["image"] == 1


def test_exit_code_is_nonzero_only_when_everything_failed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "a.txt").write_bytes(b"")
    Image.new("RGB", (8, 8)).save(tmp_path / "ok.png")
    assert main(["ingest", str(tmp_path / "a.txt")]) == 1
    assert main(["ingest", str(tmp_path / "a.txt"), str(tmp_path / "ok.png")]) == 0


def test_corpus_option_restricts_ingest(library: Library, docs: Path) -> None:
    library.ingest([docs], corpus="text-document", progress=False)
    assert library.counts()["text-document"] == 3 and library.counts()["text-paragraph"] == 0


def test_loading_runs_ahead_of_writing_within_a_bounded_queue(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Back-pressure: with a slow writer, the loader gets ahead by at most the files being
    written (a batch: what was waiting) + the queue's size + the file in the loader's hands,
    and outcomes keep their order."""
    import threading
    import time

    import rag.library.ingest as ingest

    docs = tmp_path / "many"
    docs.mkdir()
    for i in range(16):
        (docs / f"note{i:02d}.txt").write_text(f"Note number {i} is about topic {i * 7}.", encoding="utf-8")
    counts = {"loaded": 0, "written": 0, "lead": 0}
    lock = threading.Lock()
    real_load, real_write = ingest.load_file, ingest.write_files

    def load(*args, **kwargs):
        result = real_load(*args, **kwargs)
        with lock:
            counts["loaded"] += 1
        return result

    def slow_write(batch, retrievers):
        time.sleep(0.2)
        with lock:
            counts["lead"] = max(counts["lead"], counts["loaded"] - counts["written"])
            counts["written"] += len(batch)
        return real_write(batch, retrievers)

    monkeypatch.setattr(ingest, "load_file", load)
    monkeypatch.setattr(ingest, "write_files", slow_write)
    monkeypatch.setattr(ingest, "LOAD_AHEAD", 3)
    library = Library(Config(data_dir=tmp_path / "data"))
    report = library.ingest([docs], corpus="text-paragraph", progress=False)
    assert [Path(o.path).name for o in report.outcomes] == [f"note{i:02d}.txt" for i in range(16)]
    assert all(o.status == "ingested" for o in report.outcomes) and counts["written"] == 16
    assert 3 < counts["lead"] <= 2 * 3 + 2  # ran ahead, but no further


def test_small_files_are_encoded_together_and_a_bad_one_fails_alone(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Files waiting for the writer go to the encoder in one call; when that call fails, the
    files are written one by one, so only the file that breaks the encoder fails."""
    from retrievers.text import TextRetriever

    docs = tmp_path / "many"
    docs.mkdir()
    for i in range(40):
        (docs / f"note{i:02d}.txt").write_text(f"Note number {i} is about topic {i * 7}.", encoding="utf-8")
    (docs / "note17.txt").write_text("POISON: this note breaks the encoder.", encoding="utf-8")
    calls: list[int] = []
    real_vectors = TextRetriever.vectors

    def vectors(self, items):
        calls.append(len(items))
        if any("POISON" in i.text for i in items):
            raise RuntimeError("the encoder choked")
        return real_vectors(self, items)

    monkeypatch.setattr(TextRetriever, "vectors", vectors)
    library = Library(Config(data_dir=tmp_path / "data"))
    report = library.ingest([docs], corpus="text-paragraph", progress=False)
    failed = report.by_status("failed")
    assert [Path(o.path).name for o in failed] == ["note17.txt"] and "the encoder choked" in failed[0].reason
    assert len(report.by_status("ingested")) == 39 and library.counts()["text-paragraph"] == 39
    assert max(calls) > 1  # some files were encoded together
