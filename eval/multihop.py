"""A multi-hop (bridge) retrieval set in the BEIR layout, written by this project.

Each question needs two documents: one names the bridge (the director of a film, the founder
of a company, the author of a novel) and a second, which never mentions the first's subject,
holds the answer (where the director was born, ...). All names are invented, so no model
knows the answers and no public benchmark's questions are reused. Person documents without a
question are mixed in as distractors.

    python -m eval.multihop OUT_DIR [--questions 300] [--seed 0]

writes OUT_DIR/corpus.jsonl, queries.jsonl, qrels.tsv and answers.jsonl, ready for
`mmrag eval retrieval --beir OUT_DIR` and `mmrag eval answers --beir OUT_DIR`.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

FIRST = ["Marta", "Jonas", "Ilse", "Tomas", "Rhea", "Oskar", "Lena", "Piet", "Noor", "Emil", "Sanne",
         "Aurel", "Vera", "Milo", "Greta", "Anton", "Leona", "Ravi", "Ines", "Karel", "Sofia", "Bram",
         "Dora", "Felix", "Hana", "Ivo", "Juno", "Lotte", "Mads", "Nina", "Otto", "Petra"]
SYLLABLES = ["vel", "ors", "tam", "bri", "kol", "nev", "dar", "lun", "mir", "sto", "qua", "fen",
             "gal", "hes", "jor", "pel", "ras", "tov", "wen", "zar", "cal", "dem", "lis", "mor"]
TOWN_ENDS = ["haven", "by", "stad", "ford", "mere", "holm", "wick", "dale"]
ADJECTIVES = ["Glass", "Silent", "Copper", "Northern", "Hidden", "Paper", "Burning", "Quiet",
              "Salt", "Hollow", "Winter", "Crimson", "Distant", "Iron", "Velvet", "Broken"]
NOUNS = ["Orchard", "Harbour", "Lantern", "Meadow", "Tower", "River", "Garden", "Mirror",
         "Compass", "Island", "Bridge", "Furnace", "Archive", "Lighthouse", "Valley", "Engine"]
GENRES = ["drama", "comedy", "thriller", "documentary", "science fiction", "war"]
INDUSTRIES = ["software", "shipping", "furniture", "biotechnology", "solar energy", "toy"]
FIELDS = ["physics", "architecture", "economics", "music", "chemistry", "philosophy", "law"]
NATIONALITIES = ["Danish", "Dutch", "Czech", "Portuguese", "Norwegian", "Austrian", "Belgian"]


class Names:
    """Invented names, never the same one twice."""

    def __init__(self, rng: random.Random):
        self.rng, self.used = rng, set[str]()

    def fresh(self, make: Callable[[], str]) -> str:
        for _ in range(10_000):
            if (name := make()) not in self.used:
                self.used.add(name)
                return name
        raise ValueError("ran out of invented names: ask for fewer questions")

    def word(self, parts: int = 2) -> str:
        return "".join(self.rng.choice(SYLLABLES) for _ in range(parts)).capitalize()

    def person(self) -> str:
        return self.fresh(lambda: f"{self.rng.choice(FIRST)} {self.word()}")

    def town(self) -> str:
        return self.fresh(lambda: self.word() + self.rng.choice(TOWN_ENDS))

    def title(self) -> str:
        return self.fresh(lambda: f"The {self.rng.choice(ADJECTIVES)} {self.rng.choice(NOUNS)} of {self.word()}")

    def company(self) -> str:
        return self.fresh(lambda: f"{self.word()} {self.rng.choice(['Works', 'Labs', 'Group', 'Systems'])}")

    def university(self) -> str:
        return self.fresh(lambda: f"the University of {self.town()}")


@dataclass(frozen=True)
class Item:
    """One bridge question: its two documents (bridge first) and its answer."""

    question: str
    answer: str
    bridge: tuple[str, str]  # title, text
    target: tuple[str, str]


def person_doc(rng: random.Random, names: Names, person: str, town: str | None = None,
               university: str | None = None, spouse: str | None = None) -> tuple[str, str]:
    """A short biography; the facts a question may ask for, the rest filler."""
    town, university = town or names.town(), university or names.university()
    spouse = spouse or names.person()
    text = (f"{person} is a {rng.choice(NATIONALITIES)} {rng.choice(['artist', 'writer', 'engineer', 'director', 'entrepreneur'])} "
            f"who was born in {town} in {rng.randint(1931, 1990)}. {person.split()[0]} studied {rng.choice(FIELDS)} at "
            f"{university} and later moved to {names.town()}. {person.split()[0]} is married to {spouse}, "
            f"and the couple has {rng.randint(1, 4)} children.")
    return person, text


def film(rng: random.Random, names: Names) -> Item:
    title, director, town = names.title(), names.person(), names.town()
    bridge = (title, f"{title} is a {rng.randint(1961, 2020)} {rng.choice(GENRES)} film directed by {director}. "
                     f"It was shot in {names.town()} and premiered at a festival in {names.town()}.")
    q = rng.choice(["In which town was the director of {t} born?", "Where was the director of {t} born?"])
    return Item(q.format(t=title), town, bridge, person_doc(rng, names, director, town=town))


def company(rng: random.Random, names: Names) -> Item:
    firm, founder, university = names.company(), names.person(), names.university()
    bridge = (firm, f"{firm} is a {rng.choice(INDUSTRIES)} company founded in {rng.randint(1950, 2015)} by {founder}. "
                    f"Its headquarters are in {names.town()}.")
    q = "Which university did the founder of {t} attend?"
    return Item(q.format(t=firm), university.removeprefix("the "), bridge, person_doc(rng, names, founder, university=university))


def novel(rng: random.Random, names: Names) -> Item:
    book, author, spouse = names.title(), names.person(), names.person()
    bridge = (f"{book} (novel)", f"{book} is a {rng.randint(1920, 2020)} novel written by {author}. "
                                 f"It tells the story of a family in {names.town()}.")
    q = "Who is the author of the novel {t} married to?"
    return Item(q.format(t=book), spouse, bridge, person_doc(rng, names, author, spouse=spouse))


KINDS = (film, company, novel)


def build(n_questions: int, seed: int = 0, distractors: float = 1.0) -> tuple[list[Item], list[tuple[str, str]]]:
    """Questions (kinds in turn) and extra person documents (`distractors` per question)."""
    rng = random.Random(seed)
    names = Names(rng)
    items = [KINDS[i % len(KINDS)](rng, names) for i in range(n_questions)]
    extra = [person_doc(rng, names, names.person()) for _ in range(round(n_questions * distractors))]
    return items, extra


def write(folder: Path, items: Sequence[Item], extra: Sequence[tuple[str, str]], seed: int = 0) -> None:
    """The BEIR files; documents shuffled so a document's id says nothing about its role."""
    docs = [(f"q{i}-{role}", doc) for i, item in enumerate(items) for role, doc in (("a", item.bridge), ("b", item.target))]
    docs += [(f"x{i}", doc) for i, doc in enumerate(extra)]
    random.Random(seed).shuffle(docs)
    ids = {key: f"d{n:05d}" for n, (key, _) in enumerate(docs)}
    folder.mkdir(parents=True, exist_ok=True)
    _jsonl(folder / "corpus.jsonl", [{"_id": ids[k], "title": t, "text": x} for k, (t, x) in docs])
    _jsonl(folder / "queries.jsonl", [{"_id": f"q{i}", "text": it.question} for i, it in enumerate(items)])
    _jsonl(folder / "answers.jsonl", [{"_id": f"q{i}", "question": it.question, "answers": [it.answer]} for i, it in enumerate(items)])
    rows = [f"q{i}\t{ids[f'q{i}-{r}']}\t1" for i in range(len(items)) for r in "ab"]
    (folder / "qrels.tsv").write_text("query-id\tcorpus-id\tscore\n" + "\n".join(rows) + "\n", encoding="utf-8")


def _jsonl(path: Path, rows: list[dict]) -> None:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--questions", type=int, default=300)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    items, extra = build(args.questions, args.seed)
    write(args.out, items, extra, args.seed)
    print(f"{args.out}: {len(items)} questions, {2 * len(items) + len(extra)} documents")
    return 0


if __name__ == "__main__":
    sys.exit(main())
