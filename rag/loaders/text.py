"""Text loader: .txt/.md/.rst/.html/.pdf -> paragraph chunks and document sections.

Paragraphs are ~100-200 token chunks cut by llama-index's SentenceSplitter; a long document
is kept as sections of `section_tokens`, and each paragraph links to its section.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from rag.core.items import Granularity, Item, Span
from rag.loaders.context import LoadContext, LoadError, title_from

SUFFIXES = (".txt", ".md", ".markdown", ".rst", ".html", ".htm", ".pdf")


@dataclass
class ParsedText:
    title: str
    text: str
    page_starts: list[int]  # char offset where each page begins; [] for unpaged formats


def load(path: Path, granularities: set[Granularity], ctx: LoadContext) -> dict[Granularity, list[Item]]:
    parsed = parse(path)
    sections = _split(parsed.text, ctx.settings.section_tokens, 0)
    out: dict[Granularity, list[Item]] = {}
    if "document" in granularities:
        out["document"] = [
            _item(path, parsed, "document", i, start, end, None, ctx)
            for i, (start, end) in enumerate(sections)
        ]
    if "paragraph" in granularities:
        size, overlap = ctx.settings.chunk_tokens, ctx.settings.chunk_overlap
        chunks = [
            (start + a, start + b, ctx.item_id(path, "document", i))
            for i, (start, end) in enumerate(sections)
            for a, b in _split(parsed.text[start:end], size, overlap)
        ]
        out["paragraph"] = [
            _item(path, parsed, "paragraph", i, start, end, parent, ctx)
            for i, (start, end, parent) in enumerate(chunks)
        ]
    return out


def parse(path: Path) -> ParsedText:
    """Readable text of a file, or LoadError saying why there is none."""
    suffix = path.suffix.lower()
    if suffix == ".pdf":
        parsed = _parse_pdf(path)
    elif suffix in (".html", ".htm"):
        parsed = _parse_html(_decode(path))
    else:
        text = _decode(path)
        parsed = ParsedText(_first_line_title(text), text, [])
    if not parsed.text.strip():
        raise LoadError("no text in file")
    parsed.title = parsed.title or title_from(path)
    return parsed


def _decode(path: Path) -> str:
    data = path.read_bytes()
    if not data:
        raise LoadError("empty file (0 bytes)")
    if b"\0" in data[:8192] and not data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise LoadError("binary content, not text")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    from charset_normalizer import from_bytes

    matches = list(from_bytes(data))
    if not matches:
        raise LoadError("not valid text in any known encoding")
    # Short Western text fits several code pages equally well; prefer the common one.
    western = [m for m in matches if m.encoding in ("cp1252", "latin_1") and m.chaos <= matches[0].chaos + 0.01]
    return str((western or matches)[0])


def _parse_html(markup: str) -> ParsedText:
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(markup, "html.parser")
    for tag in soup(["script", "style", "noscript", "template"]):
        tag.decompose()
    title = soup.title.get_text(" ", strip=True) if soup.title else ""
    if soup.title:
        soup.title.decompose()  # metadata, not body text: kept as the title only
    lines = (line.strip() for line in soup.get_text("\n").splitlines())
    return ParsedText(title, "\n".join(line for line in lines if line), [])


def _parse_pdf(path: Path) -> ParsedText:
    import pymupdf

    try:
        doc = pymupdf.open(path)
    except Exception as exc:
        raise LoadError(f"cannot open PDF: {exc}") from exc
    with doc:
        if doc.needs_pass:
            raise LoadError("PDF is encrypted (password protected)")
        pages, starts, offset = [], [], 0
        for page in doc.pages():
            starts.append(offset)
            text = page.get_text().strip()
            pages.append(text)
            offset += len(text) + 2
        title = (doc.metadata or {}).get("title") or ""
    text = "\n\n".join(pages)
    if not text.strip():
        raise LoadError("PDF has no extractable text (a scan? PDF OCR is not supported)")
    return ParsedText(title.strip() or _first_line_title(text), text, starts)


@cache
def _splitter(chunk_tokens: int, overlap: int):
    from llama_index.core.node_parser import SentenceSplitter

    return SentenceSplitter(chunk_size=chunk_tokens, chunk_overlap=overlap)


def _split(text: str, chunk_tokens: int, overlap: int) -> list[tuple[int, int]]:
    """(start, end) char ranges of chunks of about `chunk_tokens` tokens."""
    from llama_index.core import Document

    nodes = _splitter(chunk_tokens, overlap).get_nodes_from_documents([Document(text=text)])
    spans = []
    for node in nodes:
        start = node.start_char_idx if node.start_char_idx is not None else text.find(node.text)
        if start is None or start < 0:
            continue
        spans.append((start, start + len(node.text)))
    return spans or [(0, len(text))]


def _item(
    path: Path,
    parsed: ParsedText,
    granularity: Granularity,
    index: int,
    start: int,
    end: int,
    parent: str | None,
    ctx: LoadContext,
) -> Item:
    page = page_end = None
    if parsed.page_starts:
        page = bisect.bisect_right(parsed.page_starts, start)
        page_end = bisect.bisect_right(parsed.page_starts, max(start, end - 1))
    return Item(
        id=ctx.item_id(path, granularity, index),
        source=str(path),
        modality="text",
        granularity=granularity,
        text=parsed.text[start:end],
        span=Span(page=page, page_end=page_end, char_start=start, char_end=end),
        title=parsed.title,
        parent_id=parent,
    )


def _first_line_title(text: str) -> str:
    for line in text.splitlines():
        line = line.strip().strip("#=*-_ ").strip()
        if line:
            return line if len(line) <= 100 and not line.startswith("..") else ""
    return ""
