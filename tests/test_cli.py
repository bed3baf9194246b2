"""The `mmrag` console script end to end: ingest, search, corpora."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from ui.cli import main


@pytest.fixture
def workdir(tmp_path: Path, samples: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    docs = tmp_path / "docs"
    docs.mkdir()
    shutil.copy(samples / "text" / "bicycle_maintenance.pdf", docs)
    shutil.copy(samples / "images" / "chelsea_the_cat.jpg", docs)
    shutil.copy(samples / "images" / "chelsea_the_cat.caption.txt", docs)
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MMRAG_CONFIG", raising=False)
    return tmp_path


def test_search_prints_score_corpus_source_span_and_snippet(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["ingest", "docs"]) == 0
    capsys.readouterr()
    assert main(["search", "how long should vulcanising solution dry", "--corpus", "text-paragraph", "-k", "2"]) == 0
    out = capsys.readouterr().out
    assert "text-paragraph" in out and "bicycle_maintenance.pdf" in out and "p.2" in out and "vulcanising" in out
    assert main(["search", "a tabby cat"]) == 0
    out = capsys.readouterr().out
    assert "chelsea_the_cat.jpg" in out and "text-document" in out


def test_corpora_lists_counts(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    main(["ingest", "docs", "--corpus", "image"])
    capsys.readouterr()
    assert main(["corpora"]) == 0
    out = capsys.readouterr().out
    assert "image" in out and "video-clip" in out and (workdir / ".mmrag").is_dir()


def test_ingest_describe_says_why_there_is_no_vision_model(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["ingest", "docs", "--corpus", "image", "--describe"]) == 0
    out = " ".join(capsys.readouterr().out.split())  # the table wraps long lines
    assert "descriptions of pictures by the vision model are off" in out and "not a served vision model" in out


def test_config_flag_and_errors(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (workdir / "alt.toml").write_text('data_dir = "alt"\n[[corpora]]\nname = "only"\nmodality = "text"\ngranularity = "document"\n')
    assert main(["--config", "alt.toml", "ingest", "docs"]) == 0
    assert (workdir / "alt").is_dir()
    assert main(["--config", "alt.toml", "search", "x", "--corpus", "nope"]) == 2
    assert "no corpus named 'nope'" in capsys.readouterr().out


def test_console_script_is_installed() -> None:
    script = Path(sys.executable).with_name("mmrag")
    result = subprocess.run([str(script), "--help"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and "ingest" in result.stdout and "search" in result.stdout


def test_ask_route_takes_known_labels_in_order(capsys: pytest.CaptureFixture[str]) -> None:
    from ui.cli import _labels

    assert _labels("paragraph, clip") == ("paragraph", "clip")
    with pytest.raises(SystemExit):
        main(["ask", "x", "--route", "paragraph,bogus"])
    assert "unknown label(s) ['bogus']" in capsys.readouterr().err
