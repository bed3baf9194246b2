"""File loaders: each turns one file into Items for the granularities asked of it.

Every loader module has the same shape: `SUFFIXES` and
`load(path, granularities, ctx) -> dict[Granularity, list[Item]]`; it parses the file once
and derives every requested granularity from that parse. A file that cannot be read raises
LoadError with a reason a user can act on.
"""

from __future__ import annotations

from pathlib import Path
from types import ModuleType

from rag.core.config import GRANULARITIES
from rag.core.items import Granularity, Modality
from rag.loaders import image, text, video
from rag.loaders.context import LoadContext, LoadError, content_sha

LOADERS: dict[Modality, ModuleType] = {"text": text, "image": image, "video": video}


def modality_of(path: Path) -> Modality | None:
    """The modality a file belongs to by its suffix, or None for files we do not ingest."""
    if path.name.lower().endswith(image.SIDECAR_SUFFIXES):
        return None
    suffix = path.suffix.lower()
    return next((m for m, module in LOADERS.items() if suffix in module.SUFFIXES), None)


def granularities_of(path: Path) -> tuple[Granularity, ...]:
    """The granularities a file's items can have: its modality's, and images for the
    documents that hold pictures (PDF pages and figures, pictures in Office files)."""
    modality = modality_of(path)
    if modality is None:
        return ()
    extra: tuple[Granularity, ...] = ("image",) if path.suffix.lower() in text.PICTURED else ()
    return GRANULARITIES[modality] + extra


def file_sha(path: Path) -> str:
    """Hash of the file and of its sidecars (an edited caption re-ingests its image)."""
    return content_sha(path, *image.sidecars(path))


__all__ = ["LOADERS", "LoadContext", "LoadError", "file_sha", "granularities_of", "modality_of"]
