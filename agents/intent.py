"""Trained fast router: which corpus (or none) a question should be answered from.

Features of a question (after `normalize_question` strips answer options):
- MiniLM hidden states: mean-pooled over tokens for the embedding layer and all six
  transformer layers, max-pooled for the six layers (13 x 384 values, standardised);
- TF-IDF of case-sensitive word 1-2-grams and of character 2-5-grams;
- a few surface cues (length, capitalised names, years, "or"/"both", relative pronouns...)
  that separate single-hop paragraph questions from multi-hop document questions.
A linear SVM (scikit-learn LinearSVC) scores the six labels; temperature scaling fitted on
out-of-fold SVM scores turns them into calibrated probabilities (the ranking is unchanged).

The shipped model in `agents/router_model/` is plain data, no pickles: `config.json`,
`vocabulary.json.gz` (the TF-IDF terms) and `weights.npz` (float16 coefficients, float32
scalers). `python -m eval.train_router` rebuilds it; `python -m eval.routing` measures it.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import logging
import os
import re
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache, cached_property
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import scipy.sparse as sp
from scipy.optimize import minimize_scalar
from scipy.special import log_softmax
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.model_selection import StratifiedKFold, cross_val_predict
from sklearn.preprocessing import StandardScaler
from sklearn.svm import LinearSVC

from agents.labels import LABELS, Label, label_name

log = logging.getLogger(__name__)
DEFAULT_DIR = Path(__file__).with_name("router_model")
ENCODER = "sentence-transformers/all-MiniLM-L6-v2"
FORMAT = 2
MAX_TOKENS = 256
WORD_TFIDF = dict(
    ngram_range=(1, 2), sublinear_tf=True, lowercase=False, token_pattern=r"(?u)\b\w+\b|[^\w\s]"
)
CHAR_TFIDF = dict(analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True, lowercase=False)
TFIDF = {"word": WORD_TFIDF, "char": CHAR_TFIDF}
# Relative weight of each feature block in the SVM input (picked by 5-fold CV on train.json).
BLOCK_WEIGHTS = {"word": 1.0, "char": 0.5, "dense": 1.5, "cue": 0.2}
BLOCKS = tuple(BLOCK_WEIGHTS)
ABSENT = -1e3  # score of a label that had no training questions
NEGLIGIBLE_STYLE = 1e-3  # a style this improbable is left out of the mixture (saves its head)

_OPTION_LINE = re.compile(r"^\s*(?:\(\s*[A-Za-z1-9]\s*\)|[A-Ja-j1-9][).:](?=\s))")
_OPTION_HEADER = re.compile(r"^\s*(?:options|choices|answer choices|candidates)\s*:?\s*$", re.I)
_INLINE_OPTIONS = re.compile(  # "... ? (A) x (B) y", or three options "(A) x (B) y (C) z"
    r"(?<=[?:.])\s*\(\s*A\s*\)\s.*\(\s*B\s*\)\s.*$|\s*\(\s*A\s*\)\s.*\(\s*B\s*\)\s.*\(\s*C\s*\)\s.*$",
    re.S,
)
_SPACES = re.compile(r"\s+")
_CAPITALISED = re.compile(r"\b[A-Z][\w'\-]*")
_NAME_SPAN = re.compile(r"\b[A-Z][\w'.\-]*(?:\s+(?:of|the|and|de|la|von|van)?\s*[A-Z][\w'.\-]*)*")
_YEAR = re.compile(r"\b(?:1[5-9]|20)\d\d\b")
_RELATIVE = re.compile(r"\b(?:who|which|that|whose|where|when)\b")


def normalize_question(text: str) -> str:
    """The question without answer options: lines from the first option line on, and inline
    "(A) ... (B) ..." choices, are dropped; whitespace is collapsed."""
    kept: list[str] = []
    for line in text.splitlines():
        if not line.strip():
            continue
        if kept and (_OPTION_LINE.match(line) or _OPTION_HEADER.match(line)):
            break
        kept.append(line.strip())
    return _SPACES.sub(" ", _INLINE_OPTIONS.sub("", " ".join(kept))).strip()


class Labelled(NamedTuple):
    """Labelled questions: the gold label of each, and every label acceptable for it."""

    questions: list[str]
    labels: list[str]
    acceptable: list[tuple[str, ...]]


def load_labelled(path: str | Path) -> Labelled:
    """Questions and label names from a JSON array of {"question", "gt_retrieval"} objects.
    `gt_retrieval` may be a list (the first is the gold label, all are acceptable); an
    optional "acceptable" list names further labels that count as right."""
    rows = json.loads(Path(path).read_text(encoding="utf-8"))
    if not isinstance(rows, list):
        raise ValueError(f"{path}: expected a JSON array of objects")
    out = Labelled([], [], [])
    for n, row in enumerate(rows):
        try:
            gold = row["gt_retrieval"]
            given = [label_name(x) for x in (gold if isinstance(gold, list) else [gold])]
            given += [label_name(x) for x in row.get("acceptable") or ()]
            out.questions.append(str(row["question"]))
            out.labels.append(given[0])
            out.acceptable.append(tuple(dict.fromkeys(given)))
        except (KeyError, IndexError, TypeError, ValueError) as exc:
            raise ValueError(f"{path}: row {n}: {exc}") from exc
    return out


def cue_features(texts: Sequence[str]) -> np.ndarray:
    """Surface cues per normalised question: length, names, years, comparison words."""
    return np.array([_cues(t) for t in texts], dtype=np.float32).reshape(len(texts), -1)


def _cues(text: str) -> list[float]:
    words = text.split()
    rest = " ".join(words[1:])
    capitalised = len(_CAPITALISED.findall(rest))
    return [
        np.log1p(len(words)), np.log1p(len(text)), capitalised / max(len(words), 1),
        np.log1p(capitalised), np.log1p(len(_NAME_SPAN.findall(rest))),
        any(c.isdigit() for c in text), bool(_YEAR.search(text)), text.count(","),
        text.count('"') + text.count("\u201c"), bool(re.search(r"\bor\b", text)),
        bool(re.search(r"\bboth\b", text, re.I)), len(_RELATIVE.findall(rest.lower())),
        len(re.findall(r"'s\b", text)), text.endswith("?"), text.count("?") > 1,
    ]


def encode_layers(
    texts: Sequence[str], encoder: str = ENCODER, batch_size: int = 128
) -> np.ndarray:
    """MiniLM features: mean-pooled embedding + all layers, max-pooled layers 1..N (float32)."""
    from retrievers.encoders import text_encoder

    tokenizer = text_encoder(encoder).model.tokenizer
    layers = layer_encoder(encoder)
    order = np.argsort([len(t) for t in texts], kind="stable")  # little padding per batch
    out: list[np.ndarray] = []
    for start in range(0, len(texts), batch_size):
        batch = [texts[i] for i in order[start : start + batch_size]]
        tokens = tokenizer(batch, padding=True, truncation=True, max_length=MAX_TOKENS, return_tensors="np")
        states = layers(tokens)  # (layers + 1, batch, tokens, width)
        mask = tokens["attention_mask"][None, :, :, None].astype(bool)
        means = (states * mask).sum(2) / mask.sum(2)
        maxes = np.where(mask, states, -np.inf)[1:].max(2)
        out.append(np.concatenate([*means, *maxes], axis=1).astype(np.float32))
    features = np.concatenate(out) if out else np.zeros((0, 13 * 384), np.float32)
    return features[np.argsort(order, kind="stable")]


Layers = Callable[[Mapping[str, np.ndarray]], np.ndarray]


@cache
def layer_encoder(encoder: str) -> Layers:
    """All hidden states of the encoder's transformer for tokenised input, as numpy.

    ONNX Runtime on a graph exported once from the local model into the user's model cache:
    for one short question it runs in ~5 ms where eager PyTorch takes ~14 ms on this 2-core
    CPU (the routing step's budget is 25 ms, probes included), with the same numbers to
    1e-5. PyTorch serves when onnx / onnxruntime are missing or the export fails."""
    import torch

    from retrievers.encoders import text_encoder

    transformer = text_encoder(encoder).model[0].auto_model
    assert isinstance(transformer, torch.nn.Module)  # Module.__getattr__ types it Tensor | Module
    names = ("input_ids", "attention_mask", "token_type_ids")

    def eager(tokens: Mapping[str, np.ndarray]) -> np.ndarray:
        with torch.inference_mode():
            out = transformer(**{n: torch.from_numpy(tokens[n]) for n in names if n in tokens}, output_hidden_states=True)
            return torch.stack(out.hidden_states).float().numpy()

    try:
        import onnxruntime

        path = _exported(encoder, transformer, names)
        session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    except Exception as exc:  # noqa: BLE001 - any failure of the optional fast path: PyTorch serves
        log.info("router encoder on PyTorch (no ONNX graph: %s: %s)", type(exc).__name__, exc)
        return eager
    wanted = [i.name for i in session.get_inputs()]
    return lambda tokens: session.run(None, {n: np.asarray(tokens[n], np.int64) for n in wanted})[0]


def _exported(encoder: str, transformer: Any, names: Sequence[str]) -> Path:
    """The encoder's transformer as an ONNX graph returning the stacked hidden states,
    exported once (keyed by the model folder and its weights' size and date)."""
    import torch

    from rag.core.models import model_cache, resolve_model

    folder = resolve_model(encoder)
    weights = sorted(folder.glob("*.safetensors")) or sorted(folder.glob("*.bin"))
    stamp = "|".join(f"{w.resolve()}:{w.stat().st_size}:{w.stat().st_mtime_ns}" for w in weights)
    path = model_cache() / f"router-layers-{hashlib.sha256(stamp.encode()).hexdigest()[:16]}.onnx"
    if path.exists():
        return path

    class Stacked(torch.nn.Module):
        def __init__(self, model: Any):
            super().__init__()
            self.model = model

        def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any) -> Any:
            out = self.model(input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids, output_hidden_states=True)
            return torch.stack(out.hidden_states)

    example = tuple(torch.ones((1, 4), dtype=torch.long) for _ in names)
    axes = {n: {0: "batch", 1: "tokens"} for n in names} | {"states": {1: "batch", 2: "tokens"}}
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(f".{os.getpid()}.part")
    log.info("exporting the router's encoder to ONNX (one time): %s", path)
    with warnings.catch_warnings():  # the exporter's notes on BERT's index ops (checked: same numbers)
        warnings.simplefilter("ignore")
        torch.onnx.export(Stacked(transformer).eval(), example, str(partial), input_names=list(names),
                          output_names=["states"], dynamic_axes=axes, opset_version=17, dynamo=False)
    partial.replace(path)  # never a half-written graph
    return path


class Questions(NamedTuple):
    """Normalised questions with everything every head reads from them, computed once:
    MiniLM features (`encode_layers`), word and character n-grams, surface cues."""

    texts: list[str]
    dense: np.ndarray
    grams: dict[str, list[list[str]]]  # "word"/"char": each question's n-grams
    cues: np.ndarray


def prepared(texts: Sequence[str], dense: np.ndarray) -> Questions:
    """`Questions` from normalised questions and their `encode_layers` features."""
    grams = {block: [list(analyse(t)) for t in texts] for block, analyse in _analysers().items()}
    return Questions(list(texts), dense, grams, cue_features(texts))


@cache
def _analysers() -> dict[str, Callable[[str], list[str]]]:
    """scikit-learn's n-gram analysers for the TF-IDF blocks."""
    return {block: TfidfVectorizer(**params).build_analyzer() for block, params in TFIDF.items()}


@dataclass(frozen=True)
class Tfidf:
    """One fitted TF-IDF vocabulary applied to n-grams already analysed: the numbers of
    scikit-learn's TfidfVectorizer.transform (sublinear tf x idf, l2-normalised), which costs
    ~2 ms a call in input checks alone, and a question needs one call per head and block."""

    terms: list[str]  # by feature index
    idf: np.ndarray

    @classmethod
    def fitted(cls, texts: Sequence[str], params: Mapping[str, Any]) -> Tfidf:
        vectorizer = TfidfVectorizer(**params).fit(texts)
        return cls(vectorizer.get_feature_names_out().tolist(), vectorizer.idf_.astype(np.float64))

    @cached_property
    def index(self) -> dict[str, int]:
        return {term: i for i, term in enumerate(self.terms)}

    def transform(self, grams: Sequence[Sequence[str]]) -> sp.csr_matrix:
        """(n, terms) TF-IDF rows of the questions' n-grams."""
        rows, cols, vals = [np.zeros(0, np.int64)], [np.zeros(0, np.int64)], [np.zeros(0)]
        for row, question in enumerate(grams):
            known = np.array([self.index[g] for g in question if g in self.index], np.int64)
            ids, counts = np.unique(known, return_counts=True)
            weights = (1.0 + np.log(counts)) * self.idf[ids]
            rows.append(np.full(len(ids), row, np.int64))
            cols.append(ids)
            vals.append(weights / max(float(np.linalg.norm(weights)), 1e-300))
        coords = (np.concatenate(rows), np.concatenate(cols))
        return sp.csr_matrix((np.concatenate(vals), coords), shape=(len(grams), len(self.terms)))


@dataclass
class LinearHead:
    """One calibrated linear SVM over the features: TF-IDF blocks fitted on its own training
    questions, the shared MiniLM and cue blocks standardised, scores over `classes`."""

    classes: tuple[str, ...]
    tfidf: dict[str, Tfidf]  # "word"/"char"
    scalers: dict[str, tuple[np.ndarray, np.ndarray]]  # "dense"/"cue": (mean, scale)
    coef: dict[str, np.ndarray]  # per block, (n_block_features, classes), block weight folded in
    intercept: np.ndarray  # (classes,)
    temperature: float  # probabilities = softmax(scores / temperature)

    def scores(self, q: Questions) -> np.ndarray:
        """Raw SVM scores (n, classes) of prepared questions."""
        blocks = feature_blocks(q, self.tfidf, self.scalers)
        total = sum(blocks[b] @ self.coef[b] for b in BLOCKS)
        return np.asarray(total, dtype=np.float32) + self.intercept

    def proba(self, q: Questions, calibrated: bool = True) -> np.ndarray:
        """Probabilities (n, classes); uncalibrated = softmax of the SVM scores."""
        scores = self.scores(q)
        return _softmax(scores / self.temperature if calibrated else scores)

    def arrays(self, prefix: str) -> tuple[dict[str, np.ndarray], dict[str, list[str]]]:
        """The head as float arrays and vocabularies, keys prefixed (for one npz/json file)."""
        arrays = {f"{block}_idf": tfidf.idf for block, tfidf in self.tfidf.items()}
        arrays |= {"intercept": self.intercept, "temperature": np.array([self.temperature])}
        for name, (mean, scale) in self.scalers.items():
            arrays |= {f"{name}_mean": mean, f"{name}_scale": scale}
        out = {f"{prefix}{k}": np.asarray(v, np.float32) for k, v in arrays.items()}
        out |= {f"{prefix}coef_{b}": self.coef[b].T.astype(np.float16) for b in BLOCKS}  # (classes, n)
        return out, {f"{prefix}{block}": tfidf.terms for block, tfidf in self.tfidf.items()}

    @classmethod
    def from_arrays(
        cls, classes: Sequence[str], prefix: str, w: Mapping[str, np.ndarray], vocab: Mapping[str, list[str]]
    ) -> LinearHead:
        return cls(
            classes=tuple(classes),
            tfidf={b: Tfidf(vocab[f"{prefix}{b}"], w[f"{prefix}{b}_idf"].astype(np.float64)) for b in TFIDF},
            scalers={n: (w[f"{prefix}{n}_mean"], w[f"{prefix}{n}_scale"]) for n in ("dense", "cue")},
            coef={b: np.ascontiguousarray(w[f"{prefix}coef_{b}"].T, np.float32) for b in BLOCKS},
            intercept=w[f"{prefix}intercept"],
            temperature=float(w[f"{prefix}temperature"][0]),
        )


def feature_blocks(q: Questions, tfidf: Mapping[str, Tfidf], scalers: Mapping[str, tuple[np.ndarray, np.ndarray]]) -> dict[str, Any]:
    """A head's feature blocks (unweighted) of prepared questions."""
    return {block: vectors.transform(q.grams[block]) for block, vectors in tfidf.items()} | {
        "dense": _standardise(q.dense, *scalers["dense"]),
        "cue": _standardise(q.cues, *scalers["cue"]),
    }


def fit_head(
    texts: Sequence[str],
    y: np.ndarray,
    dense: np.ndarray,
    classes: Sequence[str],
    *,
    C: float = 1.0,
    weights: np.ndarray | None = None,
    calibration_folds: int = 5,
    seed: int = 0,
) -> LinearHead:
    """Fit one head on normalised questions `texts` with class indices `y` (each class
    present needs >= 2 questions); absent classes score ABSENT."""
    present = np.unique(y)
    if len(present) < 2:
        raise ValueError("training needs questions of at least two labels")
    q = prepared(texts, dense)
    tfidf = {block: Tfidf.fitted(texts, params) for block, params in TFIDF.items()}
    scalers = {"dense": _fit_scaler(dense), "cue": _fit_scaler(q.cues)}
    blocks = feature_blocks(q, tfidf, scalers)
    X = sp.hstack([blocks[b] * BLOCK_WEIGHTS[b] for b in BLOCKS], format="csr")
    svm = LinearSVC(C=C).fit(X, y, sample_weight=weights)
    n_folds = max(2, min(calibration_folds, int(np.bincount(y)[present].min())))
    folds = StratifiedKFold(n_folds, shuffle=True, random_state=seed)
    params = None if weights is None else {"sample_weight": weights}
    oof = cross_val_predict(LinearSVC(C=C), X, y, cv=folds, method="decision_function", params=params)
    coef, intercept = _expand(svm.coef_, svm.intercept_, present, len(classes))
    bounds = np.cumsum([0] + [blocks[b].shape[1] for b in BLOCKS])
    return LinearHead(
        classes=tuple(classes),
        tfidf=tfidf,
        scalers=scalers,
        coef={b: np.ascontiguousarray(coef[:, bounds[i] : bounds[i + 1]].T) * BLOCK_WEIGHTS[b] for i, b in enumerate(BLOCKS)},
        intercept=intercept.astype(np.float32),
        temperature=fit_temperature(_full_scores(oof, present, len(classes)), y),
    )


@dataclass
class TrainedRouter:
    """Calibrated label probabilities from one expert head per training set (question
    style), mixed by a gate head that says which style a question is in:
    P(label | q) = sum over styles s of P(s | q) * P(label | q, s).

    Why a mixture: a label's meaning depends on the style. In the UniversalRAG benchmarks
    the label is the source benchmark (a plain how-to question is VideoRAG's, so `video`);
    in a person's own plainly worded questions it is what they ask for (a how-to is a text
    question unless they name a video). One head trained on both learns neither well
    (measured: 0.932 on the benchmark folds against 0.951 alone); the styles themselves are
    easy to tell apart, so each head keeps its own conventions and the gate picks."""

    experts: dict[str, LinearHead]
    gate: LinearHead | None  # classes = expert names; None with a single expert
    config: dict

    labels: tuple[str, ...] = LABELS

    def proba_from(self, texts: Sequence[str], dense: np.ndarray, calibrated: bool = True) -> np.ndarray:
        """Probabilities (n, 6) from precomputed features (`calibrated`: per-head temperature)."""
        heads, q = list(self.experts.values()), prepared(texts, dense)
        if self.gate is None:
            return heads[0].proba(q, calibrated)
        style = self.gate.proba(q)
        style[style < NEGLIGIBLE_STYLE] = 0.0  # a head no question here is in is not run
        style /= style.sum(1, keepdims=True)
        return sum(
            style[:, [i]] * head.proba(q, calibrated)
            for i, head in enumerate(heads)
            if style[:, i].any()
        )

    def styles(self, questions: Sequence[str]) -> np.ndarray:
        """P(style | question) (n, experts): which training set's style each question is in."""
        texts = [normalize_question(q) for q in questions]
        if self.gate is None:
            return np.ones((len(texts), 1), np.float32)
        return self.gate.proba(prepared(texts, encode_layers(texts, self.encoder)))

    @property
    def encoder(self) -> str:
        return str(self.config["encoder"])

    def features(self, questions: Sequence[str]) -> tuple[list[str], np.ndarray]:
        """Normalised questions and their MiniLM features (computed once for all heads)."""
        texts = [normalize_question(q) for q in questions]
        return texts, encode_layers(texts, self.encoder)

    def predict_proba(self, questions: Sequence[str]) -> np.ndarray:
        """Calibrated label probabilities (n, 6), columns in LABELS order."""
        return self.proba_from(*self.features(questions))

    def predict(self, questions: Sequence[str]) -> list[str]:
        """The most probable label per question."""
        return [self.labels[i] for i in self.predict_proba(questions).argmax(1)]

    def route(self, question: str) -> list[tuple[Label, float]]:
        """(label, probability) pairs for one question, most probable first."""
        return ranked(self.predict_proba([question])[0])

    def route_and_embed(self, question: str) -> tuple[list[tuple[Label, float]], dict[str, np.ndarray]]:
        """The route, and {encoder name: the question's embedding} from the same forward pass
        (MiniLM's mean-pooled last layer: the vector the text retrievers would compute), for
        the evidence probes. No embedding when answer options were stripped from the
        question, since the retrievers embed the whole question."""
        texts, dense = self.features([question])
        route = ranked(self.proba_from(texts, dense)[0])
        if texts[0] != " ".join(question.split()):
            return route, {}
        return route, {self.encoder: sentence_vectors(dense)[0]}

    def save(self, path: str | Path = DEFAULT_DIR) -> Path:
        """Write config.json, vocabulary.json.gz and weights.npz (no pickles) into `path`."""
        folder = Path(path)
        folder.mkdir(parents=True, exist_ok=True)
        arrays: dict[str, np.ndarray] = {}
        vocab: dict[str, list[str]] = {}
        named = {f"{name}/": head for name, head in self.experts.items()}
        if self.gate is not None:
            named["gate/"] = self.gate
        for prefix, head in named.items():
            head_arrays, head_vocab = head.arrays(prefix)
            arrays |= head_arrays
            vocab |= head_vocab
        with gzip.open(folder / "vocabulary.json.gz", "wt", encoding="utf-8", compresslevel=9) as fh:
            json.dump(vocab, fh, ensure_ascii=False, separators=(",", ":"))
        np.savez_compressed(folder / "weights.npz", allow_pickle=False, **arrays)
        (folder / "config.json").write_text(json.dumps(self.config, indent=2) + "\n", encoding="utf-8")
        return folder

    @classmethod
    def load(cls, path: str | Path = DEFAULT_DIR) -> TrainedRouter:
        """Load a router written by `save` (plain JSON and npz; nothing is unpickled)."""
        folder = Path(path)
        config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
        if config.get("format") != FORMAT or tuple(config.get("labels", ())) != LABELS:
            raise ValueError(
                f"{folder}: not a format-{FORMAT} router model with labels {LABELS} "
                "(retrain it: mmrag router train)"
            )
        with gzip.open(folder / "vocabulary.json.gz", "rt", encoding="utf-8") as fh:
            vocab = json.load(fh)
        with np.load(folder / "weights.npz", allow_pickle=False) as npz:
            w = {k: npz[k] for k in npz.files}
        names = list(config["experts"])
        experts = {name: LinearHead.from_arrays(LABELS, f"{name}/", w, vocab) for name in names}
        gate = LinearHead.from_arrays(names, "gate/", w, vocab) if len(names) > 1 else None
        return cls(experts=experts, gate=gate, config=config)


def ranked(proba: np.ndarray) -> list[tuple[Label, float]]:
    """(label, probability) pairs, most probable first."""
    return [(LABELS[i], float(proba[i])) for i in np.argsort(-proba, kind="stable")]


def sentence_vectors(dense: np.ndarray) -> np.ndarray:
    """The sentence-transformers embedding inside `encode_layers` features: the normalised
    mean of the last layer (all-MiniLM-L6-v2 is mean pooling + normalisation)."""
    last = dense[:, 6 * 384 : 7 * 384]
    return (last / np.maximum(np.linalg.norm(last, axis=1, keepdims=True), 1e-12)).astype(np.float32)


def train(
    datasets: Mapping[str, tuple[Sequence[str], Sequence[int | str]]],
    *,
    dense: Mapping[str, np.ndarray] | None = None,
    encoder: str = ENCODER,
    C: float = 1.0,
    seed: int = 0,
) -> TrainedRouter:
    """Fit one expert head per named training set (questions, labels) and, with two or
    more, the gate that tells their styles apart (classes balanced). `dense` may hold each
    set's precomputed `encode_layers` features of its normalised questions."""
    if not datasets:
        raise ValueError("training needs at least one labelled set")
    texts = {name: [normalize_question(q) for q in qs] for name, (qs, _) in datasets.items()}
    ys = {name: np.array([LABELS.index(label_name(x)) for x in ls]) for name, (_, ls) in datasets.items()}
    given = {name: (dense or {}).get(name) for name in datasets}
    feats = {n: encode_layers(texts[n], encoder) if f is None else f for n, f in given.items()}
    experts = {n: fit_head(texts[n], ys[n], feats[n], LABELS, C=C, seed=seed) for n in datasets}
    gate = None
    if len(datasets) > 1:
        names = list(datasets)
        style = np.concatenate([np.full(len(texts[n]), i) for i, n in enumerate(names)])
        balance = (len(style) / (len(names) * np.bincount(style)))[style]
        all_texts = [t for n in names for t in texts[n]]
        gate = fit_head(all_texts, style, np.concatenate([feats[n] for n in names]), names, C=C, weights=balance, seed=seed)
    return TrainedRouter(experts, gate, _config(texts, ys, encoder, C))


def _config(texts: Mapping[str, Sequence[str]], ys: Mapping[str, np.ndarray], encoder: str, C: float) -> dict:
    """What the model is and what it was trained on, for config.json."""
    trained_on = {
        name: {
            "questions": len(texts[name]),
            "label_counts": np.bincount(ys[name], minlength=6).tolist(),
            "sha256_16": hashlib.sha256("\n".join(texts[name]).encode()).hexdigest()[:16],
        }
        for name in texts
    }
    return {
        "format": FORMAT,
        "labels": list(LABELS),
        "encoder": encoder,
        "experts": list(texts),
        "features": {"word": WORD_TFIDF, "char": CHAR_TFIDF, "dense": "minilm mean(0..6)+max(1..6)"},
        "block_weights": BLOCK_WEIGHTS,
        "svm_C": C,
        "trained_on": trained_on,
    }


def _fit_scaler(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and scale of a StandardScaler fitted on x (float32)."""
    scaler = StandardScaler().fit(x)
    return scaler.mean_.astype(np.float32), scaler.scale_.astype(np.float32)


def _standardise(x: np.ndarray, mean: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """(x - mean) / scale, divided by sqrt(width) so wide blocks do not swamp narrow ones."""
    return ((x - mean) / scale / np.sqrt(x.shape[1])).astype(np.float32)


def _full_scores(scores: np.ndarray, present: np.ndarray, n_classes: int) -> np.ndarray:
    """Per-class scores laid out over all classes (absent classes score ABSENT)."""
    if scores.ndim == 1:  # binary: sklearn returns the score of present[1]
        scores = np.stack([-scores / 2, scores / 2], axis=1)
    full = np.full((len(scores), n_classes), ABSENT, np.float32)
    full[:, present] = scores
    return full


def _expand(
    coef: np.ndarray, intercept: np.ndarray, present: np.ndarray, n_classes: int
) -> tuple[np.ndarray, np.ndarray]:
    """Rows of a fitted linear model for all classes; absent classes score ABSENT."""
    if coef.shape[0] == 1 and len(present) == 2:  # binary models keep one row: split it
        coef, intercept = (
            np.vstack([-coef / 2, coef / 2]),
            np.array([-intercept[0] / 2, intercept[0] / 2]),
        )
    full_coef = np.zeros((n_classes, coef.shape[1]), np.float32)
    full_intercept = np.full(n_classes, ABSENT, np.float32)
    full_coef[present], full_intercept[present] = coef, intercept
    return full_coef, full_intercept


def fit_temperature(scores: np.ndarray, y: np.ndarray) -> float:
    """The temperature T minimising the log loss of softmax(scores / T) (temperature scaling)."""
    rows = np.arange(len(y))
    result = minimize_scalar(
        lambda t: -log_softmax(scores / t, axis=1)[rows, y].mean(),
        bounds=(0.01, 100.0),
        method="bounded",
    )
    return float(result.x)


def _softmax(logits: np.ndarray) -> np.ndarray:
    """Row-wise softmax."""
    return np.exp(log_softmax(logits, axis=1))


