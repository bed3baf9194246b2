"""UniversalRAG query files (eval.universal), in their own layout: integer and string labels,
gold paths written as Python lists in strings, clip time windows; and `eval retrieval
--universalrag` against the sample corpora ingested with the real encoders and Chroma.
The queries below are written for these tests about the bundled samples."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from eval.universal import load
from ui.cli import main

ROWS = [
    {"index": "p1", "question": "How many classes of iris plants are in the iris dataset?", "answer": "3",
     "gt_retrieval": 1, "gt_texts": "['dataset/squad/text/sklearn_iris.rst']"},
    {"index": "i1", "question": "What does the rocket on the launch pad look like?", "answer": "white",
     "gt_retrieval": "image", "gt_images": "['dataset/WebQA/images/rocket.jpg']"},
    {"index": "c1", "question": "What closes when volcanic ash drifts over nearby villages?", "answer": "airports",
     "gt_retrieval": "4", "gt_videos": "['dataset/LVBench/videos/volcano_eruption.mp4']", "time_reference": "[8, 18]"},
    {"index": "c2", "question": "What closes when volcanic ash drifts over nearby villages?", "answer": "airports",
     "gt_retrieval": 4, "gt_videos": ["volcano_eruption.mp4"], "time_reference": [200, 230]},  # no clip there
    {"index": "v1", "question": "How do you cook pasta in boiling water?", "answer": "...",
     "gt_retrieval": 5, "gt_videos": "['dataset/videorag/videos/pasta_cooking.mp4']"},
    {"index": "n1", "question": "What is 17 times 3?", "answer": "51", "gt_retrieval": 0},
]


@pytest.fixture
def queries(tmp_path: Path) -> Path:
    path = tmp_path / "universal.json"
    path.write_text(json.dumps(ROWS))
    return path


def test_load_reads_labels_gold_names_and_windows(queries: Path) -> None:
    got = {q.id: q for q in load(queries)}
    assert [got[i].label for i in ("p1", "i1", "c1", "c2", "v1", "n1")] == ["paragraph", "image", "clip", "clip", "video", "no"]
    assert got["p1"].files == ("sklearn_iris.rst",) and got["n1"].files == ()
    assert got["c1"].window == (8.0, 18.0) and got["c2"].window == (200.0, 230.0) and got["v1"].window is None


def test_load_names_the_bad_row(tmp_path: Path) -> None:
    path = tmp_path / "bad.json"
    path.write_text(json.dumps([ROWS[0], {"question": "x", "gt_retrieval": 9}]))
    with pytest.raises(ValueError, match="row 1"):
        load(path)


def test_retrieval_against_ingested_corpora(sample_library, queries: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "mmrag.toml"
    config.write_text(f'data_dir = "{sample_library.config.data_dir}"\n')
    out = tmp_path / "result.json"
    args = ["--config", str(config), "eval", "retrieval", "--universalrag", str(queries), "--json", str(out)]
    assert main(args) == 0
    assert capsys.readouterr().out.strip().splitlines()[-1].startswith("ndcg@10=")
    result = json.loads(out.read_text())
    per = result["per_query"]
    assert result["queries"] == 5  # the `no` question has nothing to retrieve
    assert per["p1"]["recall@5"] == 1.0 and per["i1"]["recall@5"] == 1.0 and per["v1"]["recall@5"] == 1.0
    assert per["c1"]["recall@5"] == 1.0 and per["c2"]["recall@10"] == 0.0  # same video, outside the window
    assert {"clip recall@5", "image ndcg@10", "paragraph recall@5"} <= set(result["figures"])
    assert result["routed"] == {"text-paragraph": 1, "image": 1, "video-clip": 2, "video-whole": 1}

    routed = tmp_path / "routed.json"
    assert main([*args[:-1], str(routed), "--mode", "routed"]) == 0
    assert sum(json.loads(routed.read_text())["routed"].values()) == 5
