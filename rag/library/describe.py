"""Descriptions written by the vision model at ingest (Vision-Free Retrieval's text path):
each image, rendered page, figure and clip keyframe gets a short factual description, kept
as a descriptor of its item and searched with the others.

Cached by the picture's content hash and the model's name, so a re-ingest never asks twice;
at most `describe_concurrency` requests are in flight. A failed request leaves the item
ingested without a description (marked, so `mmrag ingest --describe` can fill it in later);
once the server is unreachable the ingest stops asking.
"""

from __future__ import annotations

import hashlib
import logging
import sqlite3
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from rag.core.config import Config
from rag.core.errors import GeneratorError, GeneratorUnavailable
from rag.core.items import Item
from rag.core.store import DESCRIBED
from rag.generation.generator import Generator
from rag.generation.messages import description_messages

log = logging.getLogger(__name__)
DESCRIPTION_CHARS = 600


def describable(item: Item) -> bool:
    """Pictures (images, pages, figures) and clips: the items a description is written for."""
    return item.granularity in ("image", "clip") and bool(item.frames)


def off_reason(config: Config, asked: bool = False) -> str:
    """Why descriptions are off for this configuration ('' when they are on); `asked` (the
    `--describe` flag) turns them on whatever `[ingest] describe` says."""
    mode, generator = config.ingest.describe, config.generator
    if mode == "off" and not asked:
        return "off in the configuration ([ingest] describe)"
    if not generator.base_url or not generator.vision:
        return (
            "the answer model is not a served vision model (the embedded model reads text only); "
            "set [generator] base_url to a vision model's server"
        )
    return ""


class DescriptionCache:
    """Descriptions by (picture hash, model), in one SQLite file shared by every ingest."""

    def __init__(self, path: Path):
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, check_same_thread=False)
        self._db.execute("CREATE TABLE IF NOT EXISTS descriptions (key TEXT PRIMARY KEY, text TEXT NOT NULL)")
        self._lock = threading.Lock()

    def get(self, key: str) -> str | None:
        with self._lock:
            row = self._db.execute("SELECT text FROM descriptions WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    def put(self, key: str, text: str) -> None:
        with self._lock, self._db:
            self._db.execute("INSERT OR REPLACE INTO descriptions VALUES (?, ?)", (key, text))

    def close(self) -> None:
        self._db.close()


class Describer:
    """Writes the descriptions of a batch of items, `concurrency` requests at a time.
    `progress(done, total)` follows every item it was given to describe."""

    def __init__(
        self,
        generator: Generator,
        cache: DescriptionCache,
        concurrency: int,
        max_tokens: int,
        progress: Callable[[int, int], None] | None = None,
    ):
        self.generator, self.cache = generator, cache
        self.concurrency, self.max_tokens = concurrency, max_tokens
        self.progress = progress
        self.down = ""  # why the server stopped answering, once it has
        self.done = self.total = 0

    def fill(self, items: Sequence[Item]) -> dict[str, str]:
        """Describes the items that need it, in place; returns why it failed, by item id."""
        todo = [i for i in items if describable(i) and not i.metadata.get(DESCRIBED)]
        for item in todo:
            item.metadata[DESCRIBED] = False
        self.total += len(todo)
        with ThreadPoolExecutor(self.concurrency, thread_name_prefix="describe") as pool:
            outcomes = list(pool.map(self._describe, todo))
        return {item.id: error for item, error in zip(todo, outcomes, strict=True) if error}

    def _describe(self, item: Item) -> str:
        """Describes one item; returns '' or why it could not."""
        try:
            if self.down:
                return self.down
            picture = keyframe(item)
            key = hashlib.sha256(picture.read_bytes() + self.generator.model.encode()).hexdigest()
            text = self.cache.get(key)
            if text is None:
                reply = self.generator.complete(
                    description_messages(picture, self.generator.settings), max_tokens=self.max_tokens, temperature=0.0
                )
                text = " ".join(reply.split())[:DESCRIPTION_CHARS]
                if not text:
                    return "the model wrote an empty description"
                self.cache.put(key, text)
            item.metadata.update({DESCRIBED: True, "description": text})
            item.text = f"{item.text}. Description: {text}" if item.text else f"Description: {text}"
            return ""
        except GeneratorUnavailable as exc:
            self.down = f"the vision model's server is unreachable ({exc})"
            return self.down
        except (GeneratorError, OSError) as exc:
            log.debug("description of %s failed", item.id, exc_info=True)
            return str(exc)
        finally:
            self.done += 1
            if self.progress is not None:
                self.progress(self.done, self.total)


def keyframe(item: Item) -> Path:
    """The picture a description is written for: the image, or a clip's middle frame."""
    return Path(item.frames[len(item.frames) // 2])


def failure_note(failures: Sequence[str]) -> str:
    """One line for a file's failed descriptions."""
    count = len(failures)
    return f"description failed for {count} picture{'s' if count > 1 else ''} (the items are kept without one): {failures[0]}"
