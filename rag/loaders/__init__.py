"""File loaders: each turns one file into Items for the granularities asked of it.

Every loader module has the same shape: `SUFFIXES` and
`load(path, granularities, ctx) -> dict[Granularity, list[Item]]`; it parses the file once
and derives every requested granularity from that parse. A file that cannot be read raises
LoadError with a reason a user can act on.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

from rag.config import IngestConfig
from rag.items import Granularity, Modality


class LoadError(Exception):
    """A file could not be turned into items; the message says why."""


@dataclass
class LoadContext:
    """What a loader needs beyond the file: settings, where to put frames, the file's hash."""

    settings: IngestConfig
    frames_dir: Path
    sha: str
    notes: list[str] = field(default_factory=list)

    def item_id(self, source: Path, granularity: Granularity, index: int) -> str:
        """Stable id: the same file content at the same path always gets the same ids."""
        key = f"{source}\0{self.sha}\0{granularity}\0{index}"
        return hashlib.sha1(key.encode()).hexdigest()[:24]


def file_sha(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def modality_of(path: Path) -> Modality | None:
    """The modality a file belongs to by its suffix, or None for files we do not ingest."""
    from rag.loaders import image, text, video

    name = path.name.lower()
    if name.endswith(image.SIDECAR_SUFFIXES):
        return None
    for modality, module in (("text", text), ("image", image), ("video", video)):
        if path.suffix.lower() in module.SUFFIXES:
            return modality  # type: ignore[return-value]
    return None
