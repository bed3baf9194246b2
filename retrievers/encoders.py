"""Encoders: a sentence-transformers text bi-encoder and a CLIP-family visual encoder.

Each model is loaded once per process (several corpora share it) by its real loader from the
local folder that rag.core.models resolves. Vectors come out L2-normalised, as float32 numpy.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch

from rag.core.config import TextBackend
from rag.core.items import Query
from rag.core.models import ModelUnavailable, model_cache, resolve_model

if TYPE_CHECKING:
    from transformers.modeling_outputs import BaseModelOutputWithPooling

log = logging.getLogger(__name__)
LONG_TEXT_WORDS = 150  # window for long documents; MiniLM truncates at 256 word pieces


class TextEncoder:
    """Sentence-transformers bi-encoder (default all-MiniLM-L6-v2), run by torch or, with
    backend "onnx-int8", by ONNX Runtime from an int8 export made once from the same folder
    (retrievers.onnx_text: ~1.5x faster on a 2-core CPU, vectors within cosine ~0.99)."""

    def __init__(self, name: str, backend: TextBackend = "torch"):
        from sentence_transformers import SentenceTransformer

        # Another backend's vectors differ slightly: a query embedding the router made with
        # torch (Query.embeddings, keyed by this name) must not stand in for them.
        self.name = name if backend == "torch" else f"{name}@{backend}"
        self.model = SentenceTransformer(str(resolve_model(name)), device="cpu")
        dim = self.model.get_embedding_dimension()
        assert dim is not None, f"{name} does not report its embedding size"
        self.dim = dim
        self.onnx = None
        if backend == "onnx-int8":
            from retrievers.onnx_text import OnnxTextModel

            self.onnx = OnnxTextModel(resolve_model(name), model_cache() / "onnx", quantize=True)

    def encode(self, texts: Sequence[str], batch_size: int = 64) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        if self.onnx is not None:
            return self.onnx.encode(list(texts), batch_size)
        vectors = self.model.encode(
            list(texts), batch_size=batch_size, normalize_embeddings=True, convert_to_numpy=True
        )
        return vectors.astype(np.float32)

    def query_vector(self, query: Query) -> np.ndarray:
        """The query text's embedding: the one it carries for this encoder, else encoded now."""
        given = query.embeddings.get(self.name)
        return given if given is not None else self.encode([query.text])[0]

    def encode_long(self, texts: Sequence[str], batch_size: int = 64) -> np.ndarray:
        """Whole documents: mean of the embeddings of ~150-word windows, so no text is cut off."""
        windows, owner = [], []
        for n, text in enumerate(texts):
            words = text.split() or [""]
            for start in range(0, len(words), LONG_TEXT_WORDS):
                windows.append(" ".join(words[start : start + LONG_TEXT_WORDS]))
                owner.append(n)
        encoded = self.encode(windows, batch_size)
        pooled = np.zeros((len(texts), self.dim), dtype=np.float32)
        np.add.at(pooled, np.asarray(owner), encoded)
        return normalize(pooled)


class VisualEncoder:
    """CLIP-family dual encoder (transformers AutoModel: CLIP, SigLIP, ...) for images and text."""

    def __init__(self, name: str):
        from transformers import AutoImageProcessor, AutoModel, AutoTokenizer

        path = resolve_model(name)
        self.name = name
        self.model = AutoModel.from_pretrained(path).eval()
        self.tokenizer = AutoTokenizer.from_pretrained(path)
        self.processor = AutoImageProcessor.from_pretrained(path)
        self.dim = int(self.model.config.projection_dim)
        self.max_tokens = int(self.model.config.text_config.max_position_embeddings)

    @torch.inference_mode()
    def encode_images(self, paths: Sequence[Path], batch_size: int = 16) -> np.ndarray:
        from PIL import Image

        out = []
        for start in range(0, len(paths), batch_size):
            images = []
            for p in paths[start : start + batch_size]:
                with Image.open(p) as img:
                    images.append(img.convert("RGB"))
            pixels = self.processor(images=images, return_tensors="pt")
            out.append(_features(self.model.get_image_features(**pixels)))
        return normalize(np.concatenate(out)) if out else np.zeros((0, self.dim), np.float32)

    @torch.inference_mode()
    def encode_texts(self, texts: Sequence[str]) -> np.ndarray:
        tokens = self.tokenizer(
            list(texts), padding=True, truncation=True, max_length=self.max_tokens, return_tensors="pt"
        )
        return normalize(_features(self.model.get_text_features(**tokens)))


def _features(output: torch.Tensor | BaseModelOutputWithPooling) -> np.ndarray:
    """transformers 5 returns an output object from get_*_features; 4.x returned a tensor."""
    tensor = output if isinstance(output, torch.Tensor) else output.pooler_output
    assert tensor is not None, "get_*_features output without pooled features"
    return tensor.float().numpy()


def normalize(vectors: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length (zero rows stay zero)."""
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return (vectors / np.maximum(norms, 1e-12)).astype(np.float32)


@cache
def text_encoder(name: str, backend: TextBackend = "torch") -> TextEncoder:
    return TextEncoder(name, backend)


@cache
def visual_encoder(name: str | None) -> VisualEncoder | None:
    """The visual encoder, or None (with one clear warning) when its weights cannot be loaded."""
    if not name:
        return None
    try:
        return VisualEncoder(name)
    except (ModelUnavailable, OSError, ValueError) as exc:
        log.warning(
            "visual encoder %r unavailable (%s): image and video retrieval use their "
            "descriptors (captions, OCR, transcripts) only",
            name,
            exc,
        )
        return None
