"""The lexical side of a text collection: BM25 scores on a 0-1 scale, and the titles a text
mentions (title matching and the bridge hop of multi-hop questions).

BM25 (bm25s, Lucene's variant, Snowball-stemmed, English stopwords) is divided by the highest
score the query could reach (the sum of its known terms' IDFs: each term saturated), so a
score says what share of the query's term weight an item matches: comparable across queries
and corpora, unlike raw BM25. One mention of every query term in an item of average length
scores 1 / (1 + k1) = 0.4.
A title counts as mentioned where its words appear in order; a one-word title only when the
word is rare in the collection ("grep" is a name, "file" is a word).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import cache
from typing import Any

import bm25s
import numpy as np

WORD = re.compile(r"\w+(?:[.+:-]\w+)*\+*")  # keeps "gzip", "c++", "Algorithm::Diff", "ld.so"
DISAMBIGUATION = re.compile(r"\s*\([^)]*\)\s*$")  # "Ed Wood (film)", "grep(1)"
COMMON_WORD_SHARE = 0.01  # a one-word title found in more of the texts than this is a word
LONGEST_TITLE = 8  # words


@cache
def _stemmer() -> Any:
    import Stemmer

    return Stemmer.Stemmer("english")


def title_words(title: str) -> tuple[str, ...]:
    """A title as lower-case words, its trailing disambiguation left out."""
    return tuple(w.lower() for w in WORD.findall(DISAMBIGUATION.sub("", title)))


class Lexicon:
    """BM25 and a title index over one collection's items, in the order of `ids`."""

    def __init__(self, ids: Sequence[str], texts: Sequence[str], titles: Sequence[str]):
        self.ids = list(ids)
        self.position = {item_id: n for n, item_id in enumerate(self.ids)}
        tokens = bm25s.tokenize(list(texts), stopwords="en", stemmer=_stemmer(), show_progress=False)
        self.model = bm25s.BM25()
        self.model.index(tokens, show_progress=False)
        documents = np.zeros(len(tokens.vocab), dtype=np.int64)  # how many texts hold each term
        for row in tokens.ids:
            documents[np.unique(np.asarray(row, dtype=np.int64))] += 1
        n = max(len(self.ids), 1)
        self.idf = np.log(1.0 + (n - documents + 0.5) / (documents + 0.5))
        self.vocab: dict[str, int] = tokens.vocab
        self.titles = self._title_index(titles, texts)

    def _title_index(self, titles: Sequence[str], texts: Sequence[str]) -> dict[tuple[str, ...], list[int]]:
        index: dict[tuple[str, ...], list[int]] = {}
        for n, title in enumerate(titles):
            words = title_words(title)
            if words and len(words) <= LONGEST_TITLE:
                index.setdefault(words, []).append(n)
        single = {words[0] for words in index if len(words) == 1}
        seen = dict.fromkeys(single, 0)
        for text in texts:
            for word in single & {w.lower() for w in WORD.findall(text)}:
                seen[word] += 1
        limit = max(COMMON_WORD_SHARE * len(texts), 2)
        return {w: items for w, items in index.items() if len(w) > 1 or seen[w[0]] <= limit}

    def scores(self, text: str) -> np.ndarray:
        """Every item's BM25 score for `text` over the best score `text` could reach (0-1)."""
        terms = [t for t in bm25s.tokenize([text], stopwords="en", stemmer=_stemmer(), return_ids=False, show_progress=False)[0]
                 if t in self.vocab]
        if not terms or not self.ids:
            return np.zeros(len(self.ids), dtype=np.float32)
        reachable = float(sum(self.idf[self.vocab[t]] for t in terms))
        return np.asarray(self.model.get_scores(terms), dtype=np.float32) / max(reachable, 1e-9)

    def mentioned(self, text: str) -> set[int]:
        """The items whose title `text` mentions."""
        words = [w.lower() for w in WORD.findall(text)]
        found: set[int] = set()
        for size in range(1, LONGEST_TITLE + 1):
            for start in range(len(words) - size + 1):
                found.update(self.titles.get(tuple(words[start : start + size]), ()))
        return found
