"""The second retrieval hop (agents.rewrite) on this project's own multi-hop set
(eval.multihop: invented names, so no model knows the answers): real MiniLM and Chroma for
the follow-up queries; the agent's rewrite round through the real embedded vLLM server."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from agents import Agent, AgentConfig
from agents.nodes import best_round
from agents.rewrite import bridge_names, follow_up, llm_query, missing_words
from agents.state import HitsEvent, Round, Verdict
from eval.beir import Beir, indexed
from eval.multihop import build, write
from eval.retrieval import text_corpora
from rag.core.config import Config
from rag.core.items import Hit, Span
from rag.generation.answer import Answer, Citation
from rag.library import Library

QUESTIONS = 12
CORPUS = "text-paragraph"


@dataclass
class MultiHop:
    library: Library
    beir: Beir
    stems: dict[str, str]  # file stem -> document id

    def doc(self, hit: Hit) -> str:
        return self.stems[Path(hit.source).stem]

    def gold(self, qid: str) -> tuple[str, str]:
        bridge, target = self.beir.qrels[qid]  # written in this order: bridge, then target
        return bridge, target

    def search(self, query: str, k: int = 10) -> list[Hit]:
        return self.library.search(query, corpus=CORPUS, k=k)


@pytest.fixture(scope="module")
def multihop(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MultiHop]:
    root = tmp_path_factory.mktemp("multihop")
    items, extra = build(QUESTIONS)
    write(root / "beir", items, extra)
    beir, config = Beir.load(root / "beir"), Config()
    # Title links off: the retriever's own bridge hop would find every target (see
    # tests/retrievers/test_lexicon.py); this is the agent's hop, for text without titles.
    (corpus,) = text_corpora(config, ("paragraph",))
    corpus = corpus.model_copy(update={"encoder": corpus.encoder.model_copy(update={"links": False})})
    with indexed(beir, config, [corpus], root / "work") as (library, stems, _):
        yield MultiHop(library, beir, stems)


def test_bridge_name_and_missing_words_come_from_the_first_hop(multihop: MultiHop) -> None:
    question = multihop.beir.queries["q0"]  # "... the director of <film> born?"
    top = multihop.search(question, k=1)
    bridge, target = multihop.gold("q0")
    assert multihop.doc(top[0]) == bridge
    names, source = bridge_names(question, top)
    person = multihop.beir.corpus[target]["title"]  # the target document is the director's biography
    assert names[0] == person and source == top[0]
    assert "born" in missing_words(question, top)


def test_follow_up_finds_the_document_plain_search_misses(multihop: MultiHop) -> None:
    plain_found, hop_found = 0, 0
    for qid in multihop.beir.judged():
        question = multihop.beir.queries[qid]
        _, target = multihop.gold(qid)
        first = multihop.search(question)
        plain_found += target in {multihop.doc(h) for h in first[:3]}
        hop = follow_up(question, first[:1], multihop.search, [question])
        assert hop is not None, question
        found = {multihop.doc(h) for h in multihop.search(hop.query) if h.id in hop.connecting}
        hop_found += target in found
    assert hop_found == QUESTIONS
    assert plain_found <= QUESTIONS // 2  # the set really needs the hop


def test_no_follow_up_when_the_chain_is_complete(multihop: MultiHop) -> None:
    question = multihop.beir.queries["q1"]
    bridge, target = multihop.gold("q1")
    both = [h for h in multihop.search(question, k=50) if multihop.doc(h) in (bridge, target)]
    assert len(both) == 2
    assert follow_up(question, both, multihop.search, [question]) is None


def test_an_empty_llm_query_falls_back_to_the_feedback_query(multihop: MultiHop) -> None:
    question = multihop.beir.queries["q2"]
    first = multihop.search(question, k=1)
    written = follow_up(question, first, multihop.search, [question], write=lambda missing: "")
    plain = follow_up(question, first, multihop.search, [question])
    assert written is not None and plain is not None and written.query == plain.query
    assert follow_up(question, first, multihop.search, [question, plain.query]) is None  # never twice


@pytest.mark.server
@pytest.mark.slow
def test_agent_takes_a_second_hop_and_keeps_both_documents(multihop: MultiHop, answer_library: Library) -> None:
    config = multihop.library.config.model_copy(update={"embedded": answer_library.config.embedded})
    with Library(config) as library:  # the session's embedded server, reused
        question = multihop.beir.queries["q0"]
        bridge, target = multihop.gold("q0")
        events = list(Agent(library, AgentConfig(router="trained")).stream(question, route="paragraph"))
        answer = events[-1].answer
        first = answer.verdicts[0]
        assert first.action == "rewrite" and "follow-up query" in first.reason
        hops = [e for e in events if isinstance(e, HitsEvent) and e.query]
        assert len(hops) == 1 and hops[0].round == 1
        assert {bridge, target} <= {multihop.doc(s.hit) for s in answer.kept}
        assert answer.rounds[1].query == hops[0].query

        off = Agent(library, AgentConfig(router="trained", rewrite="off")).ask(question, route="paragraph")
        assert all(v.action != "rewrite" for v in off.verdicts)
        assert target not in {multihop.doc(s.hit) for s in off.kept}


@pytest.mark.server
def test_llm_mode_asks_the_served_model_for_one_query_line(multihop: MultiHop, answer_library: Library) -> None:
    question = multihop.beir.queries["q0"]
    first = multihop.search(question, k=1)
    line = llm_query(answer_library.generator(), question, first, ["director", "born"], 24)
    assert line.strip() and "\n" not in line and len(line.split()) <= 24


def test_best_round_prefers_the_later_of_equal_rounds() -> None:
    """A second hop (or a wider k) holds the earlier round's evidence too: of two accepted
    rounds the later is kept, and of two supported ones with equal coverage in the same
    corpora the later; a re-routed round must cover more to replace an earlier one."""
    hit = Hit("h", CORPUS, 0.9, "doc.txt", "text", "paragraph", "Marta Velin was born in Tarsk.", Span())

    def round_(n: int, ok: bool, coverage: float, cited: bool = True) -> Round:
        answer = Answer("q", f"answer {n}", [Citation(1, hit)] if cited else [], [hit], {})
        verdict = Verdict(n, ok, ok, coverage, answer.grounding, "end", "")
        return Round(n, ("paragraph",), (CORPUS,), 3, None, answer, verdict)

    assert best_round([round_(0, True, 1.0), round_(1, True, 0.8)]).round == 1
    assert best_round([round_(0, False, 0.4), round_(1, False, 0.4)]).round == 1
    assert best_round([round_(0, False, 0.6), round_(1, False, 0.4)]).round == 0
    assert best_round([round_(0, False, 0.6), round_(1, False, 0.0, cited=False)]).round == 0
    rerouted = round_(2, False, 0.4)
    rerouted.corpora = ("image",)  # another corpus: the earlier round, the router's first choice, stands
    assert best_round([round_(0, False, 0.4), round_(1, False, 0.4), rerouted]).round == 1
