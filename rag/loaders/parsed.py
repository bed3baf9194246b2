"""What a document parser hands the text loader: the document's text with where its pages
begin, the parts of it kept whole (tables, slides), and its pictures (rendered pages,
embedded figures) already saved as files."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

CAPTION = re.compile(r"^\s*(fig(ure)?|chart|graph|diagram|table|plate|exhibit|photo|image)\b\.?\s*\d*", re.I)
CAPTION_CHARS = 300


@dataclass(frozen=True)
class Block:
    """Characters [start, end) of the text kept as one paragraph item (a table, a slide);
    when too long it is split by lines, its first `header` lines repeated in each part."""

    start: int
    end: int
    header: int


@dataclass(frozen=True)
class Picture:
    """A picture taken from a document, saved at `path`: a rendered page or an embedded
    figure, with the text that says what it shows (captions, a page's opening lines)."""

    path: Path
    kind: Literal["page", "figure"]
    page: int | None
    caption: str


@dataclass
class ParsedText:
    title: str
    text: str
    page_starts: list[int] = field(default_factory=list)  # where each page begins; [] when unpaged
    blocks: list[Block] = field(default_factory=list)
    pictures: list[Picture] = field(default_factory=list)  # items for the image corpus
    page_images: dict[int, Path] = field(default_factory=dict)  # page -> its rendering
    notes: list[str] = field(default_factory=list)


class Builder:
    """Assembles a document's text piece by piece, keeping the offsets of pages and blocks."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.size = 0
        self.page_starts: list[int] = []
        self.blocks: list[Block] = []

    def new_page(self) -> None:
        self.page_starts.append(self.size)

    def add(self, text: str, header: int | None = None) -> None:
        """Appends a paragraph run; with `header`, a block kept whole (see Block)."""
        text = text.strip()
        if not text:
            return
        if self.parts:
            self.parts.append("\n\n")
            self.size += 2
        if header is not None:
            self.blocks.append(Block(self.size, self.size + len(text), header))
        self.parts.append(text)
        self.size += len(text)

    def parsed(self, title: str) -> ParsedText:
        return ParsedText(title, "".join(self.parts), self.page_starts, self.blocks)


def markdown_table(rows: Sequence[Sequence[str | None]]) -> str:
    """Rows of cells (the first is the header) as a Markdown table; empty rows dropped."""
    cells = [[" ".join((c or "").split()).replace("|", "\\|") for c in row] for row in rows]
    cells = [row for row in cells if any(row)]
    if not cells:
        return ""
    width = max(len(row) for row in cells)
    lines = ["| " + " | ".join(row + [""] * (width - len(row))) + " |" for row in cells]
    lines.insert(1, "|" + " --- |" * width)
    return "\n".join(lines)


def table_text(rows: Sequence[Sequence[str | None]], caption: str, builder: Builder) -> str:
    """Adds a table as a block: its caption line (if any), the header row and the rows;
    returns what it added."""
    table = markdown_table(rows)
    text = f"{caption}\n{table}" if caption and table else table
    builder.add(text, header=3 if caption else 2)
    return text


def split_block(text: str, header: int, budget: int) -> list[str]:
    """The block as parts of at most about `budget` characters, split between lines, each
    part starting with the block's header lines."""
    if len(text) <= budget:
        return [text]
    lines = text.splitlines()
    head, body = lines[:header], lines[header:]
    parts: list[list[str]] = [[]]
    room = budget - sum(len(line) + 1 for line in head)
    used = 0
    for line in body:
        if parts[-1] and used + len(line) + 1 > room:
            parts.append([])
            used = 0
        parts[-1].append(line)
        used += len(line) + 1
    return ["\n".join(head + part) for part in parts if part]


def caption_of(text: str) -> str:
    """A caption's text on one line, cut to CAPTION_CHARS."""
    flat = " ".join(text.split())
    return flat if len(flat) <= CAPTION_CHARS else flat[: CAPTION_CHARS - 1] + "…"
