"""Chat messages for the answer model: numbered evidence, images as data URLs, clips as
time-stamped frames, within a budget of images and bytes.

A text-only model gets the descriptors (caption, OCR, transcript) of images and clips
instead of their pixels.
"""

from __future__ import annotations

import base64
import io
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from PIL import Image

from rag.core.config import GeneratorConfig
from rag.core.items import Hit, Span, clock
from rag.core.prompts import prompt

Message = dict[str, Any]
Exchange = tuple[str, str]  # an earlier turn of the conversation: (question, answer)
CITATION = re.compile(r"\[(\d+(?:\s*[,;]\s*\d+)*)\]")  # [1], [1, 2], [1;3]: the model's markers
KIND = {"paragraph": "text passage", "document": "document", "image": "image", "clip": "video clip", "video": "video"}


@dataclass
class ImageBudget:
    """How many images, and how many bytes of them, one prompt may still carry."""

    images: int
    bytes: int
    notes: list[str] = field(default_factory=list)

    def take(self, data_url: str, label: str) -> bool:
        if self.images <= 0 or len(data_url) > self.bytes:
            self.notes.append(f"{label} left out: the prompt's image budget is used up")
            return False
        self.images -= 1
        self.bytes -= len(data_url)
        return True


def build_messages(
    question: str,
    evidence: list[Hit],
    settings: GeneratorConfig,
    vision: bool,
    texts: list[str] | None = None,
    history: Sequence[Exchange] = (),
) -> tuple[list[Message], list[str]]:
    """System, earlier turns (`history_messages`) and the user message for `question` over
    numbered `evidence` (shown as `texts` when given, e.g. compressed), and notes on what
    was left out."""
    budget = ImageBudget(settings.max_images if vision else 0, settings.max_image_bytes)
    parts: list[dict[str, Any]] = []
    for n, hit in enumerate(evidence, start=1):
        parts.extend(evidence_parts(n, hit, texts[n - 1] if texts else hit.text, settings, vision, budget))
    if not evidence:
        parts.append({"type": "text", "text": "(no evidence was found)"})
    head, tail = prompt("rag.generation", "answer_user").split("{evidence}")
    content = [{"type": "text", "text": head}] if head.strip() else []
    content += [*parts, {"type": "text", "text": tail.format(question=question)}]
    system = {"role": "system", "content": prompt("rag.generation", "answer_system")}
    turns = history_messages(history, settings.history_tokens)
    return [system, *turns, {"role": "user", "content": merge_text(content)}], budget.notes


def history_messages(history: Sequence[Exchange], budget_tokens: int) -> list[Message]:
    """Earlier turns as user/assistant messages, newest kept first within `budget_tokens`
    (estimated at four characters a token; the oldest turns are dropped). Their citation
    marks are removed: [n] in this turn's answer means this turn's evidence only."""
    kept: list[Message] = []
    left = budget_tokens * 4
    for question, answer in reversed(history):
        answer = " ".join(CITATION.sub("", answer).split())
        left -= len(question) + len(answer)
        if left < 0:
            break
        kept[:0] = [{"role": "user", "content": question}, {"role": "assistant", "content": answer}]
    return kept


def evidence_parts(
    n: int, hit: Hit, text: str, settings: GeneratorConfig, vision: bool, budget: ImageBudget
) -> list[dict[str, Any]]:
    """Evidence [n] as message parts: its text block, then (vision) its image, clip frames or
    the page it is on."""
    if len(text) > settings.max_evidence_chars:
        text = text[: settings.max_evidence_chars] + " …"
    block = prompt("rag.generation", "evidence_block").format(
        n=n, kind=KIND[hit.granularity], source=Path(hit.source).name, where=str(hit.span), text=text
    )
    parts: list[dict[str, Any]] = [{"type": "text", "text": block}]
    if not vision:
        return parts
    frames = [Path(f) for f in hit.frames]
    if hit.modality == "video":
        frames = _spread(frames, settings.frames_sent_per_clip)
    for frame in frames:
        label = {
            "video": f"[{n}] frame at {clock(frame_seconds(frame, hit.span))}",
            "text": f"[{n}] page {hit.span.page}",  # the rendered page a paragraph is on
        }.get(hit.modality, f"[{n}] image")
        url = data_url(frame, settings.sent_image_side)
        if url and budget.take(url, label):
            parts += [{"type": "text", "text": label}, {"type": "image_url", "image_url": {"url": url}}]
    return parts


def _spread(frames: list[Path], most: int) -> list[Path]:
    """Up to `most` frames, the middle one of each of `most` equal runs. Not the loader's
    `spread` (first to last, distinct): a different choice, pinned by tests and eval runs."""
    if len(frames) <= most:
        return frames
    step = len(frames) / most
    return [frames[int(i * step + step / 2)] for i in range(most)]


def frame_seconds(frame: Path, span: Span) -> float:
    """A sampled frame's time: the video loader names frames by their second."""
    try:
        return float(frame.stem)
    except ValueError:
        return span.start_s or 0.0


def description_messages(picture: Path, settings: GeneratorConfig) -> list[Message]:
    """The request for a short factual description of one picture (rag.library.describe)."""
    url = data_url(picture, settings.sent_image_side)
    if url is None:
        raise OSError(f"cannot read the picture {picture}")
    content = [{"type": "image_url", "image_url": {"url": url}}, {"type": "text", "text": prompt("rag.generation", "describe_image")}]
    return [{"role": "user", "content": content}]


def data_url(path: Path, max_side: int) -> str | None:
    """The image as a base64 JPEG data URL, downscaled to max_side; None if unreadable."""
    try:
        with Image.open(path) as opened:
            img = opened.convert("RGB")
            img.thumbnail((max_side, max_side))
            buffer = io.BytesIO()
            img.save(buffer, "JPEG", quality=85)
    except OSError:
        return None
    return "data:image/jpeg;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def evidence_text(hits: Sequence[Hit], limit: int) -> str:
    """Numbered evidence as plain text (source file name, text cut at `limit` characters), for
    the short judging and rewriting prompts that need no images."""
    return "\n".join(
        f'<evidence id="{n}" source="{Path(h.source).name}">\n{h.text[:limit]}\n</evidence>'
        for n, h in enumerate(hits, start=1)
    )


def merge_text(parts: list[dict[str, Any]]) -> list[dict[str, Any]] | str:
    """Adjacent text parts joined; a prompt with no images becomes one plain string, which
    every OpenAI-compatible server (and every chat template) accepts."""
    merged: list[dict[str, Any]] = []
    for part in parts:
        if part["type"] == "text" and merged and merged[-1]["type"] == "text":
            merged[-1] = {"type": "text", "text": merged[-1]["text"] + "\n" + part["text"]}
        else:
            merged.append(part)
    if all(p["type"] == "text" for p in merged):
        return "\n".join(p["text"] for p in merged)
    return merged
