"""A small BEIR-layout dataset written for these tests (not from any public benchmark): twelve
documents on distinct topics, five single-hop queries and one two-document (multi-hop) query,
with gold answers for the answer evaluation."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

DOCS = {
    "lighthouse": ("Lighthouses", "The Fresnel lens lets a lighthouse beam reach thirty kilometres out to sea."),
    "bees": ("Honey bees", "A honey bee colony keeps its hive at thirty five degrees with wing fanning."),
    "glacier": ("Glaciers", "Glaciers carve U-shaped valleys as they slide slowly downhill over bedrock."),
    "violin": ("Violins", "A violin has four strings tuned in fifths: G, D, A and E."),
    "bread": ("Sourdough", "Sourdough bread rises through wild yeast and lactic acid bacteria in the starter."),
    "tides": ("Tides", "Ocean tides are caused mainly by the gravitational pull of the Moon."),
    "maple": ("Maple syrup", "About forty litres of maple sap are boiled down to make one litre of syrup."),
    "chess": ("Chess", "In chess the knight moves in an L shape: two squares one way and one square sideways."),
    "volcano": ("Volcanoes", "Shield volcanoes such as Mauna Loa are built by runny basaltic lava flows."),
    "penguin": ("Penguins", "Emperor penguins huddle together to survive the Antarctic winter."),
    "author": ("Marta Kowalska", "Marta Kowalska wrote the novel The Salt Road in 1998."),
    "birthplace": ("The Salt Road author", "The author of The Salt Road was born in the port city of Gdansk."),
}
QUERIES = {
    "q1": ("How far can a lighthouse beam reach?", {"lighthouse": 1}, ["thirty kilometres"]),
    "q2": ("How many strings does a violin have?", {"violin": 1}, ["four"]),
    "q3": ("What causes ocean tides?", {"tides": 1}, ["the gravitational pull of the Moon"]),
    "q4": ("How much sap makes one litre of maple syrup?", {"maple": 1}, ["forty litres"]),
    "q5": ("How does a knight move in chess?", {"chess": 1}, ["in an L shape"]),
    "q6": ("In which city was the writer of the 1998 novel The Salt Road born?", {"author": 1, "birthplace": 2}, ["Gdansk"]),
}


@pytest.fixture(scope="session")
def beir_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("beir")
    (root / "qrels").mkdir()
    with (root / "corpus.jsonl").open("w") as fh:
        for doc_id, (title, text) in DOCS.items():
            fh.write(json.dumps({"_id": doc_id, "title": title, "text": text}) + "\n")
    with (root / "queries.jsonl").open("w") as fh:
        for qid, (text, _, _) in QUERIES.items():
            fh.write(json.dumps({"_id": qid, "text": text}) + "\n")
    lines = ["query-id\tcorpus-id\tscore"] + [f"{q}\t{d}\t{g}" for q, (_, rel, _) in QUERIES.items() for d, g in rel.items()]
    (root / "qrels" / "test.tsv").write_text("\n".join(lines) + "\n")
    with (root / "answers.jsonl").open("w") as fh:
        for qid, (text, _, answers) in QUERIES.items():
            fh.write(json.dumps({"_id": qid, "question": text, "answers": answers}) + "\n")
    return root
