from pathlib import Path

import pytest

from rag.core.config import ConfigError, load_config


def test_defaults_give_the_universalrag_layout(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MMRAG_CONFIG", raising=False)
    config = load_config()
    layout = {(c.modality, c.granularity) for c in config.corpora}
    assert layout == {("text", "paragraph"), ("text", "document"), ("image", "image"),
                      ("video", "clip"), ("video", "video")}
    assert config.data_dir == tmp_path / ".mmrag"


def test_toml_file_found_in_cwd_or_env_with_relative_paths(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "cfg").mkdir()
    (tmp_path / "cfg" / "mmrag.toml").write_text(
        'data_dir = "data"\n[[corpora]]\nname = "notes"\nmodality = "text"\ngranularity = "paragraph"\n'
        'sources = ["docs"]\n[corpora.encoder]\nbm25 = false\n'
    )
    monkeypatch.chdir(tmp_path / "cfg")
    config = load_config()
    assert [c.name for c in config.corpora] == ["notes"]
    assert config.corpora[0].encoder.bm25 is False
    assert config.corpora[0].sources == [tmp_path / "cfg" / "docs"]
    assert config.data_dir == tmp_path / "cfg" / "data"
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MMRAG_CONFIG", str(tmp_path / "cfg" / "mmrag.toml"))
    assert load_config().corpora[0].name == "notes"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ('[[corpora]]\nname = "xyz"\nmodality = "image"\ngranularity = "clip"\n', "does not fit modality"),
        ('[[corpora]]\nname = "xyz"\nmodality = "audio"\ngranularity = "clip"\n', "modality"),
        ('colour = "red"\n', "Extra inputs are not permitted"),
        ("corpora = [", "cannot read config"),
    ],
)
def test_invalid_config_is_a_clear_error(tmp_path: Path, body: str, message: str) -> None:
    path = tmp_path / "mmrag.toml"
    path.write_text(body)
    with pytest.raises(ConfigError, match=message):
        load_config(path)


def test_missing_explicit_config_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "nope.toml")


def test_bad_corpus_name_says_what_is_allowed(tmp_path: Path) -> None:
    path = tmp_path / "mmrag.toml"
    path.write_text('[[corpora]]\nname = "a b"\nmodality = "text"\ngranularity = "paragraph"\n')
    with pytest.raises(ConfigError, match="3-63 characters"):
        load_config(path)
