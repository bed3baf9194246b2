"""Routing evaluation: accuracy, per-label precision/recall/F1, confusion matrix, calibration
(10-bin expected calibration error) and latency of a routing policy, on labelled sets side by
side; and the end-to-end check of the agent over ingested corpora.

    mmrag eval routing --queries FILE.json [--queries MORE.json ...]
                       [--router trained|evidence|llm|hybrid ...] [--json OUT]
    mmrag eval routing --end-to-end QUESTIONS.json [--limit N] [--json OUT]
    HF_HUB_OFFLINE=1 python -m eval.routing --cv 5 [--data [NAME=]FILE ...] [--compare]

FILE.json is a JSON array of {"question", "gt_retrieval"} objects; labels are the names
no/paragraph/document/image/clip/video or the integers 0-5; an optional "acceptable" list
(or a list as gt_retrieval) names labels that also count as right (reported as
`acceptable`). Policies (each given set is run through each given policy):
- trained (the default): the intent model alone; accuracy from one batched pass; latency
  p50/p95 from single-question calls on a sample, encoding included;
- evidence: the agent's trained policy with evidence probes of the configured corpora that
  hold items (agents.router.fuse; labels without a corpus are decided by intent alone);
- llm, hybrid: the agent's Router with the configured answer model (the embedded server
  is started when no base_url is set), 8 questions in flight; hybrid hands uncertain
  questions to the LLM only when `[agent] llm_router` trusts it.
The last line printed is `accuracy=<float>` of the first set and policy (plus
` acceptable=<float>` when the set names acceptable labels).

--end-to-end runs the full agent on a UniversalRAG-layout question file with gold items
(eval.universal) over the corpora already ingested (e.g. by `python -m eval.e2e DIR`):
the share of questions whose kept evidence holds a gold item, the `no` questions answered
without retrieval, and the questions about content a corpus holds that were answered from
`no` (the fabrication risk); last line `kept_gold=<float> content_answered_from_no=<int>`.

--cv K runs stratified K-fold cross-validation of the training recipe on the first --data
set, the other sets added whole to every fold's training; `--compare` adds two baselines.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
from rich.progress import track
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import confusion_matrix, precision_recall_fscore_support
from sklearn.model_selection import StratifiedKFold
from sklearn.pipeline import make_pipeline, make_union
from sklearn.preprocessing import normalize
from sklearn.svm import LinearSVC

from agents.agent import Agent
from agents.config import AgentConfig
from agents.intent import (
    DEFAULT_DIR,
    Labelled,
    TrainedRouter,
    encode_layers,
    load_labelled,
    normalize_question,
    train,
)
from agents.labels import LABELS, RETRIEVAL_LABELS, label_name
from agents.state import RouteDecision
from eval import universal
from eval.report import confusion_plot, figures_table, meta, write
from eval.stats import p50_p95, percentile
from eval.train_router import BENCHMARK_DATA, named_file
from rag.core.config import Config, load_config
from rag.library import Library

POLICIES = ("trained", "evidence", "llm", "hybrid")


def expected_calibration_error(proba: np.ndarray, y: np.ndarray, bins: int = 10) -> float:
    """Top-label ECE: |accuracy - confidence| averaged over equal-width confidence bins."""
    confidence, correct = proba.max(1), (proba.argmax(1) == y)
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.digitize(confidence, edges[1:-1], right=True), 0, bins - 1)
    gaps = [abs(correct[which == b].mean() - confidence[which == b].mean()) * (which == b).mean() for b in range(bins) if (which == b).any()]
    return float(sum(gaps))


def classification_metrics(y: np.ndarray, proba: np.ndarray, acceptable: Sequence[Sequence[str]] | None = None) -> dict[str, Any]:
    """Accuracy, per-label P/R/F1/support, confusion matrix (rows = truth) and ECE; with
    `acceptable` labels per question also the share routed to an acceptable label."""
    pred = proba.argmax(1)
    p, r, f, s = precision_recall_fscore_support(
        y, pred, labels=range(len(LABELS)), zero_division=0
    )
    per_label = {
        LABELS[i]: {"precision": float(p[i]), "recall": float(r[i]), "f1": float(f[i]), "support": int(s[i])}
        for i in range(len(LABELS))
    }
    result = {
        "n": len(y),
        "accuracy": float((pred == y).mean()),
        "per_label": per_label,
        "confusion": confusion_matrix(y, pred, labels=range(len(LABELS))).tolist(),
        "ece": expected_calibration_error(proba, y),
    }
    if acceptable is not None and any(len(a) > 1 for a in acceptable):
        fine = np.array([LABELS[i] in ok for i, ok in zip(pred, acceptable, strict=True)])
        result["acceptable_accuracy"] = float(fine.mean())
        for i, label in enumerate(LABELS):
            mine = y == i
            per_label[label]["acceptable_recall"] = float(fine[mine].mean()) if mine.any() else 0.0
    return result


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
    return {**p50_p95(times), "n": len(times)}


def _truth(labelled: Labelled) -> np.ndarray:
    return np.array([LABELS.index(label_name(label)) for label in labelled.labels])


def evaluate(router: TrainedRouter, labelled: Labelled, latency_sample: int = 100) -> dict[str, Any]:
    """Metrics of the intent model alone, with batch time and single-question latency."""
    start = time.perf_counter()
    proba = router.predict_proba(labelled.questions)
    batch_s = time.perf_counter() - start
    result = classification_metrics(_truth(labelled), proba, labelled.acceptable)
    result["batch_seconds"] = batch_s
    result["batch_ms_per_question"] = 1000 * batch_s / max(len(labelled.questions), 1)
    result["latency_ms"] = (
        single_latency_ms(router.route, labelled.questions, latency_sample) if latency_sample else {}
    )
    return result


def evaluate_policy(
    agent: Agent,
    labelled: Labelled,
    latency_sample: int = 100,
    workers: int = 8,
) -> dict[str, Any]:
    """Metrics of the agent's routing policy: the first label of each decision over all six
    labels (labels without a corpus holding items map to none), who decided it, batch time
    with `workers` questions in flight, latency."""
    mapping = {label: agent.mapping().get(label, ()) for label in LABELS}
    router = agent.router()

    def decide(question: str) -> RouteDecision:
        return router.decide(question, mapping)

    start = time.perf_counter()
    with ThreadPoolExecutor(workers) as pool:
        decisions = list(pool.map(decide, labelled.questions))
    batch_s = time.perf_counter() - start
    chosen = np.eye(len(LABELS))[[LABELS.index(d.label) for d in decisions]]
    result = classification_metrics(_truth(labelled), chosen, labelled.acceptable)
    del result["ece"]  # a decision's first label carries no probability to calibrate
    result["decided_by"] = dict(Counter(d.decided_by for d in decisions))
    result["multi_routed"] = sum(d.multi for d in decisions)
    result["batch_seconds"] = batch_s
    result["batch_ms_per_question"] = 1000 * batch_s / max(len(labelled.questions), 1)
    result["latency_ms"] = (
        single_latency_ms(decide, labelled.questions, latency_sample) if latency_sample else {}
    )
    return result


def policy_agent(policy: str, library: Library, model: Path) -> Agent:
    """The agent whose router the policy is: the config's [agent] table with the router mode
    (evidence = trained with probes; the others as configured, probes included)."""
    mode = "trained" if policy == "evidence" else policy
    config = AgentConfig.of(library.config).model_copy(update={"router": mode, "evidence": policy != "trained" and AgentConfig.of(library.config).evidence})
    trained = TrainedRouter.load(model) if policy != "llm" else None
    return Agent(library, config, trained_router=trained)


def run_sets(sets: Sequence[Path], policies: Sequence[str], config: Config, model: Path, latency_sample: int) -> dict[str, dict[str, Any]]:
    """Every set through every policy: {"<set>/<policy>": result}."""
    runs: dict[str, dict[str, Any]] = {}
    router = TrainedRouter.load(model) if "trained" in policies else None
    library = Library(config) if set(policies) - {"trained"} else None
    try:
        for path in sets:
            labelled = load_labelled(path)
            for policy in policies:
                if policy == "trained":
                    assert router is not None
                    result = {"router": "trained", "model": str(model)} | evaluate(router, labelled, latency_sample)
                else:
                    assert library is not None
                    agent = policy_agent(policy, library, model)
                    result = {"router": policy, "model": str(model)}
                    if policy in ("llm", "hybrid"):
                        result["answer_model"] = agent.helper().model
                    result |= evaluate_policy(agent, labelled, latency_sample)
                runs[f"{path.stem}/{policy}"] = result
    finally:
        if library is not None:
            library.close()
    return runs


def end_to_end(path: Path, config: Config, limit: int | None = None) -> dict[str, Any]:
    """The full agent on each question (see the module doc): kept evidence vs gold items,
    and the `no` route where content exists."""
    queries = universal.load(path)[:limit]
    rows: list[dict[str, Any]] = []
    with Library(config) as library:
        agent = Agent(library)
        for q in track(queries, description=f"end to end: {len(queries)} questions"):
            answer = agent.ask(q.question)
            kept = [universal.doc_id(s.hit, q.window) for s in answer.kept]
            rows.append({
                "id": q.id, "question": q.question, "gold_label": q.label, "gold": list(q.files),
                "route": list(answer.route.labels) if answer.route else [], "searched": answer.searched,
                "from_no": answer.grounding == "model", "kept": kept,
                "kept_gold": bool(set(kept) & set(q.files)), "grounding": answer.grounding,
                "rounds": len(answer.rounds), "seconds": answer.timings.get("total_s", 0.0),
            })
    content = [r for r in rows if r["gold_label"] != "no"]
    nothing = [r for r in rows if r["gold_label"] == "no"]
    figures = {
        "kept_gold": float(np.mean([r["kept_gold"] for r in content])) if content else 0.0,
        "content_answered_from_no": sum(r["from_no"] for r in content),
        "no_answered_without_retrieval": float(np.mean([r["from_no"] for r in nothing])) if nothing else 0.0,
        "first_route_label_accuracy": float(np.mean([r["route"][:1] == [r["gold_label"]] for r in rows])),
        "gold_label_in_first_route": float(np.mean([r["gold_label"] in r["route"] for r in rows])),
        "seconds_p50": percentile([r["seconds"] for r in rows], 50),
    }
    for label in RETRIEVAL_LABELS:
        mine = [r["kept_gold"] for r in content if r["gold_label"] == label]
        if mine:
            figures[f"{label} kept_gold"] = float(np.mean(mine))
    return {"questions": len(rows), "figures": figures, "rows": rows}


def cross_validate(
    questions: Sequence[str],
    labels: Sequence[int | str],
    folds: int = 5,
    seed: int = 0,
    compare: bool = False,
    extra: Mapping[str, tuple[Sequence[str], Sequence[str]]] | None = None,
) -> dict[str, Any]:
    """Stratified K-fold CV of `train` on one labelled set (MiniLM features computed once),
    the `extra` sets (other question styles, by name) added whole to every fold's training;
    optionally with baselines (trained on the folds alone)."""
    texts = np.array([normalize_question(q) for q in questions], dtype=object)
    y = np.array([LABELS.index(label_name(label)) for label in labels])
    dense = encode_layers(list(texts))
    others = {name: (qs, ls) for name, (qs, ls) in (extra or {}).items()}
    other_dense = {name: encode_layers([normalize_question(q) for q in qs]) for name, (qs, _) in others.items()}
    name = "cv" if "cv" not in others else "cv-set"
    splits = list(StratifiedKFold(folds, shuffle=True, random_state=seed).split(texts, y))
    calibrated, raw = np.zeros((len(y), len(LABELS))), np.zeros((len(y), len(LABELS)))
    for tr, te in splits:
        sets = {name: (list(texts[tr]), y[tr]), **others}
        router = train(sets, dense={name: dense[tr], **other_dense}, seed=seed)
        calibrated[te] = router.proba_from(list(texts[te]), dense[te])
        raw[te] = router.proba_from(list(texts[te]), dense[te], calibrated=False)
    result: dict[str, Any] = {"folds": folds, "extra": sorted(others), "chosen": _cv_summary(calibrated, y, splits)}
    result["chosen"]["ece_uncalibrated"] = expected_calibration_error(raw, y)
    if compare:
        result["baselines"] = {name: _cv_summary(_oof(make, texts, dense, y, splits), y, splits) for name, make in BASELINES.items()}
    return result


def _minilm_logreg(texts: np.ndarray, dense: np.ndarray, tr: np.ndarray, te: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Baseline: the sentence embedding (normalised mean of the last layer) + logistic regression."""
    sentence = normalize(dense[:, 6 * 384 : 7 * 384])
    model = LogisticRegression(C=10.0, max_iter=3000).fit(sentence[tr], y[tr])
    return model.predict_proba(sentence[te])


def _tfidf_svm(texts: np.ndarray, dense: np.ndarray, tr: np.ndarray, te: np.ndarray, y: np.ndarray) -> np.ndarray:
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
    summary |= {"fold_accuracy": fold_acc, "accuracy_mean": float(np.mean(fold_acc)), "accuracy_std": float(np.std(fold_acc))}
    return summary


def format_metrics(m: dict[str, Any]) -> list[str]:
    """Per-label table and confusion matrix as text lines."""
    extra = "acceptable_recall" in next(iter(m["per_label"].values()))
    lines = [f"{'label':<10}{'precision':>10}{'recall':>8}{'f1':>8}{'support':>9}" + ("  acceptable" if extra else "")]
    for label, v in m["per_label"].items():
        lines.append(
            f"{label:<10}{v['precision']:>10.3f}{v['recall']:>8.3f}{v['f1']:>8.3f}{v['support']:>9d}"
            + (f"{v['acceptable_recall']:>12.3f}" if extra else "")
        )
    lines += ["", "confusion (rows = truth, columns = predicted)", " " * 10 + "".join(f"{lab[:8]:>9}" for lab in LABELS)]
    lines += [
        f"{LABELS[i]:<10}" + "".join(f"{c:>9d}" for c in row)
        for i, row in enumerate(m["confusion"])
    ]
    return lines


def side_by_side(runs: Mapping[str, dict[str, Any]]) -> list[str]:
    """One column per set/policy: accuracy, acceptable accuracy, recall per label, latency."""
    names = list(runs)
    width = max(14, *(len(n) + 2 for n in names))
    lines = ["figure".ljust(16) + "".join(n.rjust(width) for n in names)]

    def row(title: str, get: Callable[[dict[str, Any]], float | None]) -> None:
        values = [get(runs[n]) for n in names]
        if any(v is not None for v in values):
            lines.append(title.ljust(16) + "".join(("-" if v is None else f"{v:.3f}").rjust(width) for v in values))

    def recall(label: str) -> Callable[[dict[str, Any]], float | None]:
        return lambda r: r["per_label"][label]["recall"] if r["per_label"][label]["support"] else None

    row("accuracy", lambda r: r["accuracy"])
    row("acceptable", lambda r: r.get("acceptable_accuracy"))
    for label in LABELS:
        row(f"{label} recall", recall(label))
    row("p50 ms", lambda r: (r.get("latency_ms") or {}).get("p50"))
    return lines


def report(result: dict[str, Any]) -> str:
    """A readable report; its last line is `accuracy=<float>` (see the module doc)."""
    if "folds" in result:
        return _cv_report(result)
    if "rows" in result:
        f = result["figures"]
        lines = [*(f"{k}: {v:.4f}" if isinstance(v, float) else f"{k}: {v}" for k, v in f.items())]
        lines += [f"  answered from `no` although a corpus holds it: {r['question']}" for r in result["rows"] if r["from_no"] and r["gold_label"] != "no"]
        return "\n".join([*lines, f"kept_gold={f['kept_gold']:.4f} content_answered_from_no={f['content_answered_from_no']}"])
    runs = result.get("runs") or {"": result}
    lines = []
    for name, run in runs.items():
        lines += [f"{name or run.get('router', 'trained')}: {run['n']} questions", *format_metrics(run)]
        if "ece" in run:
            lines.append(f"ECE (10 bins): {run['ece']:.4f}")
        if "decided_by" in run:
            lines.append("decided by: " + ", ".join(f"{k} {v}" for k, v in run["decided_by"].items()) + f"; multi-routed {run['multi_routed']}")
        lines.append(f"batch: {run['batch_seconds']:.2f} s ({run['batch_ms_per_question']:.2f} ms/question)")
        if lat := run["latency_ms"]:
            lines.append(f"single-question latency: p50 {lat['p50']:.1f} ms, p95 {lat['p95']:.1f} ms (n={lat['n']})")
        lines.append("")
    if len(runs) > 1:
        lines += side_by_side(runs)
    last = f"accuracy={result['accuracy']:.4f}"
    if "acceptable_accuracy" in result:
        last += f" acceptable={result['acceptable_accuracy']:.4f}"
    return "\n".join([*lines, last])


def _cv_report(result: dict[str, Any]) -> str:
    """Report of a cross-validation run."""
    chosen, lines = result["chosen"], []
    for name, m in (result.get("baselines") or {}).items():
        lines.append(
            f"baseline {name}: accuracy {m['accuracy_mean']:.4f} ± {m['accuracy_std']:.4f}"
        )
    extra = f" (+ {', '.join(result['extra'])} in every fold's training)" if result.get("extra") else ""
    lines.append(f"trained router, {result['folds']}-fold CV{extra}: accuracy {chosen['accuracy_mean']:.4f} ± {chosen['accuracy_std']:.4f}")
    lines += [*format_metrics(chosen), ""]
    lines.append(
        f"ECE (10 bins): {chosen['ece_uncalibrated']:.4f} uncalibrated -> {chosen['ece']:.4f} calibrated"
    )
    return "\n".join([*lines, f"accuracy={chosen['accuracy']:.4f}"])


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: evaluate on query files, the agent end to end, or cross-validate."""
    parser = argparse.ArgumentParser(prog="mmrag eval routing", description=__doc__.split("\n\n")[0])
    parser.add_argument("--queries", type=Path, action="append", help="JSON array of {question, gt_retrieval}; repeat for several")
    parser.add_argument("--router", choices=POLICIES, action="append",
                        help="policy to evaluate, repeat for several (default trained); see the module doc")
    parser.add_argument("--end-to-end", type=Path, metavar="QUESTIONS", help="UniversalRAG-layout questions with gold items, over the ingested corpora")
    parser.add_argument("--limit", type=int, help="--end-to-end: only the first N questions")
    parser.add_argument("--config", type=Path, help="mmrag config (corpora for evidence; the answer model for llm, hybrid)")
    parser.add_argument(
        "--model", type=Path, default=DEFAULT_DIR, help="router folder (default: shipped)"
    )
    parser.add_argument(
        "--cv", type=int, metavar="K", help="stratified K-fold CV on --data instead"
    )
    parser.add_argument("--data", action="append", metavar="[NAME=]FILE",
                        help="--cv: the set to cross-validate, then sets added whole (default: UniversalRAG train)")
    parser.add_argument("--compare", action="store_true", help="with --cv: also the two baselines")
    parser.add_argument(
        "--latency-sample", type=int, default=100, help="single-question calls timed"
    )
    parser.add_argument("--json", type=Path, help="write all results to this file")
    args = parser.parse_args(argv)
    if sum(x is not None for x in (args.queries, args.cv, args.end_to_end)) != 1:
        parser.error("give exactly one of --queries FILE, --end-to-end FILE or --cv K")
    if args.cv is not None:

        sets = [named_file(d) for d in args.data] if args.data else [("benchmark", BENCHMARK_DATA)]
        (_, first), extra = sets[0], {name: load_labelled(path)[:2] for name, path in sets[1:]}
        result = cross_validate(*load_labelled(first)[:2], folds=args.cv, compare=args.compare, extra=extra)
    elif args.end_to_end is not None:
        result = end_to_end(args.end_to_end, load_config(args.config), args.limit)
    else:
        runs = run_sets(args.queries, args.router or ["trained"], load_config(args.config), args.model, args.latency_sample)
        result = dict(next(iter(runs.values())))
        if len(runs) > 1:
            result["runs"] = runs
    write_report(result, args)
    print(report(result))
    return 0


def write_report(result: dict[str, Any], args: argparse.Namespace) -> None:
    """The JSON result (with command, meta and flat figures) and its markdown report with the
    confusion-matrix plot, at --json or eval/results/routing-<name>.json."""
    if args.end_to_end is not None:
        name, title = args.end_to_end.stem, f"Routing end to end: {args.end_to_end.stem}"
        result |= {"command": "routing", "meta": meta(load_config(args.config), end_to_end=True)}
        out = args.json or Path("eval/results") / f"routing-{name}-e2e.json"
        body = [*figures_table(result["figures"])]
        write(result, out, title, body, {})
        return
    runs = result.get("runs") or {"": result.get("chosen", result)}
    figures: dict[str, float] = {}
    for key, m in runs.items():
        prefix = f"{key} " if key else ""
        figures[f"{prefix}accuracy"] = m["accuracy"]
        if "acceptable_accuracy" in m:
            figures[f"{prefix}acceptable"] = m["acceptable_accuracy"]
        figures[f"{prefix}macro_f1"] = float(np.mean([v["f1"] for v in m["per_label"].values()]))
        figures |= {f"{prefix}{label} f1": v["f1"] for label, v in m["per_label"].items()}
        if "ece" in m:
            figures[f"{prefix}ece"] = m["ece"]
        if lat := m.get("latency_ms"):
            figures |= {f"{prefix}latency_p50_ms": lat["p50"], f"{prefix}latency_p95_ms": lat["p95"]}
    first = (args.data[0] if args.data else str(BENCHMARK_DATA)) if args.cv else str(args.queries[0])
    name = Path(first.rpartition("=")[2]).stem
    result |= {"command": "routing", "meta": meta(None, router=args.router, cv=args.cv), "figures": figures}
    out = args.json or Path("eval/results") / f"routing-{name}{'-cv' if args.cv else ''}.json"
    title = f"Routing: {name} ({f'{args.cv}-fold CV' if args.cv else ', '.join(args.router or ['trained']) + ' router'})"
    body = ["```", *(side_by_side(runs) if len(runs) > 1 else format_metrics(next(iter(runs.values())))), "```", "", *figures_table(figures)]
    first_run = next(iter(runs.values()))
    write(result, out, title, body, {"confusion": confusion_plot(first_run["confusion"], LABELS)})


if __name__ == "__main__":
    sys.exit(main())
