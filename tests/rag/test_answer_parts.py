"""Citations, grounding and message building, without a server."""

import base64
import io
from pathlib import Path

import pytest
from PIL import Image

from rag.core.config import GeneratorConfig
from rag.core.items import Hit, Span
from rag.generation.answer import ground, resolve_citations
from rag.generation.grounding import NO_ANSWER, GroundingSettings, sentences, support
from rag.generation.messages import build_messages
from retrievers.encoders import text_encoder


def _hit(n: int, text: str, modality: str = "text", granularity: str = "paragraph", **kw: object) -> Hit:
    return Hit(id=f"id{n}", corpus="c", score=1.0, source=f"/data/doc{n}.md", modality=modality,  # type: ignore[arg-type]
               granularity=granularity, text=text, span=kw.pop("span", Span(char_start=0, char_end=len(text))), **kw)  # type: ignore[arg-type]


EVIDENCE = [
    _hit(1, "The Eiffel Tower in Paris is 330 metres tall. It was completed in 1889."),
    _hit(2, "Paris is the capital of France and lies on the Seine."),
]


def test_citations_to_missing_evidence_are_dropped_and_counted() -> None:
    text, citations, dropped = resolve_citations("Tall [1][7]. On the Seine [2, 9]. Again [1].", EVIDENCE)
    assert text == "Tall [1]. On the Seine [2]. Again [1]."
    assert [c.n for c in citations] == [1, 2] and dropped == 2
    assert citations[0].hit is EVIDENCE[0] and citations[0].label == "doc1.md (chars 0-71)"


@pytest.mark.parametrize(
    ("draft", "grounding", "expected"),
    [
        ("The Eiffel Tower is 330 metres tall [1].", "cited", "The Eiffel Tower is 330 metres tall [1]."),
        ("It is 330 metres tall.", "attributed", "It is 330 metres tall [1]."),
        ("It is 412 metres tall [1].", "extracted", "The Eiffel Tower in Paris is 330 metres tall [1]."),
        ("How tall is the Eiffel Tower? How tall is the Eiffel Tower?", "extracted", None),
        ("The evidence does not answer this question.", "refused", NO_ANSWER),
    ],
)
def test_grounding_keeps_supported_drafts_and_replaces_invented_ones(draft: str, grounding: str, expected: str | None) -> None:
    encoder = text_encoder("sentence-transformers/all-MiniLM-L6-v2")
    text, how = ground(draft, "How tall is the Eiffel Tower?", EVIDENCE, encoder, GroundingSettings())
    assert how == grounding
    if expected:
        assert text.startswith(expected)


def test_unrelated_evidence_gives_no_answer() -> None:
    encoder = text_encoder("sentence-transformers/all-MiniLM-L6-v2")
    text, how = ground("Lima is the capital.", "What is the capital of Peru?", EVIDENCE, encoder, GroundingSettings())
    assert (text, how) == (NO_ANSWER, "unanswered")


REPAIR = _hit(3, "bicycle repair. Spoken: Open the quick release lever and lift the wheel out of the frame. "
                "Pull out the inner tube and find the puncture. Spread glue around the hole and press a "
                "rubber patch on firmly. Put the tube back, refit the wheel and pump up the tyre until it is hard.",
              "video", "video", title="bicycle repair")


@pytest.mark.parametrize("question", ["Give me a summary of the bicycle repair video.", "What happens in the repair video?",
                                      "whats the recording about", "tl;dr of the repair video"])
def test_a_summary_request_gets_the_evidences_key_sentences_in_order(question: str) -> None:
    """No single sentence is close to "give me a summary of ...": the failed draft is replaced
    by the evidence's sentences, cited, in their order, not by "unanswered"."""
    encoder = text_encoder("sentence-transformers/all-MiniLM-L6-v2")
    text, how = ground("The technician uses a Bike Repair Kit.", question, [REPAIR], encoder, GroundingSettings())
    assert how == "extracted" and text.count("[1]") >= 3
    assert text.index("quick release") < text.index("puncture") < text.index("pump up")
    short, _ = ground("Nonsense.", question, [REPAIR], encoder, GroundingSettings(summary_sentences=2))
    assert short.count("[1]") == 2
    plain, how = ground("Nonsense.", "How much does a new saddle cost?", [REPAIR], encoder, GroundingSettings())
    assert (plain, how) == (NO_ANSWER, "unanswered")  # not a summary request: no sentence is close


def test_support_ignores_words_of_the_question() -> None:
    assert support("The tower is tall.", EVIDENCE, "How tall is the tower?") == 0.0
    assert support("It was completed in 1889.", EVIDENCE) == 1.0
    assert support("It was completed in 1999.", EVIDENCE) == 0.0


@pytest.fixture
def frames(tmp_path: Path) -> list[Path]:
    paths = []
    for n, seconds in enumerate((12.5, 14.0, 15.5, 17.0)):
        path = tmp_path / f"{seconds:09.3f}.jpg"
        Image.new("RGB", (900, 600), (40 * n, 90, 160)).save(path)
        paths.append(path)
    return paths


def _visual_hits(frames: list[Path]) -> list[Hit]:
    return [
        _hit(1, "photo. Caption: a blue square", "image", "image", frames=(str(frames[0]),), span=Span()),
        _hit(2, "clip. Spoken: lava meets the sea", "video", "clip", frames=tuple(map(str, frames)), span=Span(start_s=12.0, end_s=18.0)),
        _hit(3, "photo two. Caption: another square", "image", "image", frames=(str(frames[1]),), span=Span()),
    ]


def _image_parts(messages: list[dict]) -> list[str]:
    content = messages[1]["content"]
    return [] if isinstance(content, str) else [p["image_url"]["url"] for p in content if p["type"] == "image_url"]


def test_images_become_downscaled_jpeg_data_urls_and_frames_carry_times(frames: list[Path]) -> None:
    settings = GeneratorConfig(max_images=8, sent_image_side=256, frames_sent_per_clip=2)
    messages, notes = build_messages("what is shown?", _visual_hits(frames), settings, vision=True)
    urls = _image_parts(messages)
    assert len(urls) == 1 + 2 + 1 and not notes
    for url in urls:
        assert url.startswith("data:image/jpeg;base64,")
        with Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1]))) as img:
            assert max(img.size) == 256
    texts = " ".join(p["text"] for p in messages[1]["content"] if p["type"] == "text")
    assert "[2] frame at 0:14.0" in texts and "[2] frame at 0:17.0" in texts
    assert 'id="2" kind="video clip"' in texts and "0:12.0-0:18.0" in texts


def test_image_budget_drops_extra_images_with_a_note(frames: list[Path]) -> None:
    messages, notes = build_messages("q", _visual_hits(frames), GeneratorConfig(max_images=2, frames_sent_per_clip=2), vision=True)
    assert len(_image_parts(messages)) == 2
    assert notes == ["[2] frame at 0:17.0 left out: the prompt's image budget is used up",
                     "[3] image left out: the prompt's image budget is used up"]
    messages, notes = build_messages("q", _visual_hits(frames), GeneratorConfig(max_image_bytes=10_000), vision=True)
    assert sum(len(u) for u in _image_parts(messages)) <= 10_000 and notes


def test_text_only_model_gets_descriptors_and_one_string(frames: list[Path]) -> None:
    messages, notes = build_messages("q", _visual_hits(frames), GeneratorConfig(), vision=False)
    user = messages[1]["content"]
    assert isinstance(user, str) and "lava meets the sea" in user and not notes
    assert "ignore them" in messages[0]["content"]


def test_a_markdown_table_row_is_a_sentence_that_names_its_columns() -> None:
    table = "Shift pay\n| Shift | Hourly rate |\n| --- | --- |\n| Day | 14.50 euros |\n| Night | 17.25 euros |\nPaid monthly by bank transfer to every employee."
    assert sentences(table, min_words=1) == [
        "Shift pay", "Shift: Day; Hourly rate: 14.50 euros.", "Shift: Night; Hourly rate: 17.25 euros.",
        "Paid monthly by bank transfer to every employee.",
    ]
