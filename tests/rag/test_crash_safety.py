"""kill -9 in the middle of an ingest, then run it again: nothing lost, nothing duplicated,
the store the same as a clean ingest's."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from eval.bench_ingest import paragraphs
from rag.core.config import Config
from rag.library import Library

SCRIPT = """
import sys
from rag.core.config import Config
from rag.library import Library
lib = Library(Config(data_dir=sys.argv[2]))
lib.ingest([sys.argv[1]], progress=False, on_file=lambda done, total, name: print(done, flush=True))
"""


def stored(library: Library) -> dict[str, list[tuple[str, str]]]:
    """Per corpus: (file name, text) of every item, sorted; and each file's items complete."""
    out = {}
    for corpus in library.config.corpora:
        if corpus.modality != "text":
            continue
        got = library.client.get_collection(corpus.name).get(include=["documents", "metadatas"])
        rows = [(Path(m["source"]).name, d) for d, m in zip(got["documents"], got["metadatas"], strict=True)]
        per_file: dict[str, int] = {}
        for m in got["metadatas"]:
            per_file[m["source"]] = per_file.get(m["source"], 0) + 1
        assert all(per_file[m["source"]] == m["n_items"] for m in got["metadatas"])  # complete, no extras
        assert len(set(got["ids"])) == len(got["ids"])
        out[corpus.name] = sorted(rows)
    return out


def test_kill_9_mid_ingest_then_rerun_loses_and_duplicates_nothing(tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    texts = list(paragraphs(40 * 6))
    for i in range(40):
        (docs / f"file{i:02d}.txt").write_text("\n\n".join(texts[i * 6 : (i + 1) * 6]), encoding="utf-8")
    crashed = tmp_path / "crashed"
    process = subprocess.Popen([sys.executable, "-c", SCRIPT, str(docs), str(crashed)],
                               stdout=subprocess.PIPE, text=True, start_new_session=True)
    assert process.stdout is not None
    for line in process.stdout:  # files done so far
        if int(line) >= 12:
            os.kill(process.pid, signal.SIGKILL)
            break
    assert process.wait(timeout=60) == -signal.SIGKILL
    resumed = Library(Config(data_dir=crashed))
    report = resumed.ingest([docs], progress=False)
    assert not report.by_status("failed")
    assert 12 <= len(report.by_status("unchanged")) < 40  # work done before the kill was kept
    clean = Library(Config(data_dir=tmp_path / "clean"))
    clean.ingest([docs], progress=False)
    assert stored(resumed) == stored(clean)
    assert resumed.counts() == clean.counts()
