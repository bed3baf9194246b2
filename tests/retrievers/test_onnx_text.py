"""The ONNX Runtime backend of the text encoder: the packaged MiniLM exported (int8) in the
test session, compared with the torch encoder, and used by a corpus end to end."""

from pathlib import Path

import numpy as np
import pytest

from rag.core.config import Config, CorpusConfig, EncoderConfig
from rag.core.errors import StoreError
from rag.library import Library
from retrievers.encoders import TextEncoder

MODEL = "sentence-transformers/all-MiniLM-L6-v2"
PASSAGES = [
    "Bring a large pot of water to a rolling boil and salt it generously before adding pasta.",
    "Lava that reaches the sea cools quickly, shattering into black sand and glassy fragments.",
    "To patch an inner tube, roughen the area around the hole and apply vulcanising fluid.",
    "The iris dataset has 150 samples of three species, with four measurements each.",
]


@pytest.fixture(scope="module")
def onnx_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("xdg_cache")


def test_int8_vectors_stay_close_to_torch(onnx_cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(onnx_cache))
    torch_encoder, onnx_encoder = TextEncoder(MODEL), TextEncoder(MODEL, "onnx-int8")
    assert onnx_encoder.name == f"{MODEL}@onnx-int8" and list(onnx_cache.rglob("*.int8.onnx"))
    a, b = torch_encoder.encode(PASSAGES), onnx_encoder.encode(PASSAGES)
    assert a.shape == b.shape and np.allclose(np.linalg.norm(b, axis=1), 1.0, atol=1e-4)
    assert float(np.min(np.sum(a * b, axis=1))) > 0.97
    query = onnx_encoder.encode(["how much salt goes in pasta water"])[0]
    assert int(np.argmax(b @ query)) == 0


def test_a_corpus_on_the_onnx_backend_searches_and_refuses_a_backend_switch(
    tmp_path: Path, onnx_cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(onnx_cache))
    docs = tmp_path / "docs"
    docs.mkdir()
    for n, text in enumerate(PASSAGES):
        (docs / f"p{n}.txt").write_text(text)
    corpus = CorpusConfig(name="notes", modality="text", granularity="paragraph", encoder=EncoderConfig(text_backend="onnx-int8"))
    library = Library(Config(data_dir=tmp_path / "data", corpora=[corpus]))
    library.ingest([docs], progress=False)
    assert Path(library.search("fixing a bicycle puncture", corpus="notes", k=1)[0].source).name == "p2.txt"
    torch_corpus = corpus.model_copy(update={"encoder": EncoderConfig()})
    with pytest.raises(StoreError, match="--rebuild"):
        Library(Config(data_dir=tmp_path / "data", corpora=[torch_corpus])).search("pasta", corpus="notes", k=1)
