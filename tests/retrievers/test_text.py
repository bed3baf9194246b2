"""Text retrieval on the sample corpora with the real MiniLM encoder and embedded Chroma."""

from pathlib import Path

import pytest

from rag.core.config import Config, CorpusConfig, EncoderConfig
from rag.library import Library
from retrievers.text import TextRetriever

PARAGRAPH_QUERIES = [
    ("Who was the first woman to command a Space Shuttle?", "space_exploration.md", "STS-93"),
    ("How much salt should I put in the pasta water?", "pasta_guide.html", "salt"),
    ("How do I patch a punctured inner tube?", "bicycle_maintenance.pdf", "vulcanising"),
    ("How many samples and classes does the iris dataset have?", "sklearn_iris.rst", ""),
    ("Why do aircraft avoid volcanic ash clouds?", "volcanoes.md", "jet engines"),
]
DOCUMENT_QUERIES = [
    ("a dataset of images of handwritten digits", "sklearn_digits.rst"),
    ("chemical analysis of wines from three cultivars", "sklearn_wine_data.rst"),
    ("newsgroup posts on twenty topics for text classification", "sklearn_twenty_newsgroups.rst"),
    ("house prices in California census districts", "sklearn_california_housing.rst"),
]


@pytest.mark.parametrize(("query", "expected", "phrase"), PARAGRAPH_QUERIES)
def test_paragraph_query_finds_its_passage_in_top_3(sample_library: Library, query: str, expected: str, phrase: str) -> None:
    hits = sample_library.search(query, corpus="text-paragraph", k=3)
    assert any(Path(h.source).name == expected and phrase in h.text for h in hits), [h.source for h in hits]
    assert all(h.span.char_start is not None and h.parent_id for h in hits)


@pytest.mark.parametrize(("query", "expected"), DOCUMENT_QUERIES)
def test_document_query_finds_its_document_in_top_3(sample_library: Library, query: str, expected: str) -> None:
    hits = sample_library.search(query, corpus="text-document", k=3)
    assert expected in [Path(h.source).name for h in hits]
    assert hits == sorted(hits, key=lambda h: -h.score)


def test_pdf_hit_carries_its_page(sample_library: Library) -> None:
    hit = sample_library.search("tyre pressure for mountain bikes", corpus="text-paragraph", k=1)[0]
    assert Path(hit.source).name == "bicycle_maintenance.pdf" and hit.span.page == 2


def test_bm25_fusion_ranks_an_exact_rare_term_first(tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    for n in range(12):
        (docs / f"note{n}.txt").write_text(f"Meeting note {n}: the team reviewed the quarterly budget and travel plans.")
    (docs / "part.txt").write_text("Meeting note: the team reviewed the order for part number QX-7731-B and travel plans.")
    corpus = CorpusConfig(name="notes", modality="text", granularity="paragraph")
    library = Library(Config(data_dir=tmp_path / "data", corpora=[corpus]))
    library.ingest([docs], progress=False)
    hits = library.search("QX-7731-B", corpus="notes", k=3)
    assert Path(hits[0].source).name == "part.txt"
    assert all(0.0 <= h.score <= 1.0 for h in hits) and hits == sorted(hits, key=lambda h: -h.score)
    fused = library.search("QX-7731-B", corpus="notes", k=13)
    retriever = library.retriever("notes")
    retriever.corpus = corpus.model_copy(update={"encoder": EncoderConfig(bm25=False, links=False)})
    cosine = {h.id: h.score for h in library.search("QX-7731-B", corpus="notes", k=13)}  # same store
    w = corpus.encoder.dense_weight
    assert hits[0].score > w * cosine[hits[0].id]  # BM25 added its share: only part.txt holds the code
    assert all(h.score == pytest.approx(w * max(cosine[h.id], 0.0)) for h in fused if h.id != hits[0].id)


def test_bm25_follows_a_changed_file_that_keeps_its_item_count(tmp_path: Path) -> None:
    """The BM25 index is rebuilt when the collection changes, not only when its size does:
    an edited one-paragraph file is still one item, and its new words must be found, also
    when another process (here: another Library on the same store) made the change."""
    docs = tmp_path / "docs"
    docs.mkdir()
    for n in range(5):
        (docs / f"note{n}.txt").write_text(f"Meeting note {n}: the team reviewed the quarterly budget.")
    order = docs / "order.txt"
    order.write_text("Order note: the team ordered spare part QX-7731-B for the press.")
    corpus = CorpusConfig(name="notes", modality="text", granularity="paragraph")
    config = Config(data_dir=tmp_path / "data", corpora=[corpus])
    reader = Library(config)
    reader.ingest([docs], progress=False)
    assert reader.counts()["notes"] == 6
    assert Path(reader.search("QX-7731-B", corpus="notes", k=1)[0].source).name == "order.txt"

    order.write_text("Order note: the team ordered spare part ZR-5520-K for the lathe.")
    Library(config).ingest([docs], progress=False)  # another writer; the count stays 6
    hits = reader.search("ZR-5520-K", corpus="notes", k=3)
    assert Path(hits[0].source).name == "order.txt" and "ZR-5520-K" in hits[0].text
    assert bm25_score(reader, "ZR-5520-K", hits[0].id) > 0  # BM25 saw the edit

    order.write_text("Order note: the team ordered spare part MV-1180-T for the drill.")
    reader.ingest([docs], progress=False)  # the same library writes
    assert bm25_score(reader, "MV-1180-T", reader.search("MV-1180-T", corpus="notes", k=1)[0].id) > 0


def bm25_score(library: Library, query: str, item_id: str) -> float:
    """The item's 0-1 BM25 score in the text retriever's current lexical index."""
    retriever = library.retriever("notes")
    assert isinstance(retriever, TextRetriever)
    lexicon = retriever.lexicon()[0]
    return float(lexicon.scores(query)[lexicon.position[item_id]])
