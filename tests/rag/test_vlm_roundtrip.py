"""Real image round trips: the client's image and clip-frame messages through vLLM's CPU
build serving a tiny random-weight Idefics3 (SmolVLM architecture) built in the session.

Its text is gibberish by design: the tests assert on the protocol (HTTP status, usage,
message parts, the image budget against --limit-mm-per-prompt), never on the words.
"""

from __future__ import annotations

import itertools
import json
import re
from pathlib import Path
from typing import Any

import httpx
import pytest

from rag.core.config import (
    Config,
    CorpusConfig,
    EncoderConfig,
    GeneratorConfig,
    IngestConfig,
    ServeConfig,
)
from rag.core.errors import GeneratorError, ServerError
from rag.core.items import Hit
from rag.generation.generator import Generator
from rag.generation.messages import build_messages
from rag.generation.serving import Server, embedded_model_dir, launch, vllm_command, vllm_python
from rag.library import Library
from tests.helpers import free_port, vllm_missing
from tests.tiny_vlm import TOKENS_PER_IMAGE, build_tiny_vlm

MISSING = vllm_missing()  # checked at collection, so a skip builds no sample library first
pytestmark = [pytest.mark.server, pytest.mark.skipif(MISSING is not None, reason=MISSING or "")]
MODEL = "tiny_random_vlm"
LIMIT = 2  # the server's --limit-mm-per-prompt for images
FRAME_LABEL = re.compile(r"\[(\d+)\] frame at (\d+):(\d\d\.\d)")


@pytest.fixture(scope="module")
def tiny_random_vlm(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The model folder, built by vLLM's interpreter (its transformers reads the files)."""
    python = vllm_python(ServeConfig())
    try:
        tokenizer = embedded_model_dir()  # SmolLM2's tokenizer, given the image tokens
    except ServerError as exc:
        pytest.skip(f"the embedded model is not installed (make venv): {exc}")
    return build_tiny_vlm(tokenizer, tmp_path_factory.mktemp("tiny_random_vlm"), python)


@pytest.fixture(scope="module")
def vlm_server(tiny_random_vlm: Path, tmp_path_factory: pytest.TempPathFactory) -> Server:
    port = free_port()
    flags = [
        "--enforce-eager", "--limit-mm-per-prompt", json.dumps({"image": LIMIT}),
        "--chat-template", str(tiny_random_vlm / "chat_template.jinja"),
    ]
    command = vllm_command(vllm_python(ServeConfig()), str(tiny_random_vlm), MODEL, "127.0.0.1", port, 2048, flags)
    env = {"VLLM_CPU_KVCACHE_SPACE": "1", "HF_HUB_OFFLINE": "1", "VLLM_NO_USAGE_STATS": "1"}
    log_path = tmp_path_factory.mktemp("tiny_vlm_logs") / "vllm.log"
    server = launch(command, f"http://127.0.0.1:{port}/v1", MODEL, log_path, 300, env)
    yield server
    server.stop()


@pytest.fixture(scope="module")
def image_hits(sample_library: Library) -> list[Hit]:
    hits = sample_library.search("a cat looking at the camera", corpus="image", k=3)
    assert len(hits) == 3 and all(h.modality == "image" and len(h.frames) == 1 for h in hits)
    return hits


@pytest.fixture(scope="module")
def clip_hit(sample_library: Library) -> Hit:
    hit = sample_library.search("lava flowing into the ocean", corpus="video-clip", k=1)[0]
    assert hit.granularity == "clip" and len(hit.frames) >= 2
    return hit


def _generator(server: Server, **settings: Any) -> Generator:
    config = GeneratorConfig(**{"max_images": LIMIT, "max_tokens": 4, **settings})
    return Generator(server.base_url, server.model, config, vision=True)


def _usage(generator: Generator, messages: list[dict[str, Any]]) -> tuple[int, int]:
    """Prompt and completion tokens of one (non-streamed) request through the client's SDK."""
    response = generator.request(messages=messages, max_tokens=4, temperature=0.0)
    assert response.choices and response.choices[0].finish_reason in ("length", "stop")
    return response.usage.prompt_tokens, response.usage.completion_tokens


def _user_parts(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    content = messages[-1]["content"]
    assert isinstance(content, list), "a prompt with images is a list of parts"
    return content


def _without_images(messages: list[dict[str, Any]], keep: int) -> list[dict[str, Any]]:
    """The same messages with only the first `keep` image parts (all text kept)."""
    if isinstance(messages[-1]["content"], str):
        return messages
    parts, seen = [], 0
    for part in _user_parts(messages):
        if part["type"] == "image_url":
            seen += 1
            if seen > keep:
                continue
        parts.append(part)
    return [*messages[:-1], {"role": "user", "content": parts}]


def test_image_and_clip_frame_messages_get_a_completion(vlm_server: Server, image_hits: list[Hit], clip_hit: Hit) -> None:
    # ignore_eos: the random-weight model's text is gibberish by design, but never empty
    generator = _generator(vlm_server, frames_sent_per_clip=1, extra_body={"ignore_eos": True})
    messages, notes = build_messages("What is shown?", [image_hits[0], clip_hit], generator.settings, vision=True)
    parts = _user_parts(messages)
    assert [p["type"] for p in parts].count("image_url") == 2 and not notes
    assert all(p["image_url"]["url"].startswith("data:image/jpeg;base64,") for p in parts if p["type"] == "image_url")
    prompt_tokens, completion_tokens = _usage(generator, messages)
    assert prompt_tokens > 2 * TOKENS_PER_IMAGE and completion_tokens >= 1
    # The paths the library uses: a whole completion and a stream, greedy, so the same text.
    completion = generator.complete(messages)
    assert completion and "".join(generator.stream(messages)) == completion


def test_prompt_tokens_grow_by_a_fixed_amount_per_image(vlm_server: Server, image_hits: list[Hit]) -> None:
    generator = _generator(vlm_server)
    messages, _ = build_messages("What is shown?", image_hits[:2], generator.settings, vision=True)
    tokens = [_usage(generator, _without_images(messages, keep))[0] for keep in (0, 1, 2)]
    assert [b - a for a, b in itertools.pairwise(tokens)] == [TOKENS_PER_IMAGE] * 2
    # Through the client's own budget: each image it admits adds exactly that many tokens.
    for most in (0, 1, 2):
        budgeted = _generator(vlm_server, max_images=most)
        built, notes = build_messages("What is shown?", image_hits[:2], budgeted.settings, vision=True)
        assert len(notes) == 2 - most
        text_only = _usage(budgeted, _without_images(built, 0))[0]
        assert _usage(budgeted, built)[0] - text_only == most * TOKENS_PER_IMAGE


def test_client_budget_keeps_within_the_servers_image_limit(vlm_server: Server, image_hits: list[Hit]) -> None:
    generator = _generator(vlm_server)
    messages, notes = build_messages("What is shown?", image_hits, generator.settings, vision=True)
    assert [p["type"] for p in _user_parts(messages)].count("image_url") == LIMIT
    assert notes == ["[3] image left out: the prompt's image budget is used up"]
    assert "[3] image" not in json.dumps(messages)  # no label for the image that is not there
    _usage(generator, messages)  # accepted: HTTP 200

    # The limit is real: the same evidence with all three images is refused by the server.
    over, notes = build_messages("What is shown?", image_hits, generator.settings.model_copy(update={"max_images": 3}), vision=True)
    assert not notes and [p["type"] for p in _user_parts(over)].count("image_url") == 3
    raw = httpx.post(
        f"{vlm_server.base_url}/chat/completions",
        json={"model": MODEL, "messages": over, "max_tokens": 4},
        timeout=60,
    )
    assert raw.status_code == 400 and "At most 2 image" in raw.text
    with pytest.raises(GeneratorError, match="HTTP 400"):
        generator.complete(over)


def test_clip_frames_arrive_with_their_time_labels(vlm_server: Server, clip_hit: Hit) -> None:
    generator = _generator(vlm_server, frames_sent_per_clip=2)
    messages, notes = build_messages("What happens here?", [clip_hit], generator.settings, vision=True)
    parts = _user_parts(messages)
    assert not notes
    images = [i for i, p in enumerate(parts) if p["type"] == "image_url"]
    assert len(images) == 2
    sent = set()
    for i in images:
        label = parts[i - 1]  # each frame follows the text part that names it
        assert label["type"] == "text"
        match = FRAME_LABEL.search(label["text"].splitlines()[-1])
        assert match and match.group(1) == "1", label["text"][-80:]
        seconds = int(match.group(2)) * 60 + float(match.group(3))
        assert clip_hit.span.start_s <= seconds <= clip_hit.span.end_s
        sent.add(seconds)
    assert sent <= {round(float(Path(f).stem), 1) for f in clip_hit.frames} and len(sent) == 2
    prompt_tokens, _ = _usage(generator, messages)
    assert prompt_tokens == _usage(generator, _without_images(messages, 0))[0] + 2 * TOKENS_PER_IMAGE


def test_library_ask_sends_pixels_to_a_vision_server(vlm_server: Server, sample_library: Library) -> None:
    settings = GeneratorConfig(base_url=vlm_server.base_url, model=MODEL, max_images=LIMIT, max_tokens=4, evidence_k=3)
    library = Library(sample_library.config.model_copy(update={"generator": settings}, deep=True))
    answer = library.ask("What does Chelsea the cat look like?", corpus="image")
    assert answer.model == MODEL and len(answer.evidence) == 3
    assert "[3] image left out: the prompt's image budget is used up" in answer.notes
    assert not any("could not look at their pixels" in note for note in answer.notes)
    assert answer.grounding in ("cited", "attributed", "extracted", "unanswered", "refused")
    timings = answer.timings  # first_token_s is absent if the random model streamed no text
    assert 0 < timings.get("first_token_s", 0.001) <= timings["generate_s"] <= timings["total_s"]


def _finished_requests(server: Server) -> float:
    """Requests the server has finished: its own Prometheus counter, not the client's word."""
    text = httpx.get(server.base_url.removesuffix("/v1") + "/metrics", timeout=10).text
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line.startswith("vllm:request_success_total"))


def _describing_library(base_url: str, data_dir: Path) -> Library:
    """An image corpus (descriptors only) whose answer model is the tiny VLM at `base_url`.
    The random model's words are held to a pattern (vLLM structured outputs): left free, it
    can spend all its tokens on whitespace, which is rightly refused as an empty description."""
    words = {"structured_outputs": {"regex": "[a-z]{2,8}( [a-z]{2,8}){1,3}"}}
    generator = GeneratorConfig(base_url=base_url, model=MODEL, extra_body=words)
    image = CorpusConfig(name="image", modality="image", granularity="image", encoder=EncoderConfig(visual_model=None))
    return Library(Config(data_dir=data_dir, corpora=[image], generator=generator, ingest=IngestConfig(describe_max_tokens=8)))


def _stored(library: Library) -> dict[str, tuple[str, dict[str, Any]]]:
    got = library.retriever("image")._index.collection.get(include=["documents", "metadatas"])  # type: ignore[attr-defined]
    return {Path(m["source"]).stem: (d, m) for d, m in zip(got["documents"], got["metadatas"], strict=True)}


def _photos(folder: Path, *names: str) -> Path:
    from PIL import Image
    from skimage import data

    folder.mkdir(exist_ok=True)
    for name in names:
        Image.fromarray(getattr(data, name)()).convert("RGB").save(folder / f"{name}.png")
    return folder


def test_ingest_asks_the_vision_model_once_per_new_picture(vlm_server: Server, tmp_path: Path) -> None:
    photos = _photos(tmp_path / "photos", "astronaut", "coffee")
    library = _describing_library(vlm_server.base_url, tmp_path / "data")
    before = _finished_requests(vlm_server)
    report = library.ingest([photos], progress=False)
    assert [o.status for o in report.outcomes] == ["ingested", "ingested"] and not report.notes
    assert _finished_requests(vlm_server) - before == 2
    for text, meta in _stored(library).values():
        assert meta["described"] is True and meta["description"] and f"Description: {meta['description']}" in text

    before = _finished_requests(vlm_server)
    assert [o.status for o in library.ingest([photos], progress=False).outcomes] == ["unchanged", "unchanged"]
    (photos / "coffee.caption.txt").write_text("A cup of coffee on a saucer.")  # new file version, same pixels
    report = library.ingest([photos], progress=False)
    assert [o.status for o in report.outcomes] == ["unchanged", "ingested"]
    assert _finished_requests(vlm_server) == before  # the description came from the cache
    text, meta = _stored(library)["coffee"]
    assert "Caption: A cup of coffee" in text and meta["described"] is True

    _photos(photos, "rocket")
    library.ingest([photos], progress=False)
    assert _finished_requests(vlm_server) - before == 1


def test_pictures_stay_ingested_when_descriptions_fail_and_describe_fills_them_in(vlm_server: Server, tmp_path: Path) -> None:
    photos = _photos(tmp_path / "photos", "astronaut")
    report = _describing_library(f"http://127.0.0.1:{free_port()}/v1", tmp_path / "data").ingest([photos], progress=False)
    outcome = report.outcomes[0]
    assert outcome.status == "ingested" and outcome.items == {"image": 1}
    assert "description failed for 1 picture" in outcome.reason and "unreachable" in outcome.reason
    assert _stored(_describing_library(vlm_server.base_url, tmp_path / "data"))["astronaut"][1]["described"] is False

    library = _describing_library(vlm_server.base_url, tmp_path / "data")
    before = _finished_requests(vlm_server)
    assert library.ingest([photos], progress=False).outcomes[0].status == "unchanged"  # a plain ingest leaves it
    assert library.ingest([photos], progress=False, describe=True).outcomes[0].status == "ingested"
    assert _finished_requests(vlm_server) - before == 1
    assert _stored(library)["astronaut"][1]["described"] is True
