"""Files arriving from a browser: checked, then saved inside one folder and nowhere else.

A name is reduced to its last component (browsers and hostile clients may send `../../x` or
`C:\\x`), must have a type some loader reads, and the data must fit `ingest.max_upload_mb`.
"""

from __future__ import annotations

import re
from pathlib import Path

from rag.core.errors import MmragError
from rag.loaders import image, modality_of, text, video

ACCEPTED = (*text.SUFFIXES, *image.SUFFIXES, *video.SUFFIXES)


class UploadRefused(MmragError, ValueError):
    """An upload that was not saved, with the reason."""


def safe_name(name: str) -> str:
    """The upload's file name without any directory part, leading dots or control characters."""
    last = re.split(r"[\\/]", name)[-1]
    cleaned = re.sub(r"[\x00-\x1f]", "", last).lstrip(". ").strip()
    if not cleaned:
        raise UploadRefused(f"{name!r}: not a usable file name")
    return cleaned[:200]


def save_upload(name: str, data: bytes, folder: Path, max_mb: float) -> Path:
    """Saves one upload under `folder` (never outside it, never over another file)."""
    clean = safe_name(name)
    if modality_of(Path(clean)) is None:
        raise UploadRefused(f"{clean}: unknown file type; accepted: {' '.join(ACCEPTED)}")
    if len(data) > max_mb * 1024 * 1024:
        raise UploadRefused(f"{clean}: {len(data) / 1024 / 1024:.1f} MB is over the upload limit of {max_mb:g} MB (ingest.max_upload_mb)")
    folder.mkdir(parents=True, exist_ok=True)
    root = folder.resolve()
    path = root / clean
    for n in range(1, 1000):
        if not path.exists():
            break
        path = root / f"{Path(clean).stem}-{n}{Path(clean).suffix}"
    if path.parent != root:
        raise UploadRefused(f"{name!r}: would be written outside {root}")
    path.write_bytes(data)
    return path
