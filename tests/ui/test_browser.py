"""End to end in a real browser: `mmrag ui` (streamlit run ui/app.py) on 127.0.0.1, driven by Playwright
in Debian's Chromium (/usr/bin/chromium; Playwright never downloads a browser), with the real
Agent on the sample corpora and the embedded vLLM CPU server. Screenshots are saved under
test-artifacts/ (or $MMRAG_TEST_ARTIFACTS)."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.helpers import free_port

CHROMIUM = Path("/usr/bin/chromium")
ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = Path(os.environ.get("MMRAG_TEST_ARTIFACTS", ROOT / "test-artifacts"))
FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
ANSWER_MS = 240_000  # the 135M CPU model, re-ranking and reflection on 2 cores

pytestmark = [
    pytest.mark.server,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian chromium not installed (apt-get install chromium)"),
]


@pytest.fixture(scope="module")
def app_url(answer_library, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`mmrag ui` with a config naming the session's library and server."""
    config = tmp_path_factory.mktemp("ui") / "mmrag.toml"
    config.write_text(
        f'data_dir = "{answer_library.config.data_dir}"\n'
        f"[embedded]\nport = {answer_library.config.embedded.port}\n"
    )
    port = free_port()
    log = (tmp_path_factory.mktemp("ui-log") / "streamlit.log").open("w")
    command = [sys.executable, "-m", "ui.cli", "--config", str(config), "ui", "--port", str(port)]
    process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                if httpx.get(f"{url}/_stcore/health", timeout=2).text == "ok":
                    break
            except httpx.HTTPError:
                pass
            assert process.poll() is None and time.monotonic() < deadline, Path(log.name).read_text()[-3000:]
            time.sleep(0.5)
        yield url
    finally:
        os.killpg(process.pid, signal.SIGTERM)  # mmrag and the streamlit it started
        process.wait(timeout=30)
        log.close()


@pytest.fixture(scope="module")
def page(app_url: str) -> Iterator:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=FLAGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1800})
        page.goto(app_url)
        page.get_by_test_id("stChatInputTextArea").wait_for(timeout=120_000)
        yield page
        browser.close()


def ask(page, question: str) -> object:
    """Types the question and waits until the app has finished the run; returns the answer's
    chat message."""
    before = page.get_by_test_id("stChatMessage").count()
    box = page.get_by_test_id("stChatInputTextArea")
    box.fill(question)
    box.press("Enter")
    try:
        page.wait_for_function(
            f"() => document.querySelectorAll('[data-testid=\"stChatMessage\"]').length >= {before + 2}",
            timeout=60_000,
        )
    except Exception:
        screenshot(page, "ui-question-not-taken")  # what the page showed instead
        raise
    running = page.get_by_test_id("stStatusWidget")  # Streamlit's "Running..." indicator
    running.wait_for(state="detached", timeout=ANSWER_MS)
    answer = page.get_by_test_id("stChatMessage").nth(before + 1)
    # the status panel's label becomes the summary ("Route ...") when the run is over; a
    # question typed before that would stop the run and lose this turn
    answer.get_by_test_id("stExpander").first.get_by_text(re.compile(r"^Route ")).wait_for(timeout=ANSWER_MS)
    return answer


def screenshot(page, name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    print(f"screenshot: {path}")
    return path


def status_text(answer) -> str:
    """The answer's status panel, opened."""
    panel = answer.get_by_test_id("stExpander").first
    panel.locator("summary").click()
    panel.get_by_text("route: ", exact=False).first.wait_for(timeout=30_000)
    return panel.inner_text()


def test_a_conversation_streams_answers_with_source_cards_and_standalone_follow_ups(page) -> None:
    answer = ask(page, "how many grams of salt per litre of pasta water")
    answer.get_by_text("Sources", exact=True).wait_for(timeout=ANSWER_MS)
    assert "pasta_guide.html" in answer.inner_text()
    assert answer.locator("a[href^='#m1-source-']").count() >= 1  # [n] links to its card
    assert screenshot(page, "ui-text-answer").stat().st_size > 10_000

    follow_up = ask(page, "and how long should it cook?")  # needs the first turn's subject
    steps = " ".join(status_text(follow_up).split())
    assert re.search(r"standalone question: and how long should it cook\? \([^)]*pasta", steps), steps
    switched = ask(page, "show me that in the video")  # the same subject, in the videos
    switched.get_by_text("Sources", exact=True).wait_for(timeout=ANSWER_MS)
    steps = " ".join(status_text(switched).split())
    assert "standalone question: show me that in the video" in steps and re.search(r"route: (clip|video)", steps), steps
    switched.locator("video").first.wait_for(timeout=30_000)  # the clip plays in its source card
    assert "pasta_cooking.mp4" in switched.inner_text()
    screenshot(page, "ui-conversation")

    page.get_by_test_id("stSidebar").get_by_role("button", name="New conversation").click()
    page.wait_for_function("() => document.querySelectorAll('[data-testid=\"stChatMessage\"]').length === 0", timeout=60_000)


def test_image_question_shows_the_image_inline(page) -> None:
    answer = ask(page, "What color is the cat in the photo?")
    answer.get_by_text("Sources", exact=True).wait_for(timeout=ANSWER_MS)
    image = answer.get_by_test_id("stImage").locator("img").first
    image.wait_for(timeout=30_000)
    assert image.evaluate("img => img.complete && img.naturalWidth > 0")
    assert "chelsea_the_cat.jpg" in answer.inner_text()
    screenshot(page, "ui-image-answer")


def test_video_question_plays_the_clip_at_the_cited_moment(page) -> None:
    answer = ask(page, "What happens when the lava reaches the sea in the volcano video?")
    answer.get_by_text("Sources", exact=True).wait_for(timeout=ANSWER_MS)
    video = answer.locator("video").first
    video.wait_for(timeout=30_000)
    text = answer.inner_text()
    assert "volcano_eruption.mp4" in text
    minutes, seconds = re.search(r"volcano_eruption\.mp4 · (\d+):(\d+(?:\.\d+)?)-", text).groups()  # type: ignore[union-attr]
    start = int(int(minutes) * 60 + float(seconds))
    video.evaluate("v => new Promise(done => v.readyState >= 1 ? done() : v.addEventListener('loadedmetadata', done))")
    assert abs(video.evaluate("v => v.currentTime") - start) < 1.5  # positioned at the cited moment
    screenshot(page, "ui-video-answer")
