from pathlib import Path

import pytest
import tiktoken

from rag.core.config import IngestConfig
from rag.loaders import LoadContext, LoadError
from rag.loaders import text as loader


def _ctx(tmp_path: Path, **settings: int) -> LoadContext:
    return LoadContext(IngestConfig(**settings), tmp_path / "frames", "0" * 64)


def test_a_file_name_becomes_a_title() -> None:
    from rag.loaders.context import title_from

    assert title_from(Path("notes/my_file-name.txt")) == "my file name"
    assert title_from(Path("__-.txt")) == "__-.txt"  # only separators: the whole name


def test_paragraph_chunks_are_100_to_200_tokens_with_exact_char_spans(samples: Path, tmp_path: Path) -> None:
    path = samples / "text" / "sklearn_twenty_newsgroups.rst"
    items = loader.load(path, {"paragraph", "document"}, _ctx(tmp_path))
    full = loader.parse(path, _ctx(tmp_path)).text
    encoding = tiktoken.get_encoding("cl100k_base")
    paragraphs = items["paragraph"]
    assert len(paragraphs) >= 5
    for chunk in paragraphs:
        assert full[chunk.span.char_start : chunk.span.char_end] == chunk.text
        assert len(encoding.encode(chunk.text)) <= 200
    assert sorted(len(encoding.encode(c.text)) for c in paragraphs)[len(paragraphs) // 2] >= 100
    doc_ids = {d.id for d in items["document"]}
    assert all(p.parent_id in doc_ids for p in paragraphs)


def test_long_document_becomes_sections_and_paragraphs_link_to_their_section(samples: Path, tmp_path: Path) -> None:
    path = samples / "text" / "sklearn_twenty_newsgroups.rst"
    items = loader.load(path, {"paragraph", "document"}, _ctx(tmp_path, section_tokens=300))
    sections = items["document"]
    assert len(sections) >= 3
    by_id = {s.id: s for s in sections}
    for p in items["paragraph"]:
        parent = by_id[p.parent_id]
        assert parent.span.char_start <= p.span.char_start and p.span.char_end <= parent.span.char_end


def test_pdf_pages_and_title(samples: Path, tmp_path: Path) -> None:
    items = loader.load(samples / "text" / "bicycle_maintenance.pdf", {"paragraph"}, _ctx(tmp_path, chunk_tokens=64, chunk_overlap=0))
    patch = next(i for i in items["paragraph"] if "vulcanising" in i.text)
    wheel = next(i for i in items["paragraph"] if "quick-release" in i.text)
    assert (wheel.span.page, patch.span.page) == (1, 2)
    assert patch.title == "Bicycle maintenance handbook"


def test_html_drops_scripts_and_keeps_title(samples: Path, tmp_path: Path) -> None:
    parsed = loader.parse(samples / "text" / "pasta_guide.html", _ctx(tmp_path))
    assert parsed.title == "Kitchen guide: cooking dried pasta"
    assert "al dente" in parsed.text and "console.log" not in parsed.text and "font-family" not in parsed.text
    assert parsed.text.count("Kitchen guide: cooking dried pasta") == 1  # the <h1>; <title> is not body text


def test_non_utf8_text_is_decoded(tmp_path: Path) -> None:
    path = tmp_path / "latin.txt"
    path.write_bytes("Crème brûlée à la française, déjà vu chez Müller.".encode("latin-1"))
    assert "Crème brûlée" in loader.parse(path, _ctx(tmp_path)).text


@pytest.mark.parametrize(
    ("name", "content", "reason"),
    [
        ("empty.txt", b"", "empty file"),
        ("binary.txt", bytes(range(256)) * 4, "binary content"),
        ("blank.md", b"   \n\n ", "no text"),
        ("broken.pdf", b"%PDF-1.4 this is not really a pdf", "cannot open PDF"),
    ],
)
def test_unreadable_text_files_raise_load_error(tmp_path: Path, name: str, content: bytes, reason: str) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(LoadError, match=reason):
        loader.parse(path, _ctx(tmp_path))


def test_encrypted_pdf_is_refused(tmp_path: Path) -> None:
    import pymupdf

    doc = pymupdf.open()
    doc.new_page().insert_text((72, 72), "secret plans")
    path = tmp_path / "locked.pdf"
    doc.save(path, encryption=pymupdf.PDF_ENCRYPT_AES_256, user_pw="pw", owner_pw="owner")
    with pytest.raises(LoadError, match="encrypted"):
        loader.parse(path, _ctx(tmp_path))
