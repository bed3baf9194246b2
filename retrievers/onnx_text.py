"""An ONNX Runtime copy of the sentence-transformers text encoder (MiniLM by default).

The transformer is exported once with torch.onnx.export (optionally int8-quantised) into a
cache folder; encoding then tokenises, runs the ONNX graph and mean-pools exactly as
sentence-transformers does, so its vectors can stand in for TextEncoder's.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import os
import tempfile
from pathlib import Path

import numpy as np

INPUTS = ("input_ids", "attention_mask", "token_type_ids")
OPSET = 17


def export(model_dir: Path, out: Path, quantize: bool) -> Path:
    """Write model_dir's transformer as ONNX to `out` (int8 weights if quantize), atomically."""
    import torch
    from transformers import AutoModel, AutoTokenizer

    # Eager attention: the plain graph exports and runs everywhere (no SDPA/vmap mask tricks).
    model = AutoModel.from_pretrained(model_dir, attn_implementation="eager").eval()
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    accepted = inspect.signature(model.forward).parameters
    names = [n for n in INPUTS if n in accepted]
    sample = tokenizer(
        ["an example sentence", "and a second, longer one"], padding=True, return_tensors="pt"
    )
    args = tuple(sample[n] for n in names)

    class LastHiddenState(torch.nn.Module):
        """Positional inputs in, last_hidden_state out: the graph's one output."""

        def __init__(self, inner: torch.nn.Module):
            super().__init__()
            self.inner = inner

        def forward(self, *inputs: torch.Tensor) -> torch.Tensor:
            kwargs = dict(zip(names, inputs, strict=True))
            return self.inner(**kwargs, return_dict=True).last_hidden_state

    axes = {n: {0: "batch", 1: "sequence"} for n in names}
    axes["last_hidden_state"] = {0: "batch", 1: "sequence"}

    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=out.parent, prefix=".export-") as tmp:
        fp32 = Path(tmp) / "model.onnx"
        with torch.no_grad():
            # Legacy exporter: the dynamo one needs onnxscript, which is not a dependency.
            torch.onnx.export(
                LastHiddenState(model),
                args,
                str(fp32),
                input_names=names,
                output_names=["last_hidden_state"],
                dynamic_axes=axes,
                opset_version=OPSET,
                do_constant_folding=True,
                dynamo=False,
            )
        result = fp32
        if quantize:
            from onnxruntime.quantization import QuantType, quantize_dynamic

            result = Path(tmp) / "model.int8.onnx"
            # Per-channel scales: one scale per weight matrix gave cosine ~0.95 (min 0.83) to
            # the fp32 vectors for MiniLM on an AVX2 CPU; per channel keeps it ~0.99.
            quantize_dynamic(fp32, result, weight_type=QuantType.QInt8, per_channel=True)
        os.replace(result, out)  # same folder, so the rename is atomic
    return out


class OnnxTextModel:
    """Sentence-transformers-compatible encoder (mean pooling, unit vectors) on ONNX Runtime."""

    def __init__(self, model_dir: Path, cache_dir: Path, quantize: bool = True):
        import onnxruntime as ort
        from transformers import AutoTokenizer

        model_dir = Path(model_dir)
        self.path = cache_path(model_dir, Path(cache_dir), quantize)
        if not self.path.exists():
            export(model_dir, self.path, quantize)
        options = ort.SessionOptions()
        options.intra_op_num_threads = os.cpu_count() or 1
        self.session = ort.InferenceSession(
            str(self.path), options, providers=["CPUExecutionProvider"]
        )
        self.input_names = [i.name for i in self.session.get_inputs()]
        self.tokenizer = AutoTokenizer.from_pretrained(model_dir)
        self.max_length = _max_seq_length(model_dir)
        self.dim = int(self.session.get_outputs()[0].shape[-1])

    def encode(self, texts: list[str], batch_size: int = 64) -> np.ndarray:
        """L2-normalised mean-pooled float32 vectors, batched longest-first like s-t."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        order = np.argsort([-len(t) for t in texts], kind="stable")
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        for start in range(0, len(texts), batch_size):
            chunk = order[start : start + batch_size]
            out[chunk] = self._encode_batch([texts[i] for i in chunk])
        return out

    def _encode_batch(self, texts: list[str]) -> np.ndarray:
        """One padded batch through the graph, then masked mean and unit length."""
        tokens = self.tokenizer(
            texts,
            padding=True,
            truncation="longest_first",
            max_length=self.max_length,
            return_tensors="np",
        )
        feed = {n: tokens[n].astype(np.int64) for n in self.input_names}
        (hidden,) = self.session.run(["last_hidden_state"], feed)
        mask = tokens["attention_mask"][..., None].astype(np.float32)
        pooled = (hidden * mask).sum(axis=1) / np.maximum(mask.sum(axis=1), 1e-9)
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        return (pooled / np.maximum(norms, 1e-12)).astype(np.float32)


def cache_path(model_dir: Path, cache_dir: Path, quantize: bool) -> Path:
    """Where OnnxTextModel keeps the export: folder name (for people) + digest of its path."""
    # The digest keeps two folders named alike (the packaged MiniLM's is "model") apart.
    digest = hashlib.sha1(str(model_dir.resolve()).encode()).hexdigest()[:8]
    return cache_dir / f"{model_dir.name}-{digest}.{'int8' if quantize else 'fp32'}.onnx"


def _max_seq_length(model_dir: Path) -> int:
    """The truncation length sentence-transformers uses (sentence_bert_config.json, else 256)."""
    config = model_dir / "sentence_bert_config.json"
    if config.exists():
        return int(json.loads(config.read_text(encoding="utf-8")).get("max_seq_length", 256))
    return 256
