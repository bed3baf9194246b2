"""Routing evaluation: accuracy, per-label precision/recall/F1, confusion matrix, calibration
(10-bin expected calibration error) and latency of a router.

    mmrag eval routing --queries FILE.json [--router trained|llm|hybrid] [--json OUT]
    HF_HUB_OFFLINE=1 python -m eval.routing --cv 5 [--data train.json] [--compare] [--json OUT]

FILE.json is a JSON array of {"question", "gt_retrieval"} objects; labels are the names
no/paragraph/document/image/clip/video or the integers 0-5. The last line printed is
`accuracy=<float>`. `trained` (the default): accuracy from one batched pass (sorted by
length, 128 a batch); latency p50/p95 from single-question calls (`route`) on a sample,
encoding included. `llm` and `hybrid` run the agent's Router (agents.route) over all six
labels with the configured answer model (the embedded server is started when no base_url is
set), 8 questions in flight; their latency is per question, one at a time.
`--cv K` runs stratified K-fold cross-validation of the training recipe; `--compare` adds
the two baselines (MiniLM embedding + logistic regression, word+char TF-IDF + linear SVM).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import confusion_matrix, precision_recall_fscore_support
from sklearn.model_selection import StratifiedKFold
from sklearn.pipeline import make_pipeline, make_union
from sklearn.preprocessing import normalize
from sklearn.svm import LinearSVC

from agents.route import LLMRouter, Router
from agents.routing import (
    DEFAULT_DATA,
    DEFAULT_DIR,
    LABELS,
    TrainedRouter,
    encode_layers,
    label_name,
    load_labelled,
    normalize_question,
    train,
)
from agents.state import RouteDecision
from eval.report import confusion_plot, figures_table, meta, write
from rag.library import Library

os.environ.setdefault("HF_HUB_OFFLINE", "1")


def expected_calibration_error(proba: np.ndarray, y: np.ndarray, bins: int = 10) -> float:
    """Top-label ECE: |accuracy - confidence| averaged over equal-width confidence bins."""
    confidence, correct = proba.max(1), (proba.argmax(1) == y)
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.digitize(confidence, edges[1:-1], right=True), 0, bins - 1)
    gaps = [abs(correct[which == b].mean() - confidence[which == b].mean()) * (which == b).mean() for b in range(bins) if (which == b).any()]  # fmt: skip
    return float(sum(gaps))


def classification_metrics(y: np.ndarray, proba: np.ndarray) -> dict[str, Any]:
    """Accuracy, per-label P/R/F1/support, confusion matrix (rows = truth) and ECE."""
    pred = proba.argmax(1)
    p, r, f, s = precision_recall_fscore_support(
        y, pred, labels=range(len(LABELS)), zero_division=0
    )
    per_label = {
        LABELS[i]: {"precision": float(p[i]), "recall": float(r[i]), "f1": float(f[i]), "support": int(s[i])}
        for i in range(len(LABELS))
    }  # fmt: skip
    return {
        "n": len(y),
        "accuracy": float((pred == y).mean()),
        "per_label": per_label,
        "confusion": confusion_matrix(y, pred, labels=range(len(LABELS))).tolist(),
        "ece": expected_calibration_error(proba, y),
    }


def single_latency_ms(
    route: Callable[[str], object], questions: Sequence[str], sample: int = 100
) -> dict[str, float]:
    """p50/p95 milliseconds of `route(question)` one question at a time (encoding included)."""
    rng = np.random.default_rng(0)
    chosen = rng.choice(len(questions), size=min(sample, len(questions)), replace=False)
    route(questions[int(chosen[0])])  # warm-up: first call pays lazy initialisation
    times = []
    for i in chosen:
        start = time.perf_counter()
        route(questions[int(i)])
        times.append((time.perf_counter() - start) * 1000)
    return {
        "p50": float(np.percentile(times, 50)),
        "p95": float(np.percentile(times, 95)),
        "n": len(times),
    }


def evaluate(
    router: TrainedRouter,
    questions: Sequence[str],
    labels: Sequence[int | str],
    latency_sample: int = 100,
) -> dict[str, Any]:
    """Metrics of `router` on labelled questions, with batch time and single-question latency."""
    y = np.array([LABELS.index(label_name(label)) for label in labels])
    start = time.perf_counter()
    proba = router.predict_proba(questions)
    batch_s = time.perf_counter() - start
    result = classification_metrics(y, proba)
    result["batch_seconds"] = batch_s
    result["batch_ms_per_question"] = 1000 * batch_s / max(len(questions), 1)
    result["latency_ms"] = (
        single_latency_ms(router.route, questions, latency_sample) if latency_sample else {}
    )
    return result


# Every label searchable: routing is judged on labels, whatever corpora this config has.
ALL_LABELS: dict[str, tuple[str, ...]] = {"no": ()} | {label: (label,) for label in LABELS[1:]}


def evaluate_policy(
    router: Router,
    questions: Sequence[str],
    labels: Sequence[int | str],
    latency_sample: int = 100,
    workers: int = 8,
) -> dict[str, Any]:
    """Metrics of the agent's routing policy (llm or hybrid): the first label of each
    decision, who decided it, batch time with `workers` questions in flight, latency."""

    def decide(question: str) -> RouteDecision:
        return router.decide(question, ALL_LABELS)  # type: ignore[arg-type]

    y = np.array([LABELS.index(label_name(label)) for label in labels])
    start = time.perf_counter()
    with ThreadPoolExecutor(workers) as pool:
        decisions = list(pool.map(decide, questions))
    batch_s = time.perf_counter() - start
    chosen = np.eye(len(LABELS))[[LABELS.index(d.label) for d in decisions]]
    result = classification_metrics(y, chosen)
    del result["ece"]  # a bare LLM choice carries no probability to calibrate
    result["decided_by"] = dict(Counter(d.decided_by for d in decisions))
    result["batch_seconds"] = batch_s
    result["batch_ms_per_question"] = 1000 * batch_s / max(len(questions), 1)
    result["latency_ms"] = (
        single_latency_ms(decide, questions, latency_sample) if latency_sample else {}
    )
    return result


def policy_router(mode: str, library: Library, model: Path) -> Router:
    """The agent's Router in `mode` (llm | hybrid) with the library's answer model."""
    config = library.config.agent.model_copy(update={"router": mode})
    trained = TrainedRouter.load(model) if mode == "hybrid" else None
    llm = LLMRouter(library.generator, library.config, config.router_max_tokens)
    return Router(config, trained, llm)


def cross_validate(questions: Sequence[str], labels: Sequence[int | str], folds: int = 5, seed: int = 0, compare: bool = False) -> dict[str, Any]:  # fmt: skip
    """Stratified K-fold CV of `train` (MiniLM features computed once), optionally with baselines."""
    texts = np.array([normalize_question(q) for q in questions], dtype=object)
    y = np.array([LABELS.index(label_name(label)) for label in labels])
    dense = encode_layers(list(texts))
    splits = list(StratifiedKFold(folds, shuffle=True, random_state=seed).split(texts, y))
    calibrated, raw = np.zeros((len(y), len(LABELS))), np.zeros((len(y), len(LABELS)))
    for tr, te in splits:
        router = train(list(texts[tr]), y[tr], dense=dense[tr], seed=seed)
        calibrated[te] = router.proba_from(list(texts[te]), dense[te])
        raw[te] = router.proba_from(list(texts[te]), dense[te], calibrated=False)
    result = {"folds": folds, "chosen": _cv_summary(calibrated, y, splits)}
    result["chosen"]["ece_uncalibrated"] = expected_calibration_error(raw, y)
    if compare:
        result["baselines"] = {name: _cv_summary(_oof(make, texts, dense, y, splits), y, splits) for name, make in BASELINES.items()}  # fmt: skip
    return result


def _minilm_logreg(texts: np.ndarray, dense: np.ndarray, tr: np.ndarray, te: np.ndarray, y: np.ndarray) -> np.ndarray:  # fmt: skip
    """Baseline: the sentence embedding (normalised mean of the last layer) + logistic regression."""
    sentence = normalize(dense[:, 6 * 384 : 7 * 384])
    model = LogisticRegression(C=10.0, max_iter=3000).fit(sentence[tr], y[tr])
    return model.predict_proba(sentence[te])


def _tfidf_svm(texts: np.ndarray, dense: np.ndarray, tr: np.ndarray, te: np.ndarray, y: np.ndarray) -> np.ndarray:  # fmt: skip
    """Baseline: lowercased word 1-2-gram + char_wb 2-5-gram TF-IDF and a linear SVM (one-hot)."""
    features = make_union(
        TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True),
        TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True, lowercase=False),
    )
    model = make_pipeline(features, LinearSVC(C=1.0)).fit(texts[tr], y[tr])
    return np.eye(len(LABELS))[model.predict(texts[te])]


BASELINES = {"minilm+logreg": _minilm_logreg, "tfidf(word+char)+linearsvc": _tfidf_svm}


def _oof(
    make: Any, texts: np.ndarray, dense: np.ndarray, y: np.ndarray, splits: list
) -> np.ndarray:
    """Out-of-fold probabilities of one baseline."""
    out = np.zeros((len(y), len(LABELS)))
    for tr, te in splits:
        out[te] = make(texts, dense, tr, te, y)
    return out


def _cv_summary(proba: np.ndarray, y: np.ndarray, splits: list) -> dict[str, Any]:
    """Out-of-fold metrics plus accuracy mean and std over the folds."""
    fold_acc = [float((proba[te].argmax(1) == y[te]).mean()) for _, te in splits]
    summary = classification_metrics(y, proba)
    summary |= {"fold_accuracy": fold_acc, "accuracy_mean": float(np.mean(fold_acc)), "accuracy_std": float(np.std(fold_acc))}  # fmt: skip
    return summary


def format_metrics(m: dict[str, Any]) -> list[str]:
    """Per-label table and confusion matrix as text lines."""
    lines = [f"{'label':<10}{'precision':>10}{'recall':>8}{'f1':>8}{'support':>9}"]
    for label, v in m["per_label"].items():
        lines.append(
            f"{label:<10}{v['precision']:>10.3f}{v['recall']:>8.3f}{v['f1']:>8.3f}{v['support']:>9d}"
        )
    lines += ["", "confusion (rows = truth, columns = predicted)", " " * 10 + "".join(f"{lab[:8]:>9}" for lab in LABELS)]  # fmt: skip
    lines += [
        f"{LABELS[i]:<10}" + "".join(f"{c:>9d}" for c in row)
        for i, row in enumerate(m["confusion"])
    ]
    return lines


def report(result: dict[str, Any]) -> str:
    """A readable report; its last line is `accuracy=<float>`."""
    if "folds" in result:
        return _cv_report(result)
    lat = result["latency_ms"]
    lines = [f"router: {result.get('router', 'trained')}, questions: {result['n']}", *format_metrics(result), ""]
    if "ece" in result:
        lines.append(f"ECE (10 bins): {result['ece']:.4f}")
    if "decided_by" in result:
        lines.append("decided by: " + ", ".join(f"{k} {v}" for k, v in result["decided_by"].items()))
    lines.append(
        f"batch: {result['batch_seconds']:.2f} s ({result['batch_ms_per_question']:.2f} ms/question)"
    )
    if lat:
        lines.append(
            f"single-question latency: p50 {lat['p50']:.1f} ms, p95 {lat['p95']:.1f} ms (n={lat['n']})"
        )
    return "\n".join([*lines, f"accuracy={result['accuracy']:.4f}"])


def _cv_report(result: dict[str, Any]) -> str:
    """Report of a cross-validation run."""
    chosen, lines = result["chosen"], []
    for name, m in (result.get("baselines") or {}).items():
        lines.append(
            f"baseline {name}: accuracy {m['accuracy_mean']:.4f} ± {m['accuracy_std']:.4f}"
        )
    lines.append(f"trained router, {result['folds']}-fold CV: accuracy {chosen['accuracy_mean']:.4f} ± {chosen['accuracy_std']:.4f}")  # fmt: skip
    lines += [*format_metrics(chosen), ""]
    lines.append(
        f"ECE (10 bins): {chosen['ece_uncalibrated']:.4f} uncalibrated -> {chosen['ece']:.4f} calibrated"
    )
    return "\n".join([*lines, f"accuracy={chosen['accuracy']:.4f}"])


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: evaluate on a query file, or cross-validate on the training file."""
    parser = argparse.ArgumentParser(
        prog="python -m eval.routing", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--queries", type=Path, help="JSON array of {question, gt_retrieval}")
    parser.add_argument("--router", choices=("trained", "llm", "hybrid"), default="trained",
                        help="routing policy to evaluate (llm, hybrid: with the configured answer model)")
    parser.add_argument("--config", type=Path, help="mmrag config (llm, hybrid: the answer model)")
    parser.add_argument(
        "--model", type=Path, default=DEFAULT_DIR, help="router folder (default: shipped)"
    )
    parser.add_argument(
        "--cv", type=int, metavar="K", help="stratified K-fold CV on --data instead"
    )
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="training file for --cv")
    parser.add_argument("--compare", action="store_true", help="with --cv: also the two baselines")
    parser.add_argument(
        "--latency-sample", type=int, default=100, help="single-question calls timed"
    )
    parser.add_argument("--json", type=Path, help="write all results to this file")
    args = parser.parse_args(argv)
    if (args.queries is None) == (args.cv is None):
        parser.error("give exactly one of --queries FILE or --cv K")
    if args.cv is not None:
        result = cross_validate(*load_labelled(args.data), folds=args.cv, compare=args.compare)
    elif args.router == "trained":
        load_start = time.perf_counter()
        router = TrainedRouter.load(args.model)
        result = {"router": "trained", "model": str(args.model), "load_seconds": time.perf_counter() - load_start}
        result |= evaluate(router, *load_labelled(args.queries), latency_sample=args.latency_sample)
    else:
        questions, labels = load_labelled(args.queries)
        with Library.from_config(args.config) as library:
            policy = policy_router(args.router, library, args.model)
            result = {"router": args.router, "model": str(args.model), "answer_model": library.generator().model}
            result |= evaluate_policy(policy, questions, labels, args.latency_sample)
    write_report(result, args)
    print(report(result))
    return 0


def write_report(result: dict[str, Any], args: argparse.Namespace) -> None:
    """The JSON result (with command, meta and flat figures) and its markdown report with the
    confusion-matrix plot, at --json or eval/results/routing-<name>.json."""
    metrics_ = result.get("chosen", result)
    figures = {"accuracy": metrics_["accuracy"], "macro_f1": float(np.mean([v["f1"] for v in metrics_["per_label"].values()]))}  # fmt: skip
    figures |= {f"{label} f1": v["f1"] for label, v in metrics_["per_label"].items()}
    if "ece" in metrics_:
        figures["ece"] = metrics_["ece"]
    if lat := metrics_.get("latency_ms"):
        figures |= {"latency_p50_ms": lat["p50"], "latency_p95_ms": lat["p95"]}
    name = (args.data if args.cv else args.queries).stem
    result |= {"command": "routing", "meta": meta(None, router=args.router, cv=args.cv), "figures": figures}
    out = args.json or Path("eval/results") / f"routing-{name}{'-cv' if args.cv else ''}.json"
    title = f"Routing: {name} ({f'{args.cv}-fold CV' if args.cv else args.router + ' router'})"
    body = ["```", *format_metrics(metrics_), "```", "", *figures_table(figures)]
    write(result, out, title, body, {"confusion": confusion_plot(metrics_["confusion"], LABELS)})


if __name__ == "__main__":
    sys.exit(main())
