"""Text loader: .txt/.md/.rst/.html/.pdf/.docx/.pptx/.xlsx -> paragraph chunks, document sections,
and (from PDFs and Office files) the pictures in them as image items.

Paragraphs are ~100-200 token chunks cut by llama-index's SentenceSplitter, except tables
and slides (`Block`s), which are kept whole, or split by rows with their header repeated;
a long document is kept as sections of `section_tokens`, and each paragraph links to its
section. Paragraphs never cross a page break, so each cites one page. A paragraph from a PDF page carries the page's rendering as its frame (shown with
its citation, and sent to a vision model).
"""

from __future__ import annotations

import bisect
import itertools
from functools import cache
from pathlib import Path

from rag.core.items import Granularity, Item, Span
from rag.loaders.context import LoadContext, LoadError, title_from
from rag.loaders.office import parse_docx, parse_pptx, parse_xlsx
from rag.loaders.parsed import Builder, ParsedText, Picture, split_block, table_text
from rag.loaders.pdf import parse_pdf

SUFFIXES = (".txt", ".md", ".markdown", ".rst", ".html", ".htm", ".pdf", ".docx", ".pptx", ".xlsx")
PICTURED = (".pdf", ".docx", ".pptx")  # files that can hold image items too
BLOCK_CHARS_PER_TOKEN = 5  # a block's part holds up to chunk_tokens * this many characters
TABLE_MARK = "\0table "  # where an HTML table stood, while the page is flattened to text


def load(path: Path, granularities: set[Granularity], ctx: LoadContext) -> dict[Granularity, list[Item]]:
    parsed = parse(path, ctx)
    ctx.notes.extend(parsed.notes)
    sections = _fit(_split(parsed.text, ctx.settings.section_tokens, 0), parsed)
    out: dict[Granularity, list[Item]] = {}
    if "document" in granularities:
        out["document"] = [
            _item(path, parsed, "document", i, start, end, None, ctx)
            for i, (start, end) in enumerate(sections)
        ]
    if "paragraph" in granularities:
        pieces = [
            (start, end, text, ctx.item_id(path, "document", i))
            for i, section in enumerate(sections)
            for start, end, text in _pieces(parsed, section, ctx)
        ]
        out["paragraph"] = [
            _item(path, parsed, "paragraph", i, start, end, parent, ctx, text)
            for i, (start, end, text, parent) in enumerate(pieces)
        ]
    if "image" in granularities:
        out["image"] = [_picture_item(path, parsed, i, picture, ctx) for i, picture in enumerate(parsed.pictures)]
    return out


def parse(path: Path, ctx: LoadContext) -> ParsedText:
    """Readable text of a file (with its tables and pictures), or LoadError saying why there is none."""
    suffix = path.suffix.lower()
    if suffix == ".pdf":
        parsed = parse_pdf(path, ctx)
    elif suffix == ".docx":
        parsed = parse_docx(path, ctx)
    elif suffix == ".pptx":
        parsed = parse_pptx(path, ctx)
    elif suffix == ".xlsx":
        parsed = parse_xlsx(path, ctx)
    elif suffix in (".html", ".htm"):
        parsed = _parse_html(_decode(path))
    else:
        parsed = ParsedText("", _decode(path))
    if not parsed.text.strip():
        raise LoadError("no text in file")
    parsed.title = parsed.title or _first_line_title(parsed.text) or title_from(path)
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
    """The page's text; its data tables (those holding no other table) as Markdown blocks."""
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(markup.replace("\0", ""), "html.parser")
    for tag in soup(["script", "style", "noscript", "template"]):
        tag.decompose()
    title = soup.title.get_text(" ", strip=True) if soup.title else ""
    if soup.title:
        soup.title.decompose()  # metadata, not body text: kept as the title only
    tables: list[tuple[list[list[str]], str]] = []
    for table in soup.find_all("table"):
        if table.find("table") is None:
            rows = [[c.get_text(" ", strip=True) for c in tr.find_all(["th", "td"])] for tr in table.find_all("tr")]
            caption = table.caption.get_text(" ", strip=True) if table.caption else ""
            table.replace_with(f"\n{TABLE_MARK}{len(tables)}\n")
            tables.append((rows, caption))
    builder, run = Builder(), list[str]()
    for line in (line.strip() for line in soup.get_text("\n").splitlines()):
        if line.startswith(TABLE_MARK.strip()):
            builder.add("\n".join(run))
            run = []
            rows, caption = tables[int(line.rpartition(" ")[2])]
            table_text(rows, caption, builder)
        elif line:
            run.append(line)
    builder.add("\n".join(run))
    return builder.parsed(title)


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


def _fit(sections: list[tuple[int, int]], parsed: ParsedText) -> list[tuple[int, int]]:
    """Sections moved so that none ends inside a block (a table stays in one section)."""
    fitted: list[tuple[int, int]] = []
    for start, end in sections:
        start = max(start, fitted[-1][1]) if fitted else start
        end = max([end] + [b.end for b in parsed.blocks if b.start < end < b.end])
        if start < end:
            fitted.append((start, end))
    return fitted


def _pieces(parsed: ParsedText, section: tuple[int, int], ctx: LoadContext) -> list[tuple[int, int, str]]:
    """A section's paragraphs as (start, end, text): its prose cut into chunks, its blocks
    whole (or in parts of rows under their header)."""
    size, overlap = ctx.settings.chunk_tokens, ctx.settings.chunk_overlap
    start, end = section
    pieces: list[tuple[int, int, str]] = []
    cursor = start
    for block in [b for b in parsed.blocks if start <= b.start < end]:
        pieces += _prose(parsed, cursor, block.start, size, overlap)
        budget = size * BLOCK_CHARS_PER_TOKEN
        pieces += [(block.start, block.end, part) for part in split_block(parsed.text[block.start : block.end], block.header, budget)]
        cursor = block.end
    return pieces + _prose(parsed, cursor, end, size, overlap)


def _prose(parsed: ParsedText, start: int, end: int, size: int, overlap: int) -> list[tuple[int, int, str]]:
    """Chunks of the prose in [start, end), cut at page breaks too (a chunk cites one page)."""
    text = parsed.text
    cuts = [start, *(p for p in parsed.page_starts if start < p < end), end]
    return [
        (a + x, a + y, text[a + x : a + y])
        for a, b in itertools.pairwise(cuts)
        if text[a:b].strip()
        for x, y in _split(text[a:b], size, overlap)
    ]


def _item(
    path: Path,
    parsed: ParsedText,
    granularity: Granularity,
    index: int,
    start: int,
    end: int,
    parent: str | None,
    ctx: LoadContext,
    text: str | None = None,
) -> Item:
    page = page_end = None
    if parsed.page_starts:
        page = bisect.bisect_right(parsed.page_starts, start)
        page_end = bisect.bisect_right(parsed.page_starts, max(start, end - 1))
    rendered = parsed.page_images.get(page) if page is not None and granularity == "paragraph" else None
    return Item(
        id=ctx.item_id(path, granularity, index),
        source=str(path),
        modality="text",
        granularity=granularity,
        text=parsed.text[start:end] if text is None else text,
        span=Span(page=page, page_end=page_end, char_start=start, char_end=end),
        title=parsed.title,
        parent_id=parent,
        frames=[rendered] if rendered else [],
    )


def _picture_item(path: Path, parsed: ParsedText, index: int, picture: Picture, ctx: LoadContext) -> Item:
    """A rendered page or a figure of the document, described by the document's title, where
    it is, and its caption."""
    where = f"Page {picture.page}" if picture.kind == "page" else "Figure" + (f" on page {picture.page}" if picture.page else "")
    return Item(
        id=ctx.item_id(path, "image", index),
        source=str(path),
        modality="image",
        granularity="image",
        text=". ".join(part.rstrip(". ") for part in (parsed.title, where, picture.caption) if part.strip(". ")),
        span=Span(page=picture.page, page_end=picture.page),
        title=parsed.title,
        frames=[picture.path],
        metadata={"kind": picture.kind, "caption": picture.caption},
    )


def _first_line_title(text: str) -> str:
    for line in text.splitlines():
        line = line.strip().strip("#=*-_ ").strip()
        if line:
            return line if len(line) <= 100 and not line.startswith("..") else ""
    return ""
