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
scalers). `python -m agents.train_router` rebuilds it; `python -m eval.routing` measures it.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import scipy.sparse as sp
from scipy.optimize import minimize_scalar
from scipy.special import log_softmax
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.model_selection import StratifiedKFold, cross_val_predict
from sklearn.preprocessing import StandardScaler
from sklearn.svm import LinearSVC

LABELS = ("no", "paragraph", "document", "image", "clip", "video")
DEFAULT_DIR = Path(__file__).with_name("router_model")
DEFAULT_DATA = (
    Path(__file__).resolve().parents[2] / "shared" / "data" / "universalrag" / "train.json"
)
ENCODER = "sentence-transformers/all-MiniLM-L6-v2"
FORMAT = 1
MAX_TOKENS = 256
WORD_TFIDF = dict(
    ngram_range=(1, 2), sublinear_tf=True, lowercase=False, token_pattern=r"(?u)\b\w+\b|[^\w\s]"
)
CHAR_TFIDF = dict(analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True, lowercase=False)
# Relative weight of each feature block in the SVM input (picked by 5-fold CV on train.json).
BLOCK_WEIGHTS = {"word": 1.0, "char": 0.5, "dense": 1.5, "cue": 0.2}
BLOCKS = tuple(BLOCK_WEIGHTS)
ABSENT = -1e3  # score of a label that had no training questions

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


def label_name(label: int | str) -> str:
    """The label's name for an int 0-5, a digit string, or a name (any case)."""
    if isinstance(label, str) and label.strip().isdigit():
        label = int(label)
    if isinstance(label, int | np.integer) and not isinstance(label, bool) and 0 <= label < 6:
        return LABELS[int(label)]
    if isinstance(label, str) and label.strip().lower() in LABELS:
        return label.strip().lower()
    raise ValueError(f"unknown routing label {label!r}: expected 0-5 or one of {LABELS}")


def load_labelled(path: str | Path) -> tuple[list[str], list[str]]:
    """Questions and label names from a JSON array of {"question", "gt_retrieval"} objects."""
    rows = json.loads(Path(path).read_text(encoding="utf-8"))
    if not isinstance(rows, list):
        raise ValueError(f"{path}: expected a JSON array of objects")
    return [str(r["question"]) for r in rows], [label_name(r["gt_retrieval"]) for r in rows]


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
    ]  # fmt: skip


def encode_layers(
    texts: Sequence[str], encoder: str = ENCODER, batch_size: int = 128
) -> np.ndarray:
    """MiniLM features: mean-pooled embedding + all layers, max-pooled layers 1..N (float32)."""
    import torch

    from retrievers.encoders import text_encoder

    model = text_encoder(encoder).model
    tokenizer, transformer = model.tokenizer, model[0].auto_model
    order = np.argsort([len(t) for t in texts], kind="stable")  # little padding per batch
    out: list[np.ndarray] = []
    with torch.inference_mode():
        for start in range(0, len(texts), batch_size):
            batch = [texts[i] for i in order[start : start + batch_size]]
            tokens = tokenizer(
                batch, padding=True, truncation=True, max_length=MAX_TOKENS, return_tensors="pt"
            )
            states = transformer(**tokens, output_hidden_states=True).hidden_states
            mask = tokens["attention_mask"].unsqueeze(-1).bool()
            means = [(h * mask).sum(1) / mask.sum(1) for h in states]
            maxes = [h.masked_fill(~mask, float("-inf")).max(1).values for h in states[1:]]
            out.append(torch.cat(means + maxes, dim=1).float().numpy())
    features = np.concatenate(out) if out else np.zeros((0, 13 * 384), np.float32)
    return features[np.argsort(order, kind="stable")]


@dataclass
class TrainedRouter:
    """Linear SVM over MiniLM-layer, TF-IDF and cue features, with calibrated probabilities."""

    word: TfidfVectorizer
    char: TfidfVectorizer
    scalers: dict[str, tuple[np.ndarray, np.ndarray]]  # "dense"/"cue": (mean, scale)
    coef: dict[str, np.ndarray]  # per block, (6, n_block_features), block weight folded in
    intercept: np.ndarray  # (6,)
    temperature: float  # probabilities = softmax(scores / temperature)
    config: dict

    labels: tuple[str, ...] = LABELS

    def scores(self, texts: Sequence[str], dense: np.ndarray) -> np.ndarray:
        """Raw SVM scores (n, 6) for normalised questions and their `encode_layers` features."""
        blocks = {
            "word": self.word.transform(texts),
            "char": self.char.transform(texts),
            "dense": _standardise(dense, *self.scalers["dense"]),
            "cue": _standardise(cue_features(texts), *self.scalers["cue"]),
        }
        total = sum(blocks[b] @ self.coef[b].T for b in BLOCKS)
        return np.asarray(total, dtype=np.float32) + self.intercept

    def proba_from(
        self, texts: Sequence[str], dense: np.ndarray, calibrated: bool = True
    ) -> np.ndarray:
        """Probabilities (n, 6) from precomputed features; uncalibrated = softmax of SVM scores."""
        scores = self.scores(texts, dense)
        return _softmax(scores / self.temperature if calibrated else scores)

    def predict_proba(self, questions: Sequence[str]) -> np.ndarray:
        """Calibrated label probabilities (n, 6), columns in LABELS order."""
        texts = [normalize_question(q) for q in questions]
        return self.proba_from(texts, encode_layers(texts, self.config["encoder"]))

    def predict(self, questions: Sequence[str]) -> list[str]:
        """The most probable label per question."""
        return [self.labels[i] for i in self.predict_proba(questions).argmax(1)]

    def route(self, question: str) -> list[tuple[str, float]]:
        """(label, probability) pairs for one question, most probable first."""
        proba = self.predict_proba([question])[0]
        return [(self.labels[i], float(proba[i])) for i in np.argsort(-proba, kind="stable")]

    def save(self, path: str | Path = DEFAULT_DIR) -> Path:
        """Write config.json, vocabulary.json.gz and weights.npz (no pickles) into `path`."""
        folder = Path(path)
        folder.mkdir(parents=True, exist_ok=True)
        vocab = {name: _terms(vec) for name, vec in (("word", self.word), ("char", self.char))}
        with gzip.open(
            folder / "vocabulary.json.gz", "wt", encoding="utf-8", compresslevel=9
        ) as fh:
            json.dump(vocab, fh, ensure_ascii=False, separators=(",", ":"))
        arrays = {
            "word_idf": self.word.idf_,
            "char_idf": self.char.idf_,
            "intercept": self.intercept,
        }
        arrays |= {"temperature": np.array([self.temperature])}
        for name, (mean, scale) in self.scalers.items():
            arrays |= {f"{name}_mean": mean, f"{name}_scale": scale}
        arrays = {k: np.asarray(v, np.float32) for k, v in arrays.items()}
        arrays |= {f"coef_{b}": self.coef[b].astype(np.float16) for b in BLOCKS}
        np.savez_compressed(folder / "weights.npz", **arrays)
        (folder / "config.json").write_text(
            json.dumps(self.config, indent=2) + "\n", encoding="utf-8"
        )
        return folder

    @classmethod
    def load(cls, path: str | Path = DEFAULT_DIR) -> TrainedRouter:
        """Load a router written by `save` (plain JSON and npz; nothing is unpickled)."""
        folder = Path(path)
        config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
        if config.get("format") != FORMAT or tuple(config.get("labels", ())) != LABELS:
            raise ValueError(f"{folder}: not a format-{FORMAT} router model with labels {LABELS}")
        with gzip.open(folder / "vocabulary.json.gz", "rt", encoding="utf-8") as fh:
            vocab = json.load(fh)
        with np.load(folder / "weights.npz", allow_pickle=False) as npz:
            w = {k: npz[k] for k in npz.files}
        return cls(
            word=_vectorizer(WORD_TFIDF, vocab["word"], w["word_idf"]),
            char=_vectorizer(CHAR_TFIDF, vocab["char"], w["char_idf"]),
            scalers={n: (w[f"{n}_mean"], w[f"{n}_scale"]) for n in ("dense", "cue")},
            coef={b: w[f"coef_{b}"].astype(np.float32) for b in BLOCKS},
            intercept=w["intercept"],
            temperature=float(w["temperature"][0]),
            config=config,
        )


def train(
    questions: Sequence[str],
    labels: Sequence[int | str],
    *,
    dense: np.ndarray | None = None,
    encoder: str = ENCODER,
    C: float = 1.0,
    calibration_folds: int = 5,
    seed: int = 0,
) -> TrainedRouter:
    """Fit the router (each label present needs >= 2 questions); `dense` may hold precomputed
    `encode_layers` features of the normalised questions (cross-validation reuses them)."""
    texts = [normalize_question(q) for q in questions]
    y = np.array([LABELS.index(label_name(label)) for label in labels])
    classes = np.unique(y)
    if len(classes) < 2:
        raise ValueError("training needs questions of at least two labels")
    dense = encode_layers(texts, encoder) if dense is None else dense
    word = TfidfVectorizer(**WORD_TFIDF).fit(texts)
    char = TfidfVectorizer(**CHAR_TFIDF).fit(texts)
    cues = cue_features(texts)
    scalers = {"dense": _fit_scaler(dense), "cue": _fit_scaler(cues)}
    blocks = {
        "word": word.transform(texts),
        "char": char.transform(texts),
        "dense": _standardise(dense, *scalers["dense"]),
        "cue": _standardise(cues, *scalers["cue"]),
    }
    X = sp.hstack([blocks[b] * BLOCK_WEIGHTS[b] for b in BLOCKS], format="csr")
    svm = LinearSVC(C=C).fit(X, y)
    n_folds = max(2, min(calibration_folds, int(np.bincount(y)[classes].min())))
    folds = StratifiedKFold(n_folds, shuffle=True, random_state=seed)
    oof = cross_val_predict(LinearSVC(C=C), X, y, cv=folds, method="decision_function")
    coef, intercept = _expand(svm.coef_, svm.intercept_, classes)
    bounds = np.cumsum([0] + [blocks[b].shape[1] for b in BLOCKS])
    return TrainedRouter(
        word=word,
        char=char,
        scalers=scalers,
        coef={
            b: coef[:, bounds[i] : bounds[i + 1]] * BLOCK_WEIGHTS[b] for i, b in enumerate(BLOCKS)
        },
        intercept=intercept.astype(np.float32),
        temperature=fit_temperature(_full_scores(oof, classes), y),
        config=_config(texts, y, encoder, C),
    )


def _config(texts: Sequence[str], y: np.ndarray, encoder: str, C: float) -> dict:
    """What the model is and what it was trained on, for config.json."""
    digest = hashlib.sha256("\n".join(texts).encode()).hexdigest()[:16]
    return {
        "format": FORMAT,
        "labels": list(LABELS),
        "encoder": encoder,
        "features": {"word": WORD_TFIDF, "char": CHAR_TFIDF, "dense": "minilm mean(0..6)+max(1..6)"},
        "block_weights": BLOCK_WEIGHTS,
        "svm_C": C,
        "trained_on": {"questions": len(texts), "label_counts": np.bincount(y, minlength=6).tolist(), "sha256_16": digest},
    }  # fmt: skip


def _fit_scaler(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and scale of a StandardScaler fitted on x (float32)."""
    scaler = StandardScaler().fit(x)
    return scaler.mean_.astype(np.float32), scaler.scale_.astype(np.float32)


def _standardise(x: np.ndarray, mean: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """(x - mean) / scale, divided by sqrt(width) so wide blocks do not swamp narrow ones."""
    return ((x - mean) / scale / np.sqrt(x.shape[1])).astype(np.float32)


def _full_scores(scores: np.ndarray, classes: np.ndarray) -> np.ndarray:
    """Per-class scores laid out over all six labels (absent labels score ABSENT)."""
    if scores.ndim == 1:  # binary: sklearn returns the score of classes[1]
        scores = np.stack([-scores / 2, scores / 2], axis=1)
    full = np.full((len(scores), len(LABELS)), ABSENT, np.float32)
    full[:, classes] = scores
    return full


def _expand(
    coef: np.ndarray, intercept: np.ndarray, classes: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Rows of a fitted linear model for all six labels; absent labels score ABSENT."""
    if coef.shape[0] == 1 and len(classes) == 2:  # binary models keep one row: split it
        coef, intercept = (
            np.vstack([-coef / 2, coef / 2]),
            np.array([-intercept[0] / 2, intercept[0] / 2]),
        )
    full_coef = np.zeros((len(LABELS), coef.shape[1]), np.float32)
    full_intercept = np.full(len(LABELS), ABSENT, np.float32)
    full_coef[classes], full_intercept[classes] = coef, intercept
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


def _terms(vectorizer: TfidfVectorizer) -> list[str]:
    """The vectorizer's vocabulary as a list ordered by feature index."""
    return vectorizer.get_feature_names_out().tolist()


def _vectorizer(params: dict, terms: list[str], idf: np.ndarray) -> TfidfVectorizer:
    """A fitted TfidfVectorizer rebuilt from its terms and idf weights."""
    vectorizer = TfidfVectorizer(**params, vocabulary=terms)
    vectorizer.idf_ = idf.astype(np.float64)
    return vectorizer
