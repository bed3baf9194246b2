"""Evaluation metrics, each a small function checked against hand-computed cases.

Ranking metrics are ir-measures' (trec_eval through pytrec_eval, what BEIR reports; MRR@k
through its msmarco provider): relevance grades from qrels (> 0 is relevant), nDCG with
linear gain and log2 discount, MAP@k divided by the number of relevant documents, MRR@k the
reciprocal rank of the first relevant one. Answer metrics follow SQuAD's evaluation script
(normalised exact match and token F1, the maximum over the gold answers); ROUGE-L is
rouge-score's LCS F-measure.
"""

from __future__ import annotations

import re
import string
from collections import Counter
from collections.abc import Mapping, Sequence
from functools import cache
from typing import TYPE_CHECKING

import ir_measures
from ir_measures import AP, RR, R, nDCG

if TYPE_CHECKING:
    from rouge_score.rouge_scorer import RougeScorer

Qrels = Mapping[str, int]  # document id -> relevance grade, for one query


def _trec(measure: ir_measures.Measure, ranking: Sequence[str], qrels: Qrels) -> float:
    """One query's `measure` by ir-measures; 0 with nothing ranked or nothing relevant (where
    the library reports no value or NaN). A document ranked twice counts at its first rank."""
    if not ranking or not any(grade > 0 for grade in qrels.values()):
        return 0.0
    ranked = dict.fromkeys(ranking)
    run = {"q": {d: float(len(ranked) - i) for i, d in enumerate(ranked)}}  # trec_eval sorts by score
    judged = {"q": {d: int(grade) for d, grade in qrels.items()}}
    return float(ir_measures.calc_aggregate([measure], judged, run)[measure])


def recall_at(ranking: Sequence[str], qrels: Qrels, k: int) -> float:
    """Share of the relevant documents in the top k."""
    return _trec(R @ k, ranking, qrels)


def ndcg_at(ranking: Sequence[str], qrels: Qrels, k: int) -> float:
    """Normalised discounted cumulative gain of the top k (gain = the grade, none below 0)."""
    return _trec(nDCG @ k, ranking, qrels)


def mrr_at(ranking: Sequence[str], qrels: Qrels, k: int) -> float:
    """1 / rank of the first relevant document in the top k (0 if none)."""
    return _trec(RR @ k, ranking, qrels)


def average_precision_at(ranking: Sequence[str], qrels: Qrels, k: int) -> float:
    """Precision at each relevant rank within the top k, summed, over the number relevant."""
    return _trec(AP @ k, ranking, qrels)


def normalize_answer(text: str) -> str:
    """SQuAD normalisation: lower case, no punctuation, no articles, single spaces."""
    text = "".join(ch for ch in text.lower() if ch not in set(string.punctuation))
    text = re.sub(r"\b(a|an|the)\b", " ", text)
    return " ".join(text.split())


def exact_match(prediction: str, answers: Sequence[str]) -> float:
    return float(any(normalize_answer(prediction) == normalize_answer(a) for a in answers))


def token_f1(prediction: str, answers: Sequence[str]) -> float:
    """SQuAD token F1, the best over the gold answers."""
    return max((_f1(normalize_answer(prediction).split(), normalize_answer(a).split()) for a in answers), default=0.0)


def _f1(predicted: list[str], gold: list[str]) -> float:
    if not predicted or not gold:
        return float(predicted == gold)
    common = sum((Counter(predicted) & Counter(gold)).values())
    if common == 0:
        return 0.0
    precision, recall = common / len(predicted), common / len(gold)
    return 2 * precision * recall / (precision + recall)


def rouge_l(prediction: str, reference: str) -> float:
    """ROUGE-L F-measure: longest common subsequence of lower-cased [a-z0-9]+ word tokens."""
    return float(_rouge_scorer().score(reference, prediction)["rougeL"].fmeasure)


@cache
def _rouge_scorer() -> RougeScorer:
    """rouge-score's scorer, no stemming; imported on first use (it loads nltk, about a second)."""
    from rouge_score.rouge_scorer import RougeScorer

    return RougeScorer(["rougeL"])


def choice_of(prediction: str, choices: Sequence[str]) -> int | None:
    """Which multiple-choice option an answer picks: a leading letter ("B", "(b)", "B."),
    else the one option whose normalised text it contains; None when unclear."""
    letters = string.ascii_uppercase[: len(choices)]
    match = re.match(r"\s*\(?([A-Za-z])[).:\s]", prediction + " ")
    if match and match.group(1).upper() in letters:
        return letters.index(match.group(1).upper())
    said = normalize_answer(prediction)
    inside = [i for i, c in enumerate(choices) if normalize_answer(c) and normalize_answer(c) in said]
    return inside[0] if len(inside) == 1 else None


def precision_recall(predicted: set[str], gold: set[str]) -> tuple[float, float]:
    """Precision and recall of cited ids against gold evidence ids (gold must be non-empty;
    no citations is precision 0)."""
    common = len(predicted & gold)
    return (common / len(predicted) if predicted else 0.0), common / len(gold)
