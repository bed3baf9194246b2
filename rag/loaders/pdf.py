"""PDF parser, page by page: the text layer (OCR where a page has none), ruled tables as
Markdown blocks with their captions, each page rendered as an image, and the figures on it
(embedded pictures and drawn charts) with their captions."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from PIL import Image

from rag.loaders.context import LoadContext, LoadError
from rag.loaders.ocr import ocr_available, ocr_text
from rag.loaders.parsed import CAPTION, Builder, ParsedText, Picture, caption_of, table_text

log = logging.getLogger(__name__)
OCR_DPI = 200  # 300 read the test pages no better, at 1.3-2x the time (eval.documents)
FIGURE_DPI = 150
FULL_PAGE = 0.8  # a picture covering more of the page than this is a scan or a background
TABLE_CELL_CHARS = 60  # a "table" whose median cell is longer is framed prose (see _tabular)
CAPTION_GAP = 40.0  # points between a figure or table and its caption, at most


@dataclass
class _Scan:
    """Which pages had no text layer: read by OCR, or left unread."""

    read: list[int] = field(default_factory=list)
    unread: list[int] = field(default_factory=list)


def parse_pdf(path: Path, ctx: LoadContext) -> ParsedText:
    """The PDF's text, tables, page images and figures, or LoadError saying why there are none."""
    import pymupdf

    try:
        doc = pymupdf.open(path)
    except Exception as exc:
        raise LoadError(f"cannot open PDF: {exc}") from exc
    with doc:
        if doc.needs_pass:
            raise LoadError("PDF is encrypted (password protected)")
        builder, scan = Builder(), _Scan()
        pictures: list[Picture] = []
        page_images: dict[int, Path] = {}
        seen: set[int] = set()  # pictures already taken (a logo on every page is one figure)
        for number, page in enumerate(doc.pages(), start=1):
            builder.new_page()
            page_text, figures, rendered = _page(page, number, builder, scan, seen, ctx)
            pictures.extend(figures)
            if rendered is not None:
                page_images[number] = rendered
                if _page_item(ctx, scanned=number in scan.read + scan.unread, figures=bool(figures)):
                    captions = " ".join(f.caption for f in figures)
                    pictures.append(Picture(rendered, "page", number, caption_of(f"{captions} {page_text}")))
        title = str((doc.metadata or {}).get("title") or "").strip()
    parsed = builder.parsed(title)
    parsed.pictures, parsed.page_images, parsed.notes = pictures, page_images, _notes(scan, ctx)
    if not parsed.text.strip():
        reason = parsed.notes[0] if parsed.notes else "no text"
        raise LoadError(f"PDF has no extractable text: {reason}")
    return parsed


def _page(
    page: Any, number: int, builder: Builder, scan: _Scan, seen: set[int], ctx: LoadContext
) -> tuple[str, list[Picture], Path | None]:
    """Adds one page's text to `builder`; returns that text, the page's figures and its rendering."""
    settings = ctx.settings
    blocks = [b for b in page.get_text("blocks") if b[6] == 0 and b[4].strip()]
    if sum(len(b[4].strip()) for b in blocks) >= settings.ocr_min_chars:
        drawings = page.get_drawings()
        tables = _tables(page) if drawings else []  # ruled tables only: no lines, no table
        text = _flow(blocks, tables, builder)
        figures = _figures(page, number, blocks, drawings, [rect for rect, _ in tables], seen, ctx)
        rendered = _render(page, number, ctx) if settings.render_pages else None
        return text, figures, rendered
    # No text layer (a scan): OCR the page rendered at OCR_DPI, which is also its image.
    image = _pixels(page, dpi=OCR_DPI)
    text = ocr_text(image) if settings.ocr else ""
    (scan.read if text else scan.unread).append(number)
    text = " ".join([*(b[4] for b in blocks), text]).strip()
    builder.add(text)
    rendered = ctx.save_image(image, f"page-{number}") if settings.render_pages else None
    return text, [], rendered


def _tables(page: Any) -> list[tuple[Any, list[list[str | None]]]]:
    """(area, rows) of the page's ruled tables with at least a header and one row. PyMuPDF's
    finder costs ~250 ms a page here, so pages without drawn lines are not searched."""
    import pymupdf

    try:
        found = page.find_tables(text_x_tolerance=1.5).tables  # default 3 glues words of 10 pt cells
    except Exception:  # a table finder failure must not lose the page's text
        log.debug("table finder failed on page %s", page.number, exc_info=True)
        return []
    tables = [(pymupdf.Rect(t.bbox), t.extract()) for t in found if t.row_count >= 2]
    return [(rect, rows) for rect, rows in tables if _tabular(rows)]


def _tabular(rows: list[list[str | None]]) -> bool:
    """True when the cells look like a data table's: mostly short, no dot leaders. Lines
    also frame text columns and indexes, which the finder takes for tables."""
    cells = sorted(len(c) for row in rows for c in row if c and c.strip())
    leaders = sum(". . ." in (c or "") or "...." in (c or "") for row in rows for c in row)
    return bool(cells) and cells[len(cells) // 2] <= TABLE_CELL_CHARS and leaders * 4 < len(cells)


def _flow(blocks: list[Any], tables: list[tuple[Any, list[list[str | None]]]], builder: Builder) -> str:
    """Adds the page's prose runs and tables in reading order; returns the page's text.

    Prose keeps the PDF's own block order (columns stay whole, where sorting by position
    would interleave them); a table goes before the first block below its top edge that
    shares its columns, or last."""
    import pymupdf

    rects = [rect for rect, _ in tables]
    captions: dict[int, str] = {}
    pending = sorted(range(len(rects)), key=lambda i: rects[i].y0)
    pieces: list[tuple[str, str | int]] = []
    for block in blocks:
        box = pymupdf.Rect(block[:4])
        if any(_inside(box, rect) for rect in rects):
            continue
        above = [i for i, rect in enumerate(rects) if 0 <= rect.y0 - box.y1 <= CAPTION_GAP and i not in captions]
        if above and CAPTION.match(block[4]):
            captions[above[0]] = caption_of(block[4])
            continue
        due = [i for i in pending if box.y0 >= rects[i].y0 and box.x0 < rects[i].x1 and rects[i].x0 < box.x1]
        pieces += [("table", i) for i in due]
        pending = [i for i in pending if i not in due]
        pieces.append(("prose", block[4].strip()))
    pieces += [("table", i) for i in pending]
    run: list[str] = []
    out: list[str] = []
    for kind, payload in pieces:
        if kind == "prose":
            run.append(str(payload))
            continue
        builder.add("\n".join(run))
        out.extend(run)
        run = []
        index = int(payload)
        out.append(table_text(tables[index][1], captions.get(index, ""), builder))
    builder.add("\n".join(run))
    out.extend(run)
    return " ".join(" ".join(out).split())


def _figures(
    page: Any, number: int, blocks: list[Any], drawings: list[Any], tables: list[Any], seen: set[int], ctx: LoadContext
) -> list[Picture]:
    """The page's embedded pictures and drawn charts of at least figure_min_side, each
    rendered from the page with its caption."""
    import pymupdf

    least = ctx.settings.figure_min_side
    limit = FULL_PAGE * page.rect.get_area()
    rects = []
    for info in page.get_images(full=True):
        xref, width, height = info[0], info[2], info[3]
        if xref in seen or min(width, height) < least:
            continue
        seen.add(xref)
        rects += [r for r in page.get_image_rects(xref)[:1] if r.get_area() < limit]
    try:
        drawn = page.cluster_drawings(drawings=drawings) if drawings else []
    except Exception:  # noqa: BLE001 - a drawing analysis failure must not lose the page
        drawn = []
    rects += [
        pymupdf.Rect(r) for r in drawn
        if min(r.width, r.height) >= least and r.get_area() < limit
        and not any(pymupdf.Rect(r).intersects(t) for t in tables)
        and not any(_inside(pymupdf.Rect(r), done) for done in rects)
    ]
    figures = []
    for i, rect in enumerate(rects):
        image = _pixels(page, dpi=FIGURE_DPI, clip=rect)
        figures.append(Picture(ctx.save_image(image, f"page-{number}-figure-{i}"), "figure", number, _caption(rect, blocks)))
    return figures


def _caption(rect: Any, blocks: list[Any]) -> str:
    """The figure's caption: a "Figure 3: ..." line next to it, else the text right below or above."""
    near: list[tuple[float, bool, str]] = []
    for x0, y0, x1, y1, text, *_ in blocks:
        if x1 < rect.x0 or x0 > rect.x1:
            continue
        gap = y0 - rect.y1 if y0 >= rect.y1 - 2 else rect.y0 - y1
        if -2 <= gap <= CAPTION_GAP:
            near.append((gap, not CAPTION.match(text), text))
    if not near:
        return ""
    return caption_of(min(near, key=lambda n: (n[1], n[0]))[2])


def _render(page: Any, number: int, ctx: LoadContext) -> Path:
    side = ctx.settings.stored_image_side
    dpi = max(36, int(72 * side / max(page.rect.width, page.rect.height)))
    return ctx.save_image(_pixels(page, dpi=dpi), f"page-{number}")


def _pixels(page: Any, dpi: int, clip: Any = None) -> Image.Image:
    pix = page.get_pixmap(dpi=dpi, clip=clip, alpha=False)
    return Image.frombytes("RGB", (pix.width, pix.height), pix.samples)


def _inside(box: Any, area: Any) -> bool:
    """True when most of `box` lies within `area`."""
    overlap = box & area
    return not overlap.is_empty and overlap.get_area() >= 0.5 * max(box.get_area(), 1e-6)


def _page_item(ctx: LoadContext, scanned: bool, figures: bool) -> bool:
    """Whether a rendered page also becomes an item of the image corpus."""
    mode = ctx.settings.page_items
    return mode == "all" or (mode == "visual" and (scanned or figures))


def _notes(scan: _Scan, ctx: LoadContext) -> list[str]:
    notes = []
    if scan.read:
        notes.append(f"OCR read page{_plural(scan.read)} {_page_list(scan.read)} (no text layer)")
    if scan.unread:
        why = (
            "OCR is off" if not ctx.settings.ocr
            else "tesseract is not installed (apt-get install tesseract-ocr)" if not ocr_available()
            else "OCR found no text"
        )
        notes.append(f"page{_plural(scan.unread)} {_page_list(scan.unread)} without a text layer left unread: {why}")
    return notes


def _page_list(numbers: list[int]) -> str:
    """Page numbers as ranges: [1, 2, 3, 5] -> '1-3, 5'."""
    runs: list[list[int]] = []
    for n in numbers:
        if runs and n == runs[-1][-1] + 1:
            runs[-1].append(n)
        else:
            runs.append([n])
    return ", ".join(f"{r[0]}-{r[-1]}" if len(r) > 1 else str(r[0]) for r in runs)


def _plural(numbers: list[int]) -> str:
    return "s" if len(numbers) > 1 else ""
