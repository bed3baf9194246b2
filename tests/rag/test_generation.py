"""Grounded answers through a real vLLM CPU server running the embedded SmolLM2-135M."""

import re
from pathlib import Path

import pytest

from rag.generation.grounding import NO_ANSWER
from rag.library import Library
from ui.cli import main

pytestmark = pytest.mark.server


def test_answer_cites_existing_evidence_mapped_to_its_file_and_span(answer_library: Library) -> None:
    answer = answer_library.ask("How much salt should go in the pasta water?", corpus="text-paragraph")
    assert answer.citations, answer
    for citation in answer.citations:
        assert answer.evidence[citation.n - 1] is citation.hit
        assert f"[{citation.n}]" in answer.text
    cited = answer.citations[0].hit
    assert Path(cited.source).name == "pasta_guide.html" and cited.span.char_start is not None
    assert "salt" in answer.text.lower() and answer.supported


def test_clip_citation_carries_seconds_and_pixels_note(answer_library: Library) -> None:
    answer = answer_library.ask("What happens when lava reaches the sea?", corpus="video-clip")
    assert answer.citations
    hit = answer.citations[0].hit
    assert Path(hit.source).name == "volcano_eruption.mp4" and hit.span.start_s is not None and hit.span.end_s > hit.span.start_s
    assert any("could not look at their pixels" in note for note in answer.notes)


def test_unanswerable_question_says_so_instead_of_inventing(answer_library: Library) -> None:
    answer = answer_library.ask("What is the capital of Peru?", corpus="text-paragraph")
    assert answer.text == NO_ANSWER and not answer.citations and not answer.supported


def test_streaming_yields_the_draft_in_order_then_the_answer(answer_library: Library) -> None:
    events = list(answer_library.ask_stream("Who was the first woman to command a Space Shuttle?", corpus="text-paragraph"))
    *pieces, answer = events
    assert len(pieces) > 3 and all(isinstance(p, str) for p in pieces)
    assert "".join(pieces) == answer.draft
    assert 0 < answer.timings["first_token_s"] <= answer.timings["generate_s"] <= answer.timings["total_s"]
    assert answer.model == "smollm2-135m-instruct"


def test_answer_across_corpora_without_a_corpus(answer_library: Library) -> None:
    answer = answer_library.ask("Which mission did Eileen Collins command in 1999?")
    assert {h.corpus for h in answer.evidence} >= {"text-paragraph", "text-document"}
    assert any(Path(c.hit.source).name == "space_exploration.md" for c in answer.citations)


def _config_file(library: Library, tmp_path: Path) -> Path:
    path = tmp_path / "mmrag.toml"
    path.write_text(f'data_dir = "{library.config.data_dir}"\n[embedded]\nport = {library.config.embedded.port}\n')
    return path


def test_cli_ask_streams_then_lists_sources(answer_library: Library, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = _config_file(answer_library, tmp_path)
    assert main(["ask", "How do I patch an inner tube?", "--plain", "--corpus", "text-paragraph", "--stream", "--config", str(config)]) == 0
    out = capsys.readouterr().out
    assert "Sources" in out and "bicycle_maintenance.pdf" in out and re.search(r"\bp\.\d", out)


def test_cli_ask_runs_the_agent_and_prints_its_steps(answer_library: Library, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = _config_file(answer_library, tmp_path)
    assert main(["ask", "how many grams of salt per litre of pasta water", "--config", str(config)]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    route = next(line for line in lines if line.startswith("route: "))
    assert "paragraph" in route and "text-paragraph" in route and "[trained: paragraph" in route
    steps = [line.split(":")[0].split(" (")[0] for line in lines if re.match(r"(route|retrieve|rerank|reflect)\b", line)]
    assert steps[:4] == ["route", "retrieve", "rerank", "reflect"]
    assert "Sources" in out and "pasta_guide.html" in out
    assert main(["ask", "x", "--corpus", "image", "--config", str(config)]) == 2  # --corpus needs --plain
    assert "--plain" in capsys.readouterr().out


def test_cli_serve_embedded_reuses_a_running_server(answer_library: Library, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["serve", "--embedded", "--config", str(_config_file(answer_library, tmp_path))]) == 0
    assert "already running" in capsys.readouterr().out
