"""Builders of realistic test documents: scanned and mixed PDFs, a report with a ruled table
and a chart, a DOCX handbook, a PPTX deck, an XLSX workbook and long PDFs for benchmarks.
Each writes one file and returns its path; the texts are fixed so that tests can query them.

    python -m eval.documents DIR   writes the five documents that eval/data/documents/
                                   questions.jsonl asks about (ingest them with `mmrag ingest DIR`)
"""

from __future__ import annotations

import io
import random
import sys
from pathlib import Path

import docx
import docx.shared
import matplotlib
import openpyxl
import pptx
import pptx.util
import pymupdf
from PIL import Image, ImageDraw, ImageFont

matplotlib.use("Agg")
from matplotlib import pyplot as plt  # after the backend is chosen

SCANNED_PAGES = [
    "Field notes, day one. The lighthouse keeper repainted the lamp room in cobalt blue paint "
    "on Tuesday.",
    "The supply boat arrives every second Thursday with flour, lamp oil and letters from the "
    "mainland.",
]
TYPED_PAGE = (
    "This page was typed, not scanned: the harbour master signs the logbook at noon every day."
)

REPORT_TITLE = "Harbor Bikes quarterly report"
REPORT_INTRO = (
    "Harbor Bikes sells and repairs bicycles in four regions. This report covers the first two "
    "quarters of the year and the number of stores open in each region."
)
TABLE_CAPTION = "Table 1: Revenue by region in thousands of euros"
TABLE = [
    ["Region", "Q1 revenue", "Q2 revenue", "Stores"],
    ["North", "1200", "1350", "4"],
    ["South", "980", "1105", "3"],
    ["Coastal", "2210", "2480", "7"],
    ["Mountain", "640", "720", "2"],
]
REPORT_GROWTH = "Growth was strongest on the coast, where two new stores opened in May."
FIGURE_CAPTION = "Figure 1: Bar chart of quarterly revenue per region"

HANDBOOK_TITLE = "Staff handbook"
HOLIDAY = "Every employee receives twenty-eight days of paid leave per year, plus public holidays."
SHIFT_TABLE = [
    ["Shift", "Hourly rate"],
    ["Day", "14.50 euros"],
    ["Night", "17.25 euros"],
    ["Weekend", "19.00 euros"],
]
WAREHOUSE_CAPTION = "Figure 2: Floor plan of the warehouse with the loading bays"

SLIDES = [
    ("Launch timeline", ["Beta opens in March", "General release in June"]),
    ("Pricing tiers", ["Starter plan costs 9 euros a month", "Pro plan costs 29 euros a month"]),
    ("Customer feedback", ["Survey results from 400 customers"]),
]
SLIDE_NOTES = "Remind the team about the press embargo."
STOCK_SHEETS = {
    "Inventory": [["Item", "Warehouse", "Crates"], ["Apples", "Leeds", 140], ["Pears", "Leeds", 75], ["Apples", "York", 60], ["Plums", "York", 12]],
    "Prices": [["Item", "Price per crate"], ["Apples", 18.5], ["Pears", 21.0], ["Plums", 26.75]],
}

PAGE_SIZE = (1240, 1754)  # A4 at 150 dpi
FONT_PX = 36
BENCH_FONT_PX = 26  # ~300 words fit on one page image
MARGIN_PX = 100
FONTS = [
    Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"),
    Path("/usr/share/fonts/TTF/DejaVuSans.ttf"),
    Path("/usr/share/fonts/dejavu/DejaVuSans.ttf"),
]

SUBJECTS = [
    "The harbour office",
    "A local baker",
    "The ferry crew",
    "The village school",
    "The weather station",
    "A team of surveyors",
    "The town library",
    "The fishing cooperative",
    "The museum guide",
    "A retired sailor",
    "The island council",
    "The lighthouse keeper",
]
VERBS = [
    "counted",
    "repaired",
    "painted",
    "recorded",
    "inspected",
    "delivered",
    "measured",
    "cleaned",
    "photographed",
    "ordered",
    "replaced",
    "checked",
]
OBJECTS = [
    "the wooden pier",
    "forty crates of apples",
    "the signal lamps",
    "the tide tables",
    "the old rowing boats",
    "the water pumps",
    "a box of letters",
    "the chapel roof",
    "the mooring ropes",
    "the rain gauges",
    "the market stalls",
    "the radio mast",
]
WHEN = [
    "on Monday morning",
    "before the storm",
    "after the spring tide",
    "in late autumn",
    "during the festival",
    "at dawn",
    "on a windy afternoon",
    "before the first frost",
]


def _font(size: int = FONT_PX) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    """DejaVu Sans when installed, else Pillow's built-in scalable font."""
    for path in FONTS:
        if path.is_file():
            return ImageFont.truetype(str(path), size)
    return ImageFont.load_default(size=size)


def _wrap(text: str, font: ImageFont.FreeTypeFont | ImageFont.ImageFont, width: float) -> list[str]:
    """Lines of `text` no wider than `width` pixels in `font` (paragraphs split on newlines)."""
    lines: list[str] = []
    for block in text.split("\n"):
        line = ""
        for word in block.split():
            candidate = f"{line} {word}".strip()
            if line and font.getlength(candidate) > width:
                lines.append(line)
                line = word
            else:
                line = candidate
        lines.append(line)
    return lines


def _text_image(
    text: str, size: tuple[int, int] = PAGE_SIZE, font_px: int = FONT_PX
) -> Image.Image:
    """Black text wrapped on a white page-sized image, like a clean scan."""
    image = Image.new("RGB", size, "white")
    draw = ImageDraw.Draw(image)
    font = _font(font_px)
    y = MARGIN_PX
    for line in _wrap(text, font, size[0] - 2 * MARGIN_PX):
        if y + font_px > size[1] - MARGIN_PX // 2:
            raise ValueError(f"text does not fit on one page image: {text[:40]!r}...")
        draw.text((MARGIN_PX, y), line, fill="black", font=font)
        y += int(font_px * 1.5)
    return image


def _png(image: Image.Image) -> bytes:
    """PNG bytes of a PIL image."""
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def _add_scanned_page(doc: pymupdf.Document, text: str, font_px: int = FONT_PX) -> None:
    """An A4 page holding only a picture of `text` (no text layer)."""
    page = doc.new_page(width=pymupdf.paper_size("a4")[0], height=pymupdf.paper_size("a4")[1])
    page.insert_image(page.rect, stream=_png(_text_image(text, font_px=font_px)))


def _add_text_page(doc: pymupdf.Document, text: str, fontsize: float = 11) -> None:
    """An A4 page with `text` as a real text layer, wrapped inside the margins."""
    page = doc.new_page(width=pymupdf.paper_size("a4")[0], height=pymupdf.paper_size("a4")[1])
    rect = pymupdf.Rect(56, 56, page.rect.width - 56, page.rect.height - 56)
    if page.insert_textbox(rect, text, fontsize=fontsize, fontname="helv") < 0:
        raise ValueError(f"text does not fit on one page: {text[:40]!r}...")


def _save(doc: pymupdf.Document, path: Path) -> Path:
    """Write the PDF (creating its folder) and close it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    doc.save(path, garbage=3, deflate=True)
    doc.close()
    return path


def _bench_page_text(number: int, words: int = 300) -> str:
    """About `words` words of plain English for page `number`, the same on every run."""
    rng = random.Random(number)
    sentences = [f"Page {number}: notes from the island, written in the harbour log."]
    count = len(sentences[0].split())
    while count < words:
        sentence = (
            f"{rng.choice(SUBJECTS)} {rng.choice(VERBS)} {rng.choice(OBJECTS)} "
            f"{rng.choice(WHEN)}, and noted {rng.randint(2, 90)} items in the book."
        )
        sentences.append(sentence)
        count += len(sentence.split())
    return " ".join(sentences)


def _bar_chart_png() -> bytes:
    """Grouped Q1/Q2 revenue bars per region, about 640x400 px."""
    regions = [row[0] for row in TABLE[1:]]
    q1 = [int(row[1]) for row in TABLE[1:]]
    q2 = [int(row[2]) for row in TABLE[1:]]
    fig, ax = plt.subplots(figsize=(6.4, 4.0), dpi=100)
    x = range(len(regions))
    ax.bar([i - 0.2 for i in x], q1, width=0.4, label="Q1")
    ax.bar([i + 0.2 for i in x], q2, width=0.4, label="Q2")
    ax.set_xticks(list(x), regions)
    ax.set_ylabel("Revenue (thousand euros)")
    ax.set_title("Quarterly revenue per region")
    ax.legend()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100)
    plt.close(fig)
    return buffer.getvalue()


def _floor_plan_png() -> bytes:
    """A 400x300 drawing of coloured rectangles: a warehouse floor plan."""
    image = Image.new("RGB", (400, 300), "white")
    draw = ImageDraw.Draw(image)
    draw.rectangle((10, 10, 390, 290), outline="black", width=4)
    draw.rectangle((30, 30, 180, 140), fill="steelblue")
    draw.rectangle((220, 30, 370, 140), fill="darkorange")
    for x in (40, 130, 220, 310):
        draw.rectangle((x, 220, x + 60, 285), fill="seagreen")
    return _png(image)


def _survey_chart_png() -> bytes:
    """A 500x350 bar graph drawn with rectangles."""
    image = Image.new("RGB", (500, 350), "white")
    draw = ImageDraw.Draw(image)
    draw.line((40, 20, 40, 320, 480, 320), fill="black", width=3)
    for i, (height, colour) in enumerate(
        [(120, "crimson"), (250, "royalblue"), (180, "gold"), (60, "gray")]
    ):
        left = 70 + i * 100
        draw.rectangle((left, 320 - height, left + 60, 318), fill=colour)
    return _png(image)


def scanned_pdf(path: Path, mixed: bool = False) -> Path:
    """A PDF of page images without a text layer; `mixed` adds a typed page in between."""
    doc = pymupdf.open()
    _add_scanned_page(doc, SCANNED_PAGES[0])
    if mixed:
        _add_text_page(doc, TYPED_PAGE, fontsize=11)  # one line
    _add_scanned_page(doc, SCANNED_PAGES[1])
    return _save(doc, path)


def report_pdf(path: Path) -> Path:
    """A two-page report: intro, ruled revenue table, then a bar chart with its caption."""
    doc = pymupdf.open()
    width, height = pymupdf.paper_size("a4")
    left, right = 56.0, width - 56.0

    page = doc.new_page(width=width, height=height)
    page.insert_text((left, 80), REPORT_TITLE, fontsize=20, fontname="hebo")
    page.insert_textbox(pymupdf.Rect(left, 100, right, 160), REPORT_INTRO, fontsize=11)
    page.insert_text((left, 190), TABLE_CAPTION, fontsize=11, fontname="hebo")
    top, row_h = 200.0, 24.0
    col_w = (right - left) / len(TABLE[0])
    bottom = top + row_h * len(TABLE)
    for r, row in enumerate(TABLE):
        y = top + r * row_h
        for c, cell in enumerate(row):
            x = left + c * col_w
            # 12 pt: a 10 pt space (2.8 pt) is narrower than find_tables' default
            # text_x_tolerance (3), and its cells would read "Q1revenue".
            page.insert_text(
                (x + 6, y + 17), cell, fontsize=12, fontname="hebo" if r == 0 else "helv"
            )
    for r in range(len(TABLE) + 1):
        page.draw_line((left, top + r * row_h), (right, top + r * row_h), width=0.8)
    for c in range(len(TABLE[0]) + 1):
        page.draw_line((left + c * col_w, top), (left + c * col_w, bottom), width=0.8)

    page = doc.new_page(width=width, height=height)
    page.insert_textbox(pymupdf.Rect(left, 60, right, 100), REPORT_GROWTH, fontsize=11)
    chart = pymupdf.Rect(left, 110, left + 400, 360)
    page.insert_image(chart, stream=_bar_chart_png())
    page.insert_text((left, chart.y1 + 16), FIGURE_CAPTION, fontsize=10)
    return _save(doc, path)


def handbook_docx(path: Path) -> Path:
    """A DOCX handbook with headings, a shift-pay table and a floor-plan picture with caption."""
    document = docx.Document()
    document.add_heading(HANDBOOK_TITLE, level=1)
    document.add_heading("Holiday allowance", level=2)
    document.add_paragraph(HOLIDAY)
    document.add_heading("Shift pay", level=2)
    table = document.add_table(rows=len(SHIFT_TABLE), cols=len(SHIFT_TABLE[0]))
    table.style = "Table Grid"
    for r, row in enumerate(SHIFT_TABLE):
        for c, cell in enumerate(row):
            table.cell(r, c).text = cell
    document.add_heading("Warehouse", level=2)
    document.add_picture(io.BytesIO(_floor_plan_png()), width=docx.shared.Inches(3))
    document.add_paragraph(WAREHOUSE_CAPTION)
    path.parent.mkdir(parents=True, exist_ok=True)
    document.save(str(path))
    return path


def launch_pptx(path: Path) -> Path:
    """A three-slide PPTX deck with bullets, speaker notes and a chart picture."""
    deck = pptx.Presentation()
    layout = deck.slide_layouts[1]  # Title and Content
    for index, (title, bullets) in enumerate(SLIDES):
        slide = deck.slides.add_slide(layout)
        slide.shapes.title.text = title
        body = slide.placeholders[1].text_frame
        body.text = bullets[0]
        for bullet in bullets[1:]:
            body.add_paragraph().text = bullet
        if index == 0:
            slide.notes_slide.notes_text_frame.text = SLIDE_NOTES
        if index == 2:
            slide.shapes.add_picture(
                io.BytesIO(_survey_chart_png()),
                pptx.util.Inches(5),
                pptx.util.Inches(3.5),
                width=pptx.util.Inches(4),
            )
    path.parent.mkdir(parents=True, exist_ok=True)
    deck.save(str(path))
    return path


def text_pdf(path: Path, pages: int) -> Path:
    """A PDF of `pages` pages of ~300 words each, with a text layer."""
    doc = pymupdf.open()
    for number in range(1, pages + 1):
        _add_text_page(doc, _bench_page_text(number))
    return _save(doc, path)


def scanned_text_pdf(path: Path, pages: int) -> Path:
    """The same pages as `text_pdf`, each one only a picture of its text."""
    doc = pymupdf.open()
    for number in range(1, pages + 1):
        _add_scanned_page(doc, _bench_page_text(number), font_px=BENCH_FONT_PX)
    return _save(doc, path)


def stock_xlsx(path: Path) -> Path:
    """An Excel workbook with two sheets of stock and prices (STOCK_SHEETS), plain values."""
    book = openpyxl.Workbook()
    book.remove(book.active)
    for name, rows in STOCK_SHEETS.items():
        sheet = book.create_sheet(name)
        for row in rows:
            sheet.append(row)
    path.parent.mkdir(parents=True, exist_ok=True)
    book.save(path)
    return path


def build_all(folder: Path) -> list[Path]:
    """The five documents of eval/data/documents/questions.jsonl, under their names there."""
    return [
        scanned_pdf(folder / "field_notes.pdf", mixed=True),
        report_pdf(folder / "quarterly_report.pdf"),
        handbook_docx(folder / "staff_handbook.docx"),
        launch_pptx(folder / "product_launch.pptx"),
        stock_xlsx(folder / "stock.xlsx"),
    ]


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m eval.documents DIR", file=sys.stderr)
        return 2
    for path in build_all(Path(args[0])):
        print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
