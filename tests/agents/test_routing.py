"""The trained fast router: the shipped model, option stripping, calibration plumbing,
label parsing, training on a small split, and the routing evaluation command."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from agents.intent import (
    DEFAULT_DIR,
    LABELS,
    TrainedRouter,
    load_labelled,
    normalize_question,
    train,
)
from eval.train_router import BENCHMARK_DATA

# Written for these tests (not taken from the training file): one clear case per line.
CLEAR = [
    ("Which of the following best describes the function of the mitochondria in a cell?", "no"),
    (
        "Statement 1 | Every cyclic group is abelian. Statement 2 | Every abelian group is cyclic.",
        "no",
    ),
    ("Who wrote the novel pride and prejudice?", "paragraph"),
    ("What is the capital city of Australia?", "paragraph"),
    ("Which band released its debut album first, Arctic Monkeys or The Strokes?", "document"),
    ("The director of the 1994 film Pulp Fiction was born in which state?", "document"),
    ("Were Ernest Hemingway and F. Scott Fitzgerald both American novelists?", "document"),
    ("What color is the roof of the Sydney Opera House?", "image"),
    ("How many columns are on the front facade of the Parthenon in Athens?", "image"),
    ("What happens in the scene where the chef flips the pancake?", "clip"),
    (
        "What does the streamer hold up right after opening the mystery box in the 2023 unboxing video?",
        "clip",
    ),
    (
        "What does the host do after the guest finishes singing in the late-night talk show episode?",
        "clip",
    ),
    ("How do I repot a snake plant?", "video"),
    ("What are the steps to make homemade sourdough bread?", "video"),
]
STEM = "Which of the following best describes the function of the mitochondria in a cell?"
WITH_OPTIONS = [
    f"{STEM}\nA. protein synthesis\nB. energy production\nC. lipid storage\nD. cell division",
    f"{STEM}\nA) protein synthesis\nB) energy production\nC) lipid storage\nD) cell division",
    f"{STEM}\n(A) protein synthesis\n(B) energy production\n(C) lipid storage\n(D) cell division",
    f"{STEM}\nOptions:\n1. protein synthesis\n2. energy production\nAnswer with the letter.",
    f"{STEM} (A) protein synthesis (B) energy production (C) lipid storage (D) cell division",
    f"  {STEM}  \n\n(A) protein synthesis\n(B) energy production",
]
CLIP_STEM = "What does the woman in the red coat pick up after the dog runs away in the park vlog?"


@pytest.fixture(scope="module")
def router() -> TrainedRouter:
    return TrainedRouter.load()


@pytest.fixture(scope="module")
def training_file() -> Path:
    if not BENCHMARK_DATA.exists():
        pytest.skip(f"training file not found: {BENCHMARK_DATA}")
    return BENCHMARK_DATA


def test_shipped_model_is_small_plain_data() -> None:
    files = {f.name: f.stat().st_size for f in DEFAULT_DIR.iterdir()}
    assert set(files) == {"config.json", "vocabulary.json.gz", "weights.npz"}
    assert sum(files.values()) < 3 * 1024 * 1024
    with np.load(DEFAULT_DIR / "weights.npz", allow_pickle=False) as npz:  # no object arrays
        assert all(npz[k].dtype.kind == "f" for k in npz.files)


@pytest.mark.parametrize(("question", "label"), CLEAR)
def test_shipped_model_routes_clear_questions(
    router: TrainedRouter, question: str, label: str
) -> None:
    ranked = router.route(question)
    assert ranked[0][0] == label, ranked[:3]


def test_route_is_sorted_and_probabilities_sum_to_one(router: TrainedRouter) -> None:
    proba = router.predict_proba([q for q, _ in CLEAR])
    assert proba.shape == (len(CLEAR), len(LABELS))
    assert np.all(proba >= 0) and np.allclose(proba.sum(1), 1.0, atol=1e-5)
    ranked = router.route(CLEAR[0][0])
    assert [label for label, _ in ranked] != [] and {label for label, _ in ranked} == set(LABELS)
    assert [p for _, p in ranked] == sorted((p for _, p in ranked), reverse=True)
    assert router.predict([CLEAR[-1][0]]) == [CLEAR[-1][1]]


@pytest.mark.parametrize("question", WITH_OPTIONS)
def test_answer_options_do_not_change_the_route(router: TrainedRouter, question: str) -> None:
    assert normalize_question(question) == STEM
    assert np.allclose(router.predict_proba([question]), router.predict_proba([STEM]), atol=1e-6)


def test_lvbench_style_choices_keep_a_clip_question_a_clip_question(router: TrainedRouter) -> None:
    multi = f"{CLIP_STEM}\n(A) A ball\n(B) A leash\n(C) Her phone\n(D) A coffee cup"
    assert router.route(multi)[0][0] == router.route(CLIP_STEM)[0][0] == "clip"


def test_normalize_question_keeps_questions_without_options() -> None:
    assert normalize_question("  Who  wrote\tHamlet? ") == "Who wrote Hamlet?"
    assert (
        normalize_question("A. Lincoln was born in which state?")
        == "A. Lincoln was born in which state?"
    )
    assert (
        normalize_question("Read the passage.\nWhat does it claim?")
        == "Read the passage. What does it claim?"
    )
    assert normalize_question("Is (A) or (B) a better plan?") == "Is (A) or (B) a better plan?"


def test_load_labelled_accepts_int_and_string_labels(tmp_path: Path) -> None:
    rows = [
        {"question": "q0", "gt_retrieval": 0},
        {"question": "q1", "gt_retrieval": "paragraph"},
        {"question": "q2", "gt_retrieval": "Video"},
        {"question": "q3", "gt_retrieval": "4", "answer": "ignored"},
    ]
    path = tmp_path / "queries.json"
    path.write_text(json.dumps(rows))
    assert load_labelled(path)[:2] == (["q0", "q1", "q2", "q3"], ["no", "paragraph", "video", "clip"])
    path.write_text(json.dumps([{"question": "q", "gt_retrieval": 7}]))
    with pytest.raises(ValueError, match="unknown routing label"):
        load_labelled(path)


def test_label_name_takes_numpy_ints_but_not_bools() -> None:
    from agents.labels import label_name

    assert label_name(np.int64(3)) == "image" and label_name(" Clip ") == "clip"  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="unknown routing label"):
        label_name(True)


def test_training_on_a_small_split_beats_chance_and_round_trips(
    training_file: Path, tmp_path: Path
) -> None:
    questions, labels, _ = load_labelled(training_file)
    rng = np.random.default_rng(0)
    order = rng.permutation(len(questions))
    train_idx, test_idx = order[:300], order[300:450]
    router = train({"benchmark": ([questions[i] for i in train_idx], [labels[i] for i in train_idx])})
    test_q, test_y = [questions[i] for i in test_idx], [labels[i] for i in test_idx]
    accuracy = np.mean([p == t for p, t in zip(router.predict(test_q), test_y, strict=True)])
    majority = max(test_y.count(label) for label in LABELS) / len(test_y)
    assert accuracy > 0.8 > majority + 0.3, accuracy  # measured 0.907 (majority 0.28)
    loaded = TrainedRouter.load(router.save(tmp_path / "model"))
    assert np.allclose(
        loaded.predict_proba(test_q[:20]), router.predict_proba(test_q[:20]), atol=2e-3
    )


def test_labels_absent_from_training_get_no_probability() -> None:
    questions = [q for q, label in CLEAR if label in {"paragraph", "image", "video"}] * 2
    labels = [label for _, label in CLEAR if label in {"paragraph", "image", "video"}] * 2
    proba = train({"set": (questions, labels)}).predict_proba(["How do I bake a cake?"])[0]
    assert proba[[LABELS.index(x) for x in ("no", "document", "clip")]].max() < 1e-6
    assert np.isclose(proba.sum(), 1.0)


def test_eval_command_reports_accuracy_last(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from eval.routing import main

    rows = [{"question": q, "gt_retrieval": label if i % 2 else LABELS.index(label)} for i, (q, label) in enumerate(CLEAR)]
    queries, out = tmp_path / "queries.json", tmp_path / "out.json"
    queries.write_text(json.dumps(rows))
    assert main(["--queries", str(queries), "--json", str(out), "--latency-sample", "3"]) == 0
    last = capsys.readouterr().out.strip().splitlines()[-1]
    assert last == "accuracy=1.0000"
    result = json.loads(out.read_text())
    assert result["n"] == len(CLEAR) and result["latency_ms"]["n"] == 3
    assert sum(map(sum, result["confusion"])) == len(CLEAR) and 0 <= result["ece"] <= 1


def test_cli_trains_a_router_and_evaluates_it(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from ui.cli import main

    rows = [{"question": q, "gt_retrieval": label} for q, label in CLEAR]
    data, model, out = tmp_path / "train.json", tmp_path / "model", tmp_path / "out.json"
    data.write_text(json.dumps(rows * 2))
    plain = tmp_path / "plain.json"  # a second style: an expert of its own and a gate
    plain.write_text(json.dumps([{"question": q.lower().rstrip("?"), "gt_retrieval": label} for q, label in CLEAR] * 2))
    assert main(["router", "train", "--data", f"bench={data}", "--data", str(plain), "--out", str(model)]) == 0
    assert list(TrainedRouter.load(model).experts) == ["bench", "plain"]
    assert {"config.json", "weights.npz", "vocabulary.json.gz"} <= {f.name for f in model.iterdir()}
    capsys.readouterr()
    args = ["eval", "routing", "--queries", str(data), "--model", str(model), "--json", str(out)]
    assert main([*args, "--latency-sample", "2"]) == 0
    printed = capsys.readouterr().out.strip().splitlines()
    assert printed[-1] == "accuracy=1.0000" and any(line.startswith("confusion") for line in printed)
    result = json.loads(out.read_text())
    assert result["router"] == "trained" and result["n"] == 2 * len(CLEAR)
    assert set(result["latency_ms"]) == {"p50", "p95", "n"}


def test_cli_labels_match_the_agent_labels() -> None:
    from agents.labels import LABELS as AGENT_LABELS
    from ui.cli import LABELS as CLI_LABELS

    assert CLI_LABELS is AGENT_LABELS is LABELS  # one home: agents.labels
    assert AGENT_LABELS == ("no", "paragraph", "document", "image", "clip", "video")  # the model's column order


@pytest.mark.server
def test_eval_routing_runs_the_llm_and_hybrid_policies_on_the_real_server(
    answer_library, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Through the real embedded vLLM server: every question gets a label (accuracy of a
    135M model is not the point); hybrid defers to the LLM exactly when unsure."""
    from eval.routing import main

    config = tmp_path / "mmrag.toml"
    config.write_text(
        f'data_dir = "{answer_library.config.data_dir}"\n'
        f"[embedded]\nport = {answer_library.config.embedded.port}\n"
        '[agent]\nconfidence = 0.999\nllm_router = "on"\nevidence = false\n'  # the intent model's own confidence
    )
    rows = [{"question": q, "gt_retrieval": label} for q, label in CLEAR]
    queries, out = tmp_path / "queries.json", tmp_path / "out.json"
    queries.write_text(json.dumps(rows))
    for mode in ("llm", "hybrid"):
        args = ["--queries", str(queries), "--router", mode, "--config", str(config)]
        assert main([*args, "--json", str(out), "--latency-sample", "2"]) == 0
        assert capsys.readouterr().out.strip().splitlines()[-1].startswith("accuracy=")
        result = json.loads(out.read_text())
        assert result["router"] == mode and sum(result["decided_by"].values()) == len(CLEAR)
        assert sum(map(sum, result["confusion"])) == len(CLEAR) and "ece" not in result
    unsure = [p[0][1] <= 0.999 for p in map(TrainedRouter.load().route, (q for q, _ in CLEAR))]
    assert any(unsure), "no question the LLM is asked about: the test would prove nothing"
    assert result["decided_by"].get("llm", 0) == sum(unsure)
    assert result["decided_by"].get("trained", 0) == len(CLEAR) - sum(unsure)


NATURAL_TEST = Path(__file__).resolve().parents[2] / "eval" / "data" / "natural_test.json"


def test_shipped_model_routes_held_out_natural_questions(router: TrainedRouter) -> None:
    """The held-out fifth of the natural set (writer c, every fifth template): never
    trained on. Measured 0.961 routed to an acceptable label, 0.950 to the gold one."""
    questions, labels, acceptable = load_labelled(NATURAL_TEST)
    predicted = router.predict(questions)
    fine = np.mean([p in ok for p, ok in zip(predicted, acceptable, strict=True)])
    assert fine >= 0.95, fine
    for label in LABELS:  # no label is left behind (lowest measured: document 0.911)
        mine = [p in ok for p, ok, y in zip(predicted, acceptable, labels, strict=True) if y == label]
        assert np.mean(mine) >= 0.88, (label, np.mean(mine))


def test_the_style_gate_tells_benchmark_from_plain_questions(router: TrainedRouter) -> None:
    styles = router.styles(["Summarise the volcano video.", "whats the wifi password",
                            "The director of the 1994 film Pulp Fiction was born in which state?"])
    assert list(router.experts) == ["benchmark", "natural"]
    assert styles[0, 1] > 0.9 and styles[1, 1] > 0.9 and styles[2, 0] > 0.9


@pytest.mark.slow
def test_recipe_holds_its_accuracy_on_a_held_out_benchmark_fold(training_file: Path) -> None:
    """The shipped recipe (benchmark + natural experts and the gate) trained on four fifths
    of train.json, tested on the fifth left out: measured 0.926-0.971 over the five folds
    (mean 0.946), the same fold as the CV's first."""
    from sklearn.model_selection import StratifiedKFold

    questions, labels, _ = load_labelled(training_file)
    natural = load_labelled(Path(__file__).resolve().parents[2] / "eval" / "data" / "natural_train.json")
    y = np.array([LABELS.index(label) for label in labels])
    tr, te = next(iter(StratifiedKFold(5, shuffle=True, random_state=0).split(questions, y)))
    router = train({"benchmark": ([questions[i] for i in tr], y[tr]), "natural": natural[:2]})
    accuracy = np.mean(np.array(router.predict([questions[i] for i in te])) == np.array(labels)[te])
    assert accuracy >= 0.915, accuracy  # measured 0.926 on this fold


def test_router_features_come_from_an_onnx_graph_with_pytorchs_numbers(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The router's encoder runs on ONNX Runtime (exported once into the model cache);
    its hidden states equal eager PyTorch's."""
    import torch

    from agents.intent import ENCODER, layer_encoder
    from retrievers.encoders import text_encoder

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    layer_encoder.cache_clear()
    try:
        layers = layer_encoder(ENCODER)
        assert list((tmp_path / "mmrag" / "models").glob("router-layers-*.onnx"))
        model = text_encoder(ENCODER).model
        tokens = model.tokenizer(["Summarise the volcano video.", "hi"], padding=True, return_tensors="np")
        with torch.inference_mode():
            out = model[0].auto_model(**{k: torch.from_numpy(v) for k, v in tokens.items()}, output_hidden_states=True)
        expected = torch.stack(out.hidden_states).numpy()
        assert layers(tokens).shape == expected.shape == (7, 2, tokens["input_ids"].shape[1], 384)
        assert np.abs(layers(tokens) - expected).max() < 1e-4
    finally:
        layer_encoder.cache_clear()


def test_router_tfidf_has_scikit_learns_numbers(router: TrainedRouter) -> None:
    """Each head's TF-IDF over the once-analysed n-grams equals TfidfVectorizer.transform,
    for questions with known, unknown and no terms at all."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    from agents.intent import TFIDF, prepared

    texts = [normalize_question(q) for q, _ in CLEAR] + ["zzqx vvbj", ""]
    q = prepared(texts, np.zeros((len(texts), 1)))
    for head in [*router.experts.values(), router.gate]:
        for block, tfidf in head.tfidf.items():
            reference = TfidfVectorizer(**TFIDF[block], vocabulary=tfidf.terms)
            reference.idf_ = tfidf.idf
            ours = tfidf.transform(q.grams[block])
            assert ours.shape == (len(texts), len(tfidf.terms)) and ours[-1].nnz == 0
            assert abs(reference.transform(texts) - ours).max() < 1e-12
