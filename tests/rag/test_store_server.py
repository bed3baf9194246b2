"""Chroma server mode: a real `chroma run` on 127.0.0.1, ingest and search through HttpClient."""

import shutil
from pathlib import Path

import pytest

from rag.core.config import Config, StoreConfig
from rag.core.store import StoreError
from rag.library import Library
from tests.helpers import free_port

pytestmark = pytest.mark.server


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
