"""Shared fixtures: offline environment, the sample corpora, a library ingested from them,
and a tiny random-weight CLIP built in the session."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["ANONYMIZED_TELEMETRY"] = "False"


@pytest.fixture(scope="session")
def samples(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from rag.library.samples import build_samples

    return build_samples(tmp_path_factory.mktemp("samples"))


@pytest.fixture(scope="session")
def sample_library(samples: Path, tmp_path_factory: pytest.TempPathFactory):
    """A Library (embedded Chroma, default corpora, offline encoders) with the samples ingested."""
    from rag.core.config import Config
    from rag.library import Library

    library = Library(Config(data_dir=tmp_path_factory.mktemp("library")))
    report = library.ingest([samples], progress=False)
    assert not report.by_status("failed"), report.by_status("failed")
    return library


@pytest.fixture(scope="session")
def tiny_random_clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A random-weight CLIP (transformers CLIPModel) saved with a tokenizer and image
    processor: real loading and plumbing, meaningless similarities."""
    import torch
    from transformers import AutoTokenizer, CLIPConfig, CLIPImageProcessor, CLIPModel

    from rag.core.models import resolve_model

    folder = tmp_path_factory.mktemp("tiny_random_clip")
    tokenizer = AutoTokenizer.from_pretrained(resolve_model("all-MiniLM-L6-v2"))
    text = dict(
        vocab_size=tokenizer.vocab_size, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
        num_attention_heads=2, max_position_embeddings=64, pad_token_id=tokenizer.pad_token_id,
        bos_token_id=tokenizer.cls_token_id, eos_token_id=tokenizer.sep_token_id,
    )
    vision = dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2,
                  image_size=32, patch_size=8)
    torch.manual_seed(0)
    CLIPModel(CLIPConfig(text_config=text, vision_config=vision, projection_dim=16)).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    CLIPImageProcessor(size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32}).save_pretrained(folder)
    return folder


@pytest.fixture(scope="session")
def answer_library(sample_library):
    """The sample library answering through a real embedded vLLM CPU server (SmolLM2-135M)."""
    from rag.core.config import EmbeddedConfig
    from rag.core.errors import ServerError
    from rag.generation.serving import vllm_python
    from rag.library import Library
    from tests.helpers import free_port

    try:
        vllm_python(sample_library.config.serve)
    except ServerError as exc:
        pytest.skip(f"vLLM CPU runtime not installed (make vllm): {exc}")
    config = sample_library.config.model_copy(update={"embedded": EmbeddedConfig(port=free_port())}, deep=True)
    library = Library(config)
    library.generator()
    yield library
    library.close()


@pytest.fixture(scope="session")
def chroma_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    """Starts `chroma run` from this venv; waits until it answers its heartbeat."""
    import subprocess
    import sys
    import time

    import chromadb

    from tests.helpers import free_port

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
