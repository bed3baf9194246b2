"""Documents as people have them, built in the session (eval.documents): a scanned PDF with a
typed page in the middle, a report PDF with a ruled table and a chart, a Word handbook with
a table and a picture, a three-slide deck with a picture and a two-sheet workbook. Ingested into the default
corpora; each check is a search a user would type (the answer in the top 3)."""

from __future__ import annotations

from pathlib import Path

import pytest

from eval import documents
from rag.core.config import Config, GeneratorConfig, IngestConfig
from rag.core.items import Hit
from rag.generation.messages import build_messages
from rag.library import IngestReport, Library
from rag.loaders import LoadContext
from rag.loaders import text as loader
from tests.helpers import needs

pytestmark = needs("tesseract", "tesseract-ocr")


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("documents")
    documents.build_all(root)
    return root


@pytest.fixture(scope="module")
def ingested(folder: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Library, IngestReport]:
    lib = Library(Config(data_dir=tmp_path_factory.mktemp("documents_library")))
    return lib, lib.ingest([folder], progress=False)


@pytest.fixture(scope="module")
def library(ingested: tuple[Library, IngestReport]) -> Library:
    return ingested[0]


@pytest.fixture(scope="module")
def report(ingested: tuple[Library, IngestReport]) -> IngestReport:
    return ingested[1]


def _top(lib: Library, query: str, corpus: str, name: str, k: int = 3) -> Hit:
    hits = lib.search(query, corpus=corpus, k=k)
    found = [h for h in hits if Path(h.source).name == name]
    assert found, f"{name} not in the top {k} for {query!r}: {[(Path(h.source).name, h.snippet(60)) for h in hits]}"
    return found[0]


def test_every_document_is_ingested_and_the_scanned_pages_are_reported(report: IngestReport) -> None:
    assert not report.by_status("failed"), report.by_status("failed")
    assert len(report.by_status("ingested")) == 5
    scanned = next(o for o in report.outcomes if o.path.endswith("field_notes.pdf"))
    assert "OCR read pages 1, 3 (no text layer)" in scanned.reason
    assert scanned.items["image"] == 2  # the two scanned pages are pages of the image corpus too


def test_the_scanned_sentence_is_found_on_its_page_with_the_page_image(library: Library) -> None:
    hit = _top(library, "when did the lighthouse keeper repaint the lamp room", "text-paragraph", "field_notes.pdf")
    assert "cobalt blue" in hit.text and hit.span.page == 1
    assert hit.frames and Path(hit.frames[0]).is_file()  # the page rendering: shown with the citation
    typed = _top(library, "who signs the logbook at noon", "text-paragraph", "field_notes.pdf")
    assert typed.span.page == 2


def test_a_table_cell_finds_its_row_with_the_header(library: Library) -> None:
    hit = _top(library, "Q2 revenue of the Coastal region", "text-paragraph", "quarterly_report.pdf")
    assert "| Coastal | 2210 | 2480 | 7 |" in hit.text
    assert hit.text.startswith(documents.TABLE_CAPTION + "\n| Region | Q1 revenue | Q2 revenue | Stores |")
    assert hit.span.page == 1
    word = _top(library, "hourly rate for the night shift", "text-paragraph", "staff_handbook.docx")
    assert "| Night | 17.25 euros |" in word.text and "| Shift | Hourly rate |" in word.text


def test_a_slide_is_found_by_its_title_and_cited_by_its_number(library: Library) -> None:
    hit = _top(library, "pricing tiers", "text-paragraph", "product_launch.pptx")
    assert hit.text.startswith("Slide 2: Pricing tiers") and hit.span.page == 2
    notes = _top(library, "press embargo reminder", "text-paragraph", "product_launch.pptx")
    assert notes.span.page == 1 and documents.SLIDE_NOTES in notes.text


def test_a_spreadsheet_row_is_found_under_its_sheet_and_header(library: Library) -> None:
    hit = _top(library, "how many crates of pears are in the Leeds warehouse", "text-paragraph", "stock.xlsx")
    assert hit.text.startswith("Sheet: Inventory\n| Item | Warehouse | Crates |") and "| Pears | Leeds | 75 |" in hit.text
    assert hit.span.page == 1
    price = _top(library, "price per crate of plums", "text-paragraph", "stock.xlsx")
    assert "| Plums | 26.75 |" in price.text and price.span.page == 2


@pytest.mark.parametrize(
    ("query", "name", "page"),
    [
        ("bar chart of quarterly revenue per region", "quarterly_report.pdf", 2),
        ("floor plan of the warehouse", "staff_handbook.docx", None),
        ("customer feedback survey chart", "product_launch.pptx", 3),
    ],
)
def test_a_figure_is_found_by_its_caption(library: Library, query: str, name: str, page: int | None) -> None:
    hit = _top(library, query, "image", name)
    assert hit.span.page == page and Path(hit.frames[0]).is_file()


def test_the_documents_question_set_asks_about_these_files(folder: Path) -> None:
    from eval.answers import load_dataset

    samples = [s for dialogue in load_dataset(Path(documents.__file__).parent / "data/documents/questions.jsonl") for s in dialogue]
    assert len(samples) >= 25 and {s.label for s in samples} == {"paragraph", "image", "document", "no"}
    assert set().union(*(s.evidence for s in samples)) == {p.name for p in folder.iterdir()}


def test_a_second_ingest_finds_every_document_unchanged(library: Library, folder: Path) -> None:
    report = library.ingest([folder], progress=False)
    assert [o.status for o in report.outcomes] == ["unchanged"] * 5


def test_descriptions_are_off_with_the_embedded_text_model(library: Library, report: IngestReport) -> None:
    notes = report.notes
    assert any("descriptions of pictures by the vision model are off" in n and "not a served vision model" in n for n in notes)
    picture = library.retriever("image")._index.collection.get(limit=1, include=["metadatas"])  # type: ignore[attr-defined]
    assert picture["metadatas"][0]["described"] is False  # what `mmrag ingest --describe` fills in later


@pytest.mark.parametrize(
    ("name", "reason"),
    [("broken.docx", "cannot open Word document"), ("broken.pptx", "cannot open PowerPoint file"), ("broken.xlsx", "cannot open Excel workbook")],
)
def test_a_broken_office_file_fails_alone_with_its_reason(tmp_path: Path, name: str, reason: str) -> None:
    (tmp_path / name).write_bytes(b"PK\x03\x04 not really a zip")
    documents.handbook_docx(tmp_path / "fine.docx")
    report = Library(Config(data_dir=tmp_path / "data")).ingest([tmp_path], progress=False)
    failed = report.by_status("failed")
    assert [Path(o.path).name for o in failed] == [name] and reason in failed[0].reason
    assert [Path(o.path).name for o in report.by_status("ingested")] == ["fine.docx"]


def test_a_long_html_table_is_split_by_rows_with_its_header_repeated(tmp_path: Path) -> None:
    rows = "".join(f"<tr><td>Station {i}</td><td>{i * 7} mm</td></tr>" for i in range(80))
    page = tmp_path / "rain.html"
    page.write_text(
        f"<html><body><p>Rainfall in May.</p><table><caption>Rain by station</caption>"
        f"<tr><th>Station</th><th>Rain</th></tr>{rows}</table><p>Dry June.</p></body></html>"
    )
    ctx = LoadContext(IngestConfig(chunk_tokens=64, chunk_overlap=0), tmp_path / "frames", "0" * 64)
    paragraphs = loader.load(page, {"paragraph"}, ctx)["paragraph"]
    tables = [p for p in paragraphs if "| Station | Rain |" in p.text]
    assert len(tables) > 2
    assert all(t.text.startswith("Rain by station\n| Station | Rain |\n| --- | --- |\n| Station") for t in tables)
    assert sum(t.text.count("mm |") for t in tables) == 80  # every row once
    assert paragraphs[0].text == "Rainfall in May." and paragraphs[-1].text == "Dry June."


def test_a_vision_model_gets_the_page_a_paragraph_is_on(library: Library) -> None:
    hit = _top(library, "when did the lighthouse keeper repaint the lamp room", "text-paragraph", "field_notes.pdf")
    messages, _ = build_messages("when?", [hit], GeneratorConfig(), vision=True)
    parts = messages[-1]["content"]
    labels = [p["text"] for p in parts if p["type"] == "text"]
    assert any("[1] page 1" in text for text in labels)
    assert sum(p["type"] == "image_url" for p in parts) == 1
    text_only, _ = build_messages("when?", [hit], GeneratorConfig(), vision=False)
    assert not any(isinstance(p, dict) and p.get("type") == "image_url" for p in text_only[-1]["content"])


def test_a_two_column_page_is_read_column_by_column(tmp_path: Path) -> None:
    import pymupdf

    columns = [
        ["The left column tells how the stone bridge was built in 1890.", "Its second paragraph names the river guild that paid for it."],
        ["The right column lists the tolls that carts and horses paid.", "Walkers crossed for free on market days."],
    ]
    doc = pymupdf.open()
    page = doc.new_page()
    for x, paragraphs in zip((50, 320), columns, strict=True):
        for y, paragraph in zip((60, 200), paragraphs, strict=True):
            page.insert_textbox(pymupdf.Rect(x, y, x + 230, y + 100), paragraph, fontsize=11)
    doc.save(tmp_path / "columns.pdf")
    ctx = LoadContext(IngestConfig(), tmp_path / "frames", "0" * 64)
    text = " ".join(loader.load(tmp_path / "columns.pdf", {"paragraph"}, ctx)["paragraph"][0].text.split())
    order = [text.index(p) for column in columns for p in column]
    assert order == sorted(order)  # the left column whole, then the right: not row by row
