"""The Streamlit app under streamlit.testing's AppTest: the real Agent on the sample corpora,
answering through the real embedded vLLM CPU server."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from eval import documents
from tests.helpers import free_port

APP = str(Path(__file__).resolve().parents[2] / "ui" / "app.py")


def app(config: Path, monkeypatch: pytest.MonkeyPatch) -> AppTest:
    monkeypatch.setenv("MMRAG_CONFIG", str(config))
    at = AppTest.from_file(APP, default_timeout=300)
    at.run()
    assert not at.exception, at.exception
    return at


def config_file(tmp_path: Path, data_dir: Path, extra: str = "", port: int | None = None) -> Path:
    path = tmp_path / "mmrag.toml"
    embedded = f"[embedded]\nport = {port}\n" if port else ""
    path.write_text(f'data_dir = "{data_dir}"\n{extra}{embedded}')
    return path


def status_lines(message) -> list[str]:
    return [t.value for t in message.status[0].text] if message.status else []


@pytest.mark.server
def test_a_conversation_gets_answers_with_citations_the_steps_and_standalone_follow_ups(
    answer_library, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = answer_library.config
    at = app(config_file(tmp_path, config.data_dir, port=config.embedded.port), monkeypatch)
    assert not at.error  # the embedded generator is reachable: no banner
    at.chat_input[0].set_value("how many grams of salt per litre of pasta water").run()
    assert not at.exception, at.exception
    user, bot = at.chat_message[0], at.chat_message[1]
    assert user.name == "user" and bot.name == "assistant"
    steps = status_lines(bot)
    assert any(s.startswith("route: paragraph") and "fast router" in s for s in steps), steps
    assert any(s.startswith("retrieve: ") for s in steps) and any(s.startswith("rerank: kept") for s in steps)
    assert any(s.startswith("reflect (round 0)") for s in steps)
    assert not any(s.startswith("standalone question") for s in steps)  # a first question stands alone
    markdown = " ".join(m.value for m in bot.markdown)
    assert "**Sources**" in markdown and "pasta\\_guide\\.html" in markdown
    assert "(#m1-source-1)" in markdown  # the answer's [1] links to its card
    assert bot.status[0].state == "complete"

    at.chat_input[0].set_value("and how long should it cook?").run()  # needs the first turn's subject
    assert not at.exception, at.exception
    steps = status_lines(at.chat_message[3])
    assert steps[0].startswith("standalone question: and how long should it cook? (") and "pasta" in steps[0], steps
    at.chat_input[0].set_value("show me that in the video").run()  # the same subject, in the videos
    steps = status_lines(at.chat_message[5])
    assert steps[0].startswith("standalone question: show me that in the video") and "pasta" in steps[0], steps
    assert any(re.match(r"route: (clip|video)", s) for s in steps), steps
    assert "pasta\\_cooking\\.mp4" in " ".join(m.value for m in at.chat_message[5].markdown)
    assert len(at.session_state["conversation"].turns) == 3

    at.button(key="new_conversation").click().run()
    assert not at.chat_message and not at.session_state["conversation"].turns


def test_an_upload_is_ingested_with_a_progress_bar_and_a_report(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    at = app(config_file(tmp_path, tmp_path / "data"), monkeypatch)
    text = b"The lighthouse keeper lit the lamp at dusk every evening for forty years."
    handbook = documents.handbook_docx(tmp_path / "made" / "handbook.docx").read_bytes()
    files = [
        ("../../lighthouse.txt", text, "text/plain"), ("broken.pdf", b"%PDF-1.4 nonsense", "application/pdf"),
        ("tool.exe", b"MZ", "application/octet-stream"), ("handbook.docx", handbook, "application/octet-stream"),
    ]
    at.sidebar.file_uploader[0].set_value(files).run()
    at.button(key="ingest").click().run()
    assert not at.exception, at.exception
    table = at.sidebar.dataframe[-1].value
    outcome = dict(zip(table["file"], table["status"], strict=True))
    assert outcome == {"lighthouse.txt": "ingested", "broken.pdf": "failed", "handbook.docx": "ingested"}
    assert any("descriptions of pictures by the vision model are off" in c.value for c in at.sidebar.caption)
    assert table["reason"][list(table["file"]).index("broken.pdf")]  # the failure says why
    assert any("tool.exe: unknown file type" in e.value for e in at.sidebar.error)
    at.run()
    counts = dict(zip(at.sidebar.dataframe[0].value["corpus"], at.sidebar.dataframe[0].value["items"], strict=True))
    assert counts["text-paragraph"] >= 1 and counts["text-document"] >= 1
    uploads = tmp_path / "data" / "uploads"
    assert sorted(p.name for p in uploads.iterdir()) == ["broken.pdf", "handbook.docx", "lighthouse.txt"]
    assert list(tmp_path.rglob("lighthouse.txt")) == [uploads / "lighthouse.txt"]  # "../../" went nowhere


def test_an_unreachable_generator_shows_a_banner_and_search_still_works(
    sample_library, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    dead = f'[generator]\nbase_url = "http://127.0.0.1:{free_port()}/v1"\n'
    at = app(config_file(tmp_path, sample_library.config.data_dir, dead), monkeypatch)
    assert at.error and "unreachable" in at.error[0].value and "search still works" in at.error[0].value
    at.chat_input[0].set_value("how many grams of salt per litre of pasta water").run()
    assert not at.exception, at.exception
    bot = at.chat_message[1]
    assert bot.warning and "Showing search results only" in bot.warning[0].value
    markdown = " ".join(m.value for m in bot.markdown)
    assert "pasta\\_guide\\.html" in markdown
    at.run()  # a rerun redraws the history: the search results are still there
    assert "pasta\\_guide\\.html" in " ".join(m.value for m in at.chat_message[1].markdown)


@pytest.mark.server
def test_an_image_attached_to_a_question_is_shown_and_searched_with(
    answer_library, samples: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = answer_library.config
    at = app(config_file(tmp_path, config.data_dir, port=config.embedded.port), monkeypatch)
    photo = (samples / "images" / "chelsea_the_cat.jpg").read_bytes()
    at.chat_input[0].upload("mine.jpg", photo, "image/jpeg").set_value("What color is the cat in the photo?").run()
    assert not at.exception, at.exception
    user = at.chat_message[0]
    assert user.image and user.text[0].value == "What color is the cat in the photo?"
    saved = list((config.data_dir / "queries").glob("*.jpg"))
    assert saved and saved[0].read_bytes() == photo  # kept for the history and the image query
    assert at.chat_message[1].status[0].state in ("complete", "error")  # the run finished


def test_a_cited_paragraph_shows_the_page_it_is_on(tmp_path: Path) -> None:
    def card(page_image: str) -> None:
        from rag.core.items import Hit, Span
        from ui.views import hit_card

        hit_card(1, Hit("p1", "text-paragraph", 0.9, "/docs/report.pdf", "text", "paragraph", "Revenue grew.", Span(page=2), frames=(page_image,)))

    page = tmp_path / "page-2.jpg"
    from PIL import Image

    Image.new("RGB", (60, 80), "white").save(page)
    at = AppTest.from_function(card, args=(str(page),), default_timeout=60)
    at.run()
    assert not at.exception, at.exception
    image = at.get("image")[0]
    assert image.proto.imgs[0].caption == "page 2"
    assert "Revenue grew." in [t.value for t in at.text]
