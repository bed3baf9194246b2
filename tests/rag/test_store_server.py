"""Chroma server mode: a real `chroma run` on 127.0.0.1, ingest and search through HttpClient."""

import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from rag.config import Config, StoreConfig
from rag.library import Library
from rag.store import StoreError
from tests.helpers import free_port

pytestmark = pytest.mark.server


@pytest.fixture(scope="module")
def chroma_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    """Starts `chroma run` from this venv; waits until it answers its heartbeat."""
    import chromadb

    port = free_port()
    chroma = Path(sys.executable).with_name("chroma")
    path = tmp_path_factory.mktemp("chroma-server")
    proc = subprocess.Popen(
        [str(chroma), "run", "--path", str(path), "--host", "127.0.0.1", "--port", str(port)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                chromadb.HttpClient("127.0.0.1", port).heartbeat()
                break
            except Exception:  # noqa: BLE001 - any failure means "not up yet"
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("chroma run did not start") from None
                time.sleep(0.3)
        yield port
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def _server_config(tmp_path: Path, port: int) -> Config:
    return Config(data_dir=tmp_path / "data", store=StoreConfig(host="127.0.0.1", port=port))


def test_ingest_and_search_through_the_chroma_server(chroma_server: int, samples: Path, tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    shutil.copy(samples / "text" / "volcanoes.md", docs)
    shutil.copy(samples / "images" / "coffee.jpg", docs)
    (docs / "coffee.caption.txt").write_text("A cup of coffee on a saucer.")
    library = Library(_server_config(tmp_path, chroma_server))
    report = library.ingest([docs], progress=False)
    assert len(report.by_status("ingested")) == 2
    assert not (tmp_path / "data" / "chroma").exists()  # nothing embedded: all on the server
    other_process_view = Library(_server_config(tmp_path, chroma_server))
    assert other_process_view.counts()["image"] == 1
    hit = other_process_view.search("Why do planes avoid ash clouds?", corpus="text-paragraph", k=1)[0]
    assert Path(hit.source).name == "volcanoes.md" and "jet engines" in hit.text
    assert Path(other_process_view.search("coffee cup", corpus="image", k=1)[0].source).name == "coffee.jpg"


def test_unreachable_server_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="chroma run"):
        Library(_server_config(tmp_path, free_port()))
