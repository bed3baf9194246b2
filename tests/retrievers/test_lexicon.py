"""The lexical index (real bm25s + PyStemmer) and the title links of the text retriever
(real MiniLM, embedded Chroma)."""

from pathlib import Path

import numpy as np
import pytest

from rag.core.config import Config, CorpusConfig, EncoderConfig
from rag.library import Library
from retrievers.lexicon import Lexicon, title_words

TEXTS = [
    "gzip reduces the size of the named files using Lempel-Ziv coding.",
    "bzip2 compresses files using the Burrows-Wheeler block sorting text compression algorithm.",
    "xz is a general-purpose data compression tool with syntax similar to gzip and bzip2.",
    "tar saves many files together into a single archive file.",
    "file tests each argument in an attempt to classify it.",
    "cp copies a file to another file name.",
]
TITLES = ["gzip(1)", "bzip2(1)", "xz(1)", "tar(1)", "file(1)", "cp(1)"]


def test_bm25_scores_are_shares_of_the_best_reachable_score() -> None:
    lexicon = Lexicon([f"d{n}" for n in range(len(TEXTS))], TEXTS, TITLES)
    scores = lexicon.scores("Burrows-Wheeler compression")
    assert scores.shape == (len(TEXTS),) and np.all((scores >= 0) & (scores <= 1))
    assert int(np.argmax(scores)) == 1 and scores[1] > 0.3
    assert scores[0] == 0 and scores[3] == 0  # neither word (nor its stem) is there
    assert lexicon.scores("compressing")[1] > 0  # stemmed: compressing ~ compresses
    assert not lexicon.scores("zebra quantum").any() and not lexicon.scores("").any()


def test_titles_are_found_in_text_but_not_common_words() -> None:
    lexicon = Lexicon([f"d{n}" for n in range(len(TEXTS))], TEXTS, TITLES)
    assert title_words("Ed Wood (film)") == ("ed", "wood") and title_words("grep(1)") == ("grep",)
    assert lexicon.mentioned(TEXTS[2]) == {0, 1, 2}  # xz's page names gzip and bzip2 (and itself)
    # "file" is a title here, but a word three of the six texts use: no link to file(1).
    assert lexicon.mentioned("copy a file with cp") == {5}


def film_library(tmp_path: Path, links: bool) -> Library:
    """A film whose director's page never names the film, among look-alike director pages."""
    docs = tmp_path / "docs"
    docs.mkdir(exist_ok=True)
    people = ["Ilse Torvan", "Jonas Bremik", "Rhea Koldar", "Oskar Lunmir", "Vera Stofen", "Milo Quadel"]
    towns = ["Dalby", "Holmwick", "Fenstad", "Galford", "Heswick", "Pelmere"]
    for person, town in zip(people, towns, strict=True):
        (docs / f"{person}.txt").write_text(
            f"{person}\n\n{person} is a film director and screenwriter. {person} was born in {town} and "
            f"studied at the national film school before directing feature films."
        )
    (docs / "Marta Velors.txt").write_text(
        "Marta Velors\n\nMarta Velors is a film director and screenwriter. Marta Velors was born in Kolhaven "
        "and studied at the national film school before directing feature films."
    )
    (docs / "The Salt Orchard.txt").write_text(
        "The Salt Orchard\n\nThe Salt Orchard is a 1998 drama film directed by Marta Velors, about a family "
        "of fruit growers on a windy coast."
    )
    corpus = CorpusConfig(name="films", modality="text", granularity="document", encoder=EncoderConfig(links=links))
    library = Library(Config(data_dir=tmp_path / "data", corpora=[corpus]))
    library.ingest([docs], progress=False)
    return library


@pytest.mark.parametrize("links", [True, False])
def test_the_bridge_hop_finds_the_page_only_the_first_hit_names(tmp_path: Path, links: bool) -> None:
    library = film_library(tmp_path, links)
    hits = library.search("Where was the director of The Salt Orchard born?", corpus="films", k=2)
    names = [Path(h.source).stem for h in hits]
    assert names[0] == "The Salt Orchard"
    assert ("Marta Velors" in names) is links  # without the hop the director is one of seven look-alikes
    assert all(0.0 <= h.score <= 1.0 for h in hits)


def test_a_comparison_lifts_both_named_pages(tmp_path: Path) -> None:
    library = film_library(tmp_path, links=True)
    hits = library.search("Who was born first, Vera Stofen or Milo Quadel?", corpus="films", k=2)
    assert {Path(h.source).stem for h in hits} == {"Vera Stofen", "Milo Quadel"}
