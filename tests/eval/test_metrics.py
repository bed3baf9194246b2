"""Metric functions against cases computed by hand."""

from __future__ import annotations

import math

import pytest

from eval import metrics

QRELS = {"a": 1, "c": 2, "x": 0}  # x is judged but not relevant


def test_recall_counts_relevant_documents_only() -> None:
    ranking = ["b", "a", "x", "c"]
    assert metrics.recall_at(ranking, QRELS, 1) == 0.0
    assert metrics.recall_at(ranking, QRELS, 2) == 0.5
    assert metrics.recall_at(ranking, QRELS, 4) == 1.0
    assert metrics.recall_at(ranking, {"x": 0}, 4) == 0.0


def test_ndcg_uses_graded_gain_and_log2_discount() -> None:
    # DCG = 1/log2(3) + 2/log2(5); ideal = 2/log2(2) + 1/log2(3)
    dcg = 1 / math.log2(3) + 2 / math.log2(5)
    idcg = 2 / 1 + 1 / math.log2(3)
    assert metrics.ndcg_at(["b", "a", "x", "c"], QRELS, 10) == pytest.approx(dcg / idcg)
    assert metrics.ndcg_at(["c", "a"], QRELS, 10) == pytest.approx(1.0)
    assert metrics.ndcg_at(["a"], QRELS, 1) == pytest.approx(1 / 2)  # ideal top-1 is c (gain 2)


def test_mrr_and_average_precision() -> None:
    assert metrics.mrr_at(["b", "x", "c"], QRELS, 10) == pytest.approx(1 / 3)
    assert metrics.mrr_at(["b", "x", "c"], QRELS, 2) == 0.0
    # relevant at ranks 2 and 4: (1/2 + 2/4) / 2 relevant
    assert metrics.average_precision_at(["b", "a", "x", "c"], QRELS, 10) == pytest.approx(0.5)
    # only rank 2 within k=3, still divided by the 2 relevant documents
    assert metrics.average_precision_at(["b", "a", "x", "c"], QRELS, 3) == pytest.approx(0.25)


def test_squad_normalisation_exact_match_and_f1() -> None:
    assert metrics.normalize_answer("The  Eiffel-Tower!") == "eiffeltower"
    assert metrics.normalize_answer("an Apple, a pear") == "apple pear"
    assert metrics.exact_match("the Moon.", ["Moon", "Luna"]) == 1.0
    assert metrics.exact_match("Moon landing", ["Moon"]) == 0.0
    # prediction "thirty kilometres out" vs gold "thirty kilometres": P = 2/3, R = 1
    assert metrics.token_f1("thirty kilometres out", ["thirty kilometres"]) == pytest.approx(0.8)
    assert metrics.token_f1("nothing alike", ["thirty kilometres", "nothing"]) == pytest.approx(2 / 3)
    assert metrics.token_f1("", [""]) == 1.0 and metrics.token_f1("x", []) == 0.0


def test_rouge_l_is_the_lcs_f_measure() -> None:
    # LCS("the cat sat on the mat", "the cat lay on the mat") = the cat on the mat = 5
    assert metrics.rouge_l("the cat sat on the mat", "the cat lay on the mat") == pytest.approx(5 / 6)
    # LCS = 2 (a, c): P = 2/3, R = 2/4
    assert metrics.rouge_l("a b c", "a x c y") == pytest.approx(2 * (2 / 3) * 0.5 / (2 / 3 + 0.5))
    assert metrics.rouge_l("", "a") == 0.0


def test_multiple_choice_reads_a_letter_or_a_unique_option() -> None:
    choices = ["Paris", "Lyon", "Nice"]
    assert metrics.choice_of("B", choices) == 1
    assert metrics.choice_of("(c) Nice", choices) == 2
    assert metrics.choice_of("It is Paris, the capital.", choices) == 0
    assert metrics.choice_of("Paris or Lyon", choices) is None
    assert metrics.choice_of("Z. none", choices) is None


def test_citation_precision_and_recall() -> None:
    assert metrics.precision_recall({"a", "b"}, {"a", "c", "d"}) == (0.5, pytest.approx(1 / 3))
    assert metrics.precision_recall(set(), {"a"}) == (0.0, 0.0)


def test_a_cited_source_counts_once_whichever_id_the_gold_uses() -> None:
    from eval.answers import cited_ids
    from rag.core.items import Hit, Span

    def hit(source: str, item: str) -> Hit:
        return Hit(item, "c", 0.5, source, "text", "paragraph", "t", Span())

    hits = [hit("/d/pasta_guide.html", "a1"), hit("/d/pasta_guide.html", "a2"), hit("/d/moon.md", "b1")]
    cited = cited_ids(hits, {}, {"pasta_guide.html"})
    assert cited == {"pasta_guide.html", "moon.md"}
    assert metrics.precision_recall(cited, {"pasta_guide.html"}) == (0.5, 1.0)
    assert cited_ids(hits, {"pasta_guide": "doc-7"}, {"doc-7"}) == {"doc-7"}  # BEIR: file stem -> doc id


def test_negative_grades_gain_nothing_as_in_trec_eval() -> None:
    # x is judged -1 (e.g. spam): trec_eval gives it gain 0, not -1; DCG = 1/log2(3), ideal = 1
    qrels = {"a": 1, "x": -1}
    assert metrics.ndcg_at(["x", "a"], qrels, 10) == pytest.approx(1 / math.log2(3))
    assert metrics.recall_at(["x", "a"], qrels, 1) == 0.0 and metrics.mrr_at(["x", "a"], qrels, 10) == 0.5
