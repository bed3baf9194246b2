"""`mmrag eval routing` over several sets and policies side by side, with acceptable labels;
the end-to-end check of the agent; and the data the routing sets are made of."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from eval import e2e, natural, universal
from ui.cli import main

SETS = [
    {"question": "Summarise the volcano video.", "gt_retrieval": "video"},
    {"question": "At what point in the pasta video does the spaghetti go in?", "gt_retrieval": "clip"},
    {"question": "What is 12 squared?", "gt_retrieval": "no"},
    {"question": "what does the coffee photo show", "gt_retrieval": "image"},
    {"question": "how much salt goes in pasta water", "gt_retrieval": ["paragraph", "document"]},
    {"question": "what does the lease say about pets", "gt_retrieval": "paragraph", "acceptable": ["document"]},
]


def test_sets_and_policies_side_by_side(sample_library, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    first, second = tmp_path / "plain.json", tmp_path / "bench.json"
    first.write_text(json.dumps(SETS))
    second.write_text(json.dumps([{"question": "Which band released its debut album first, Arctic Monkeys or The Strokes?", "gt_retrieval": 2},
                                  {"question": "What color is the roof of the Sydney Opera House?", "gt_retrieval": 3}]))
    config, out = tmp_path / "mmrag.toml", tmp_path / "out.json"
    config.write_text(f'data_dir = "{sample_library.config.data_dir}"\n')
    args = ["eval", "routing", "--queries", str(first), "--queries", str(second), "--router", "trained",
            "--router", "evidence", "--config", str(config), "--json", str(out), "--latency-sample", "2"]
    assert main(args) == 0
    printed = capsys.readouterr().out.strip().splitlines()
    assert printed[-1] == "accuracy=1.0000 acceptable=1.0000"
    header = next(line for line in printed if line.startswith("figure"))
    assert all(name in header for name in ("plain/trained", "plain/evidence", "bench/trained", "bench/evidence"))
    result = json.loads(out.read_text())
    assert set(result["runs"]) == {"plain/trained", "plain/evidence", "bench/trained", "bench/evidence"}
    evidence = result["runs"]["plain/evidence"]
    assert evidence["router"] == "evidence" and evidence["decided_by"] == {"trained": len(SETS)}
    assert evidence["acceptable_accuracy"] == 1.0 and "ece" not in evidence
    assert result["figures"]["bench/trained accuracy"] == 1.0 and "plain/evidence acceptable" in result["figures"]


def test_the_natural_set_is_split_a_fifth_held_out_by_writer_and_template() -> None:
    train, test = natural.split(170)
    assert 0.18 < len(test) / (len(train) + len(test)) < 0.22
    assert {r["source"] for r in test if r["source"].startswith("writer")} == {"writer-c"}
    assert not {r["source"] for r in train} & {r["source"] for r in test}
    assert not {r["question"].lower() for r in train} & {r["question"].lower() for r in test}
    for rows in (train, test):
        counts = Counter(r["gt_retrieval"] for r in rows)
        assert set(counts) == {"no", "paragraph", "document", "image", "clip", "video"}
        assert min(counts.values()) > 0.8 * max(counts.values())
        assert all(r["gt_retrieval"] in r["acceptable"] for r in rows)
    committed = json.loads((natural.DATA / "natural_test.json").read_text())
    assert [r["question"] for r in committed] == [r["question"] for r in test]  # the files are this split


def test_end_to_end_questions_name_real_items_of_the_e2e_corpora() -> None:
    """Every gold file exists among the sample files and the extra files, and every clip
    window is one of its video's scenes."""
    from rag.library.samples import HERE
    from rag.library.samples.videos import sample_videos

    videos = {v.file: v for v in [*sample_videos(), *sample_videos(e2e.DATA / "video_scripts.json")]}
    images = {f"{name}.jpg" for spec in (HERE / "images.json", e2e.DATA / "images.json")
              for name in json.loads(spec.read_text())}
    texts = {p.name for p in (e2e.DATA / "text").iterdir()} | {p.name for p in (HERE / "text").iterdir()}
    queries = universal.load(e2e.QUESTIONS)
    assert len(queries) >= 150 and sum(q.label == "no" for q in queries) >= 20
    for q in queries:
        assert (q.label == "no") == (not q.files), q.id
        for name in q.files:
            assert name in videos or name in images or name in texts or name.startswith("sklearn_") or name == "bicycle_maintenance.pdf", (q.id, name)
        if q.label == "clip":
            scenes = [(s.start_s, s.end_s) for s in videos[q.files[0]].scenes]
            assert q.window in scenes, (q.id, q.window)


@pytest.mark.server
def test_end_to_end_reports_kept_gold_items_and_no_answers(answer_library, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rows = [
        {"index": "clip", "question": "At what point in the bicycle repair video is the wheel taken off?",
         "gt_retrieval": "clip", "gt_videos": ["bicycle_repair.mp4"], "time_reference": [0.0, 5.5]},
        {"index": "no", "question": "What is 12 squared?", "gt_retrieval": "no"},
    ]
    questions, config, out = tmp_path / "q.json", tmp_path / "mmrag.toml", tmp_path / "e2e.json"
    questions.write_text(json.dumps(rows))
    config.write_text(f'data_dir = "{answer_library.config.data_dir}"\n[embedded]\nport = {answer_library.config.embedded.port}\n')
    assert main(["eval", "routing", "--end-to-end", str(questions), "--config", str(config), "--json", str(out)]) == 0
    assert capsys.readouterr().out.strip().splitlines()[-1] == "kept_gold=1.0000 content_answered_from_no=0"
    result = json.loads(out.read_text())
    by_id = {r["id"]: r for r in result["rows"]}
    assert by_id["clip"]["kept_gold"] and by_id["clip"]["route"] == ["clip"] and not by_id["clip"]["from_no"]
    assert by_id["no"]["from_no"] and result["figures"]["no_answered_without_retrieval"] == 1.0
