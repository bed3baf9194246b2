"""Evaluation metrics, each a small pure function checked against hand-computed cases.

Ranking metrics follow trec_eval (what BEIR reports through pytrec_eval): relevance grades
from qrels (> 0 is relevant), nDCG with linear gain and log2 discount, MAP@k divided by the
number of relevant documents, MRR@k the reciprocal rank of the first relevant one.
Answer metrics follow SQuAD's evaluation script (normalised exact match and token F1, the
maximum over the gold answers) and ROUGE-L as the LCS F-measure.
"""

from __future__ import annotations

import math
import re
import string
from collections import Counter
from collections.abc import Mapping, Sequence

Qrels = Mapping[str, int]  # document id -> relevance grade, for one query


def recall_at(ranking: Sequence[str], qrels: Qrels, k: int) -> float:
    """Share of the relevant documents in the top k."""
    relevant = {d for d, grade in qrels.items() if grade > 0}
    if not relevant:
        return 0.0
    return len(relevant & set(ranking[:k])) / len(relevant)


def ndcg_at(ranking: Sequence[str], qrels: Qrels, k: int) -> float:
    """Normalised discounted cumulative gain of the top k (gain = the grade)."""
    dcg = sum(qrels.get(d, 0) / math.log2(i + 2) for i, d in enumerate(ranking[:k]))
    ideal = sorted((g for g in qrels.values() if g > 0), reverse=True)[:k]
    idcg = sum(g / math.log2(i + 2) for i, g in enumerate(ideal))
    return dcg / idcg if idcg else 0.0


def mrr_at(ranking: Sequence[str], qrels: Qrels, k: int) -> float:
    """1 / rank of the first relevant document in the top k (0 if none)."""
    for i, d in enumerate(ranking[:k]):
        if qrels.get(d, 0) > 0:
            return 1.0 / (i + 1)
    return 0.0


def average_precision_at(ranking: Sequence[str], qrels: Qrels, k: int) -> float:
    """Precision at each relevant rank within the top k, summed, over the number relevant."""
    relevant = sum(1 for g in qrels.values() if g > 0)
    if not relevant:
        return 0.0
    hits, total = 0, 0.0
    for i, d in enumerate(ranking[:k]):
        if qrels.get(d, 0) > 0:
            hits += 1
            total += hits / (i + 1)
    return total / relevant


def normalize_answer(text: str) -> str:
    """SQuAD normalisation: lower case, no punctuation, no articles, single spaces."""
    text = "".join(ch for ch in text.lower() if ch not in set(string.punctuation))
    text = re.sub(r"\b(a|an|the)\b", " ", text)
    return " ".join(text.split())


def exact_match(prediction: str, answers: Sequence[str]) -> float:
    return float(any(normalize_answer(prediction) == normalize_answer(a) for a in answers))


def token_f1(prediction: str, answers: Sequence[str]) -> float:
    """SQuAD token F1, the best over the gold answers."""
    return max((_f1(normalize_answer(prediction).split(), normalize_answer(a).split()) for a in answers), default=0.0)  # fmt: skip


def _f1(predicted: list[str], gold: list[str]) -> float:
    if not predicted or not gold:
        return float(predicted == gold)
    common = sum((Counter(predicted) & Counter(gold)).values())
    if common == 0:
        return 0.0
    precision, recall = common / len(predicted), common / len(gold)
    return 2 * precision * recall / (precision + recall)


def rouge_l(prediction: str, reference: str) -> float:
    """ROUGE-L F-measure: longest common subsequence of lower-cased word tokens."""
    p, r = _words(prediction), _words(reference)
    if not p or not r:
        return 0.0
    lcs = _lcs(p, r)
    if lcs == 0:
        return 0.0
    precision, recall = lcs / len(p), lcs / len(r)
    return 2 * precision * recall / (precision + recall)


def _words(text: str) -> list[str]:
    return re.findall(r"[a-z0-9]+", text.lower())


def _lcs(a: Sequence[str], b: Sequence[str]) -> int:
    previous = [0] * (len(b) + 1)
    for x in a:
        current = [0]
        for j, y in enumerate(b):
            current.append(previous[j] + 1 if x == y else max(previous[j + 1], current[j]))
        previous = current
    return previous[-1]


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
