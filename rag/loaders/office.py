"""Office parsers: Word (.docx: headings, paragraphs, tables and pictures, in body order),
PowerPoint (.pptx: one block per slide with its title, text, tables and speaker notes; the
slide's pictures as figures) and Excel (.xlsx: each sheet's cells as a table under its
name). A slide or a sheet counts as a page, so citations say which one."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from PIL import Image, UnidentifiedImageError

from rag.loaders.context import LoadContext, LoadError
from rag.loaders.parsed import (
    CAPTION,
    Builder,
    ParsedText,
    Picture,
    caption_of,
    markdown_table,
    table_text,
)


def parse_docx(path: Path, ctx: LoadContext) -> ParsedText:
    """A Word document's text with headings marked as in Markdown; tables as blocks captioned
    by their section heading; pictures captioned by the line after them (or the heading)."""
    import docx
    from docx.oxml.ns import qn
    from docx.table import Table
    from docx.text.paragraph import Paragraph

    document = _open(path, docx.Document, "Word document")
    builder, run, pictures = Builder(), list[str](), list[Picture]()
    heading, waiting = "", list[Path]()  # pictures waiting for the caption line that follows them
    for element in document.element.body.iterchildren():
        if element.tag == qn("w:tbl"):
            builder.add("\n".join(run))
            run = []
            rows = [[cell.text for cell in row.cells] for row in Table(element, document).rows]
            table_text(rows, heading, builder)
            continue
        if element.tag != qn("w:p"):
            continue
        paragraph = Paragraph(element, document)
        for blob in _blobs(paragraph, qn):
            if (image := _picture(blob, ctx)) is not None:
                waiting.append(ctx.save_image(image, f"figure-{len(pictures) + len(waiting)}"))
        text = " ".join(paragraph.text.split())
        if not text:
            continue
        style = paragraph.style.name if paragraph.style is not None else ""
        if waiting:
            caption = text if CAPTION.match(text) or style == "Caption" else heading
            pictures += [Picture(p, "figure", None, caption_of(caption)) for p in waiting]
            waiting = []
        if style == "Title" or style.startswith("Heading"):
            level = int(style.rsplit(" ", 1)[-1]) if style[-1:].isdigit() else 1
            run.append(f"{'#' * level} {text}")
            heading = text
        else:
            run.append(text)
    builder.add("\n".join(run))
    pictures += [Picture(p, "figure", None, caption_of(heading)) for p in waiting]
    parsed = builder.parsed(str(document.core_properties.title or "").strip())
    parsed.pictures = pictures
    return parsed


def parse_pptx(path: Path, ctx: LoadContext) -> ParsedText:
    """A deck's slides, each a block headed "Slide N: title" with its text, tables and
    notes; its pictures captioned by the slide's heading, alt text and words."""
    from pptx import Presentation

    deck = _open(path, Presentation, "PowerPoint file")
    builder, pictures, titles = Builder(), list[Picture](), list[str]()
    for number, slide in enumerate(deck.slides, start=1):
        builder.new_page()
        title_shape = slide.shapes.title
        title = " ".join(title_shape.text_frame.text.split()) if title_shape is not None else ""
        titles.append(title)
        lines = [f"Slide {number}: {title}" if title else f"Slide {number}"]
        images = []
        for shape in _shapes(slide.shapes):
            if title_shape is not None and shape.shape_id == title_shape.shape_id:
                continue
            if getattr(shape, "has_text_frame", False) and shape.text_frame.text.strip():
                lines += [line.strip() for line in shape.text_frame.text.splitlines() if line.strip()]
            if getattr(shape, "has_table", False):
                lines.append(markdown_table([[c.text for c in row.cells] for row in shape.table.rows]))
            if hasattr(shape, "image") and (image := _picture(shape.image.blob, ctx)) is not None:
                alt = shape._element.xpath("./p:nvPicPr/p:cNvPr/@descr")
                images.append((image, " ".join(str(a) for a in alt)))
        if slide.has_notes_slide and (notes := slide.notes_slide.notes_text_frame.text.strip()):
            lines.append(f"Notes: {' '.join(notes.split())}")
        builder.add("\n".join(lines), header=1)
        for i, (image, alt) in enumerate(images):
            path_ = ctx.save_image(image, f"slide-{number}-figure-{i}")
            pictures.append(Picture(path_, "figure", number, caption_of(f"{lines[0]}. {alt} {' '.join(lines[1:])}")))
    parsed = builder.parsed(str(deck.core_properties.title or "").strip() or next(filter(None, titles), ""))
    parsed.pictures = pictures
    return parsed


def parse_xlsx(path: Path, ctx: LoadContext) -> ParsedText:
    """A workbook's sheets, each a table (its first row the header) captioned "Sheet: name",
    with the values the cells last showed (formulas' results, not the formulas)."""
    from openpyxl import load_workbook

    book = _open(path, lambda name: load_workbook(name, read_only=True, data_only=True), "Excel workbook")
    builder = Builder()
    try:
        for sheet in book.worksheets:
            builder.new_page()
            rows = [["" if v is None else str(v) for v in row] for row in sheet.iter_rows(values_only=True)]
            rows = [row for row in rows if any(cell.strip() for cell in row)]
            width = max((max((i + 1 for i, c in enumerate(row) if c.strip()), default=0) for row in rows), default=0)
            table_text([row[:width] for row in rows], f"Sheet: {sheet.title}", builder)
    finally:
        book.close()
    return builder.parsed(str(book.properties.title or "").strip())


def _open(path: Path, opener: Any, kind: str) -> Any:
    if path.stat().st_size == 0:
        raise LoadError("empty file (0 bytes)")
    try:
        return opener(str(path))
    except Exception as exc:  # the libraries raise many kinds on a broken zip
        raise LoadError(f"cannot open {kind}: {type(exc).__name__}: {exc}") from exc


def _blobs(paragraph: Any, qn: Any) -> Iterator[bytes]:
    """The bytes of the pictures placed in a Word paragraph."""
    part = paragraph.part
    for blip in paragraph._element.iter(qn("a:blip")):
        rid = blip.get(qn("r:embed"))
        if rid and rid in part.related_parts:
            yield part.related_parts[rid].blob


def _shapes(shapes: Any) -> Iterator[Any]:
    """Every shape, those inside groups too."""
    for shape in shapes:
        if hasattr(shape, "shapes"):
            yield from _shapes(shape.shapes)
        else:
            yield shape


def _picture(blob: bytes, ctx: LoadContext) -> Image.Image | None:
    """The picture, or None when it is unreadable (EMF/WMF, say) or smaller than figure_min_side."""
    try:
        with Image.open(io.BytesIO(blob)) as raw:
            image = raw.convert("RGB")
    except (UnidentifiedImageError, OSError, ValueError):
        return None
    return image if min(image.size) >= ctx.settings.figure_min_side else None
