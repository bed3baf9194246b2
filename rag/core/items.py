"""The typed records that flow through ingestion and search: items, spans, queries, hits."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np

Modality = Literal["text", "image", "video"]
Granularity = Literal["paragraph", "document", "image", "clip", "video"]


@dataclass(frozen=True)
class Span:
    """Where in its source an item lives: pages, characters, or seconds."""

    page: int | None = None
    page_end: int | None = None
    char_start: int | None = None
    char_end: int | None = None
    start_s: float | None = None
    end_s: float | None = None

    def __str__(self) -> str:
        parts = []
        if self.page is not None:
            end = f"-{self.page_end}" if self.page_end not in (None, self.page) else ""
            parts.append(f"p.{self.page}{end}")
        if self.char_start is not None:
            parts.append(f"chars {self.char_start}-{self.char_end}")
        if self.start_s is not None:
            parts.append(f"{clock(self.start_s)}-{clock(self.end_s or self.start_s)}")
        return ", ".join(parts) or "whole"

    def to_metadata(self) -> dict[str, int | float]:
        return {k: v for k, v in self.__dict__.items() if v is not None}

    @classmethod
    def from_metadata(cls, meta: Mapping[str, Any]) -> Span:
        return cls(**{k: meta[k] for k in cls.__dataclass_fields__ if k in meta})


def clock(seconds: float) -> str:
    minutes, secs = divmod(seconds, 60)
    return f"{int(minutes):d}:{secs:04.1f}"


@dataclass
class Item:
    """One retrievable unit: a paragraph, a document section, an image, a clip or a video.

    `text` is what the text encoder sees (chunk text, or an image/clip's descriptors);
    `frames` are the pictures the visual encoder sees (image files or sampled video frames).
    """

    id: str
    source: str
    modality: Modality
    granularity: Granularity
    text: str
    span: Span = field(default_factory=Span)
    title: str = ""
    parent_id: str | None = None
    frames: list[Path] = field(default_factory=list)
    metadata: dict[str, str | int | float | bool] = field(default_factory=dict)


@dataclass(frozen=True)
class Query:
    """A search request: text, an image, or both. `embeddings` may carry the text's
    embedding by encoder name (computed once, e.g. by the router) so that every corpus using
    that encoder searches with it instead of encoding the text again."""

    text: str = ""
    image: Path | None = None
    embeddings: Mapping[str, np.ndarray] = field(default_factory=dict, compare=False)

    def __post_init__(self) -> None:
        if not self.text.strip() and self.image is None:
            raise ValueError("a query needs text or an image")


@dataclass(frozen=True)
class Hit:
    """A ranked search result: the item's stored fields plus its score in one corpus."""

    id: str
    corpus: str
    score: float
    source: str
    modality: Modality
    granularity: Granularity
    text: str
    span: Span
    title: str = ""
    parent_id: str | None = None
    frames: tuple[str, ...] = ()

    def snippet(self, width: int = 160) -> str:
        flat = " ".join(self.text.split())
        return flat if len(flat) <= width else flat[: width - 1] + "…"

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready fields (a saved conversation keeps its cited hits)."""
        return {**self.__dict__, "span": self.span.to_metadata(), "frames": list(self.frames)}

    @classmethod
    def from_dict(cls, row: Mapping[str, Any]) -> Hit:
        return cls(**{**row, "span": Span.from_metadata(row.get("span", {})), "frames": tuple(row.get("frames", ()))})
