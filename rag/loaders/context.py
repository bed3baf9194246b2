"""What every loader shares: the error a bad file raises, the context a load runs in, and how
a file is titled and hashed."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image

from rag.core.config import IngestConfig
from rag.core.items import Granularity


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

    def save_image(self, image: Image.Image, name: str) -> Path:
        """Stores a picture taken from the file (downscaled JPEG) in the file's frame folder."""
        stored = self.frames_dir / self.sha[:16] / f"{name}.jpg"
        stored.parent.mkdir(parents=True, exist_ok=True)
        image = image.convert("RGB")
        image.thumbnail((self.settings.stored_image_side, self.settings.stored_image_side))
        image.save(stored, "JPEG", quality=90)
        return stored


def title_from(path: Path) -> str:
    """A readable title from a file name, `lava_flow-2.mp4` -> `lava flow 2` (the whole name
    when the stem is only separators): every loader titles its items this way."""
    return re.sub(r"[_\-]+", " ", path.stem).strip() or path.name


def content_sha(*paths: Path) -> str:
    """SHA-256 of the files' bytes in order (a file and its sidecars hash as one)."""
    digest = hashlib.sha256()
    for path in paths:
        with path.open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()
