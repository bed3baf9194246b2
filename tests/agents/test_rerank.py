"""Re-ranking over the sample library (real MiniLM, real Chroma): per-corpus calibration,
adaptive up-to-k by threshold, and the optional CrossEncoder path."""

from __future__ import annotations

from pathlib import Path

import pytest

from agents import AgentConfig
from agents.calibration import Calibrator
from agents.rerank import Reranker, select

SALT = "How much salt should go in the pasta water?"


@pytest.fixture(scope="module")
def reranker(sample_library) -> Reranker:
    return Reranker(sample_library, AgentConfig())


@pytest.fixture(scope="module")
def salt_hits(sample_library) -> list:
    return sample_library.search(SALT, corpus="text-paragraph", k=8) + sample_library.search(
        SALT, corpus="image", k=4
    )


def test_keeps_at_most_k_hits_above_the_threshold_best_first(
    reranker: Reranker, salt_hits: list
) -> None:
    result = reranker.rerank(SALT, salt_hits, k=3, threshold=0.5)
    relevances = [s.relevance for s in result.kept]
    assert 1 <= len(result.kept) <= 3 and relevances == sorted(relevances, reverse=True)
    assert all(r >= 0.5 for r in relevances)
    assert sorted(s.hit.id for s in result.kept + result.dropped) == sorted(h.id for h in salt_hits)
    top = result.kept[0].hit
    assert Path(top.source).name == "pasta_guide.html" and "ten grams of salt" in top.text
    assert all(s.hit.corpus == "text-paragraph" for s in result.kept)  # no photo is about salt
    for s in result.dropped:
        assert s.reason == "below threshold 0.50" if s.relevance < 0.5 else s.reason == "beyond k=3"


def test_threshold_and_k_decide_what_is_kept(reranker: Reranker, salt_hits: list) -> None:
    scored = reranker.score(SALT, salt_hits)
    values = sorted((s.relevance for s in scored), reverse=True)
    for threshold in (0.0, 0.3, 0.6, 0.9):
        for k in (1, 2, 5):
            result = select(scored, k, threshold)
            expected = [v for v in values if v >= threshold][:k]
            assert [s.relevance for s in result.kept] == expected
            assert len(result.kept) + len(result.dropped) == len(scored)
    everything = select(scored, k=len(scored), threshold=0.0)
    assert not everything.dropped
    nothing = select(scored, k=3, threshold=1.0)
    assert not nothing.kept and all(s.reason.startswith("below threshold") for s in nothing.dropped)


def test_scores_are_calibrated_per_corpus(sample_library) -> None:
    calibrate = Calibrator(sample_library)
    raw = [0.1, 0.2, 0.3, 0.5]
    for corpus in ("text-paragraph", "video-clip"):
        values = calibrate(corpus, raw)
        assert values == sorted(values) and all(0.0 < v < 1.0 for v in values)
        median, _ = calibrate.null(corpus)
        assert calibrate(corpus, [median])[0] < 0.3  # an unrelated question's best match: sigmoid(-1)
    # Same raw cosine, different meaning: short clip transcripts score lower on everything.
    assert calibrate("video-clip", [0.3])[0] > calibrate("text-paragraph", [0.3])[0]
    lava = "What happens when lava reaches the sea?"
    clip_top = sample_library.search(lava, corpus="video-clip", k=1)[0]
    image_top = sample_library.search(lava, corpus="image", k=1)[0]
    # The clip shows it; the best image (Greek coins from Pompeii) is only near the topic.
    assert calibrate("video-clip", [clip_top.score])[0] > 0.9 > 0.6 > calibrate("image", [image_top.score])[0]


def test_signals_without_a_cross_encoder(reranker: Reranker, salt_hits: list) -> None:
    """Text hits are judged by their calibrated hybrid score; images and clips, which the
    embedded (text-only) model reads as descriptors, also by their best descriptor sentence."""
    scored = reranker.score(SALT, salt_hits)
    assert {s.hit.modality for s in scored} >= {"text", "image"}
    for s in scored:
        if s.hit.modality == "text":
            assert set(s.signals) == {"retriever", "calibrated"}
            assert s.relevance == pytest.approx(s.signals["calibrated"])
        else:
            assert set(s.signals) == {"retriever", "calibrated", "sentence"}
            assert s.relevance == pytest.approx((s.signals["calibrated"] + s.signals["sentence"]) / 2)


@pytest.fixture(scope="module")
def tiny_random_cross_encoder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A random-weight BERT sequence classifier (one label) with MiniLM's tokenizer: real
    CrossEncoder loading and scoring, meaningless relevance."""
    import torch
    from transformers import AutoTokenizer, BertConfig, BertForSequenceClassification

    from rag.core.models import resolve_model

    folder = tmp_path_factory.mktemp("tiny_random_cross_encoder")
    tokenizer = AutoTokenizer.from_pretrained(resolve_model("all-MiniLM-L6-v2"))
    torch.manual_seed(0)
    config = BertConfig(vocab_size=tokenizer.vocab_size, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                        num_attention_heads=2, max_position_embeddings=512, num_labels=1)
    BertForSequenceClassification(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def test_cross_encoder_scores_text_hits_random_weights(
    sample_library, salt_hits: list, tiny_random_cross_encoder: Path
) -> None:
    reranker = Reranker(sample_library, AgentConfig(cross_encoder=str(tiny_random_cross_encoder)))
    for s in reranker.score(SALT, salt_hits):
        if s.hit.modality == "text":
            assert 0.0 <= s.signals["cross_encoder"] <= 1.0
            expected = (s.signals["calibrated"] + s.signals["cross_encoder"]) / 2
        else:
            assert "cross_encoder" not in s.signals
            expected = (s.signals["calibrated"] + s.signals["sentence"]) / 2
        assert s.relevance == pytest.approx(expected)


@pytest.mark.server
def test_model_relevance_is_a_logprob_probability_from_the_real_server(answer_library) -> None:
    """The answer model's yes/no judgement (SmolLM2-135M here: plumbing, not quality):
    P(yes) comes from the first token's logprobs, so it is a probability, not a 0/1 reply."""
    hits = answer_library.search(SALT, corpus="text-paragraph", k=4) + answer_library.search(
        SALT, corpus="image", k=2
    )
    judged = Reranker(answer_library, AgentConfig(model_relevance="on")).score(SALT, hits)
    values = [s.signals["model"] for s in judged]
    assert all(0.0 <= v <= 1.0 for v in values) and any(0.0 < v < 1.0 for v in values)
    for s in judged:  # the judgement is one of the averaged signals
        others = [v for name, v in s.signals.items() if name != "retriever"]
        assert s.relevance == pytest.approx(sum(others) / len(others))
    auto = Reranker(answer_library, AgentConfig()).score(SALT, hits[:1])[0]
    assert "model" not in auto.signals  # auto: only a vision model at generator.base_url judges


@pytest.mark.server
def test_choice_probabilities_sum_to_one_over_the_choices(answer_library) -> None:
    generator = answer_library.generator()
    messages = [{"role": "user", "content": "Is Paris the capital of France? Answer yes or no."}]
    probs = generator.choice_probabilities(messages, ("yes", "no"))
    assert set(probs) == {"yes", "no"} and sum(probs.values()) == pytest.approx(1.0)
