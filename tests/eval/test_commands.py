"""The evaluation commands end to end on a small BEIR folder written for the tests: result
JSON, markdown report and plots are produced, the last printed line is machine-readable, and
`compare` shows deltas."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ui.cli import main


def last_line(capsys: pytest.CaptureFixture[str]) -> str:
    return capsys.readouterr().out.strip().splitlines()[-1]


def test_retrieval_writes_json_report_and_plot(beir_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "retrieval.json"
    assert main(["eval", "retrieval", "--beir", str(beir_dir), "--k", "5", "--json", str(out)]) == 0
    line = last_line(capsys)
    assert line.startswith("ndcg@10=") and " recall@5=" in line
    result = json.loads(out.read_text())
    assert result["command"] == "retrieval" and result["queries"] == 6 and result["multi_hop_queries"] == 1
    figures = result["figures"]
    assert figures["recall@5"] >= 5 / 6  # distinct topics: MiniLM finds them
    assert figures["ndcg@10"] == pytest.approx(float(line.split()[0].split("=")[1]), abs=1e-4)
    assert "multi-hop ndcg@10" in figures and len(result["recall_curve"]) == 5
    assert result["per_query"]["q2"]["mrr@10"] == 1.0
    assert result["meta"]["versions"]["chromadb"] and result["meta"]["settings"]["k"] == 5
    md = out.with_suffix(".md").read_text()
    assert "| ndcg@10 |" in md and "![recall-curve](retrieval-recall-curve.png)" in md
    assert (tmp_path / "retrieval-recall-curve.png").stat().st_size > 5_000


def test_routed_retrieval_counts_where_each_query_went(beir_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "routed.json"
    assert main(["eval", "retrieval", "--beir", str(beir_dir), "--mode", "routed", "--json", str(out)]) == 0
    result = json.loads(out.read_text())
    assert sum(result["routed"].values()) == 6
    misses = [q for q, v in result["per_query"].items() if v["recall@10"] == 0]
    assert len(misses) <= sum(n for where, n in result["routed"].items() if not where.startswith("text-"))


def test_rerank_mode_orders_the_same_candidates(beir_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "rerank.json"
    assert main(["eval", "retrieval", "--beir", str(beir_dir), "--mode", "rerank", "--json", str(out)]) == 0
    assert json.loads(out.read_text())["figures"]["recall@10"] >= 5 / 6


def test_compare_prints_both_values_and_the_delta(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    a.write_text(json.dumps({"command": "retrieval", "figures": {"ndcg@10": 0.5, "recall@5": 0.6}}))
    b.write_text(json.dumps({"command": "retrieval", "figures": {"ndcg@10": 0.75, "mrr@10": 0.9}}))
    assert main(["eval", "compare", str(a), str(b)]) == 0
    rows = {line.split()[0]: line.split()[1:] for line in capsys.readouterr().out.splitlines()[3:]}
    assert rows["ndcg@10"] == ["0.5000", "0.7500", "+0.2500"]
    assert rows["recall@5"] == ["0.6000", "-"] and rows["mrr@10"] == ["-", "0.9000"]


@pytest.mark.server
def test_answers_and_latency_with_the_real_answer_model(answer_library, beir_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "mmrag.toml"
    config.write_text(f"[embedded]\nport = {answer_library.config.embedded.port}\n")
    out = tmp_path / "answers.json"
    assert main(["--config", str(config), "eval", "answers", "--beir", str(beir_dir), "--limit", "3", "--json", str(out)]) == 0
    assert last_line(capsys).startswith("f1=")
    result = json.loads(out.read_text())
    assert len(result["rows"]) == 3 and {"em", "f1", "rouge_l", "citation_precision", "faithfulness", "second_hop"} <= set(result["figures"])
    assert all(row["actions"] and row["actions"][-1] == "end" for row in result["rows"])  # each round's reflection action
    assert all(0 <= v <= 1 for k, v in result["figures"].items() if not k.startswith("latency"))
    ragas = [json.loads(x) for x in out.with_name("answers-ragas.jsonl").read_text().splitlines()]
    assert len(ragas) == 3 and set(ragas[0]) == {"user_input", "response", "retrieved_contexts", "reference"}
    assert (tmp_path / "answers-latency.png").exists()
    conversation = {"id": "c", "turns": [
        {"question": "how much salt goes in pasta water", "answer": "about ten grams per litre", "gt_retrieval": "paragraph", "evidence": ["pasta_guide.html"]},
        {"question": "and how long should it cook?", "kind": "ellipsis", "answer": "until al dente", "gt_retrieval": 1, "evidence": ["pasta_guide.html"]},
    ]}
    dataset = tmp_path / "conversations.jsonl"
    dataset.write_text(json.dumps(conversation) + "\n")
    samples = tmp_path / "samples.toml"  # the sample corpora, already ingested
    samples.write_text(f'data_dir = "{answer_library.config.data_dir}"\n[embedded]\nport = {answer_library.config.embedded.port}\n')
    out = tmp_path / "conversations.json"
    assert main(["--config", str(samples), "eval", "answers", "--dataset", str(dataset), "--no-judge", "--json", str(out)]) == 0
    result = json.loads(out.read_text())
    first, follow_up = result["rows"]
    assert (first["id"], first["turn"], follow_up["id"], follow_up["turn"]) == ("c.0", 0, "c.1", 1)
    assert follow_up["condensed_by"] == "rules" and "pasta" in follow_up["standalone"]
    assert result["figures"]["follow-ups"] == 1 and result["figures"]["follow-up resolution"] == 1.0  # the standalone question finds the guide
    assert set(result["by_kind"]) == {"ellipsis"} and "follow-up condense p50_s" in result["figures"]
    dataset = tmp_path / "questions.jsonl"
    dataset.write_text("".join(json.dumps({"question": q}) + "\n" for q in ("What causes ocean tides?", "How many strings does a violin have?")))
    out = tmp_path / "latency.json"
    assert main(["--config", str(config), "eval", "latency", "--dataset", str(dataset), "--json", str(out)]) == 0
    assert last_line(capsys).startswith("total_p50_s=")
    steps = json.loads(out.read_text())["latency"]
    assert {"route", "retrieve", "rerank", "generate", "reflect", "total"} <= set(steps)
    assert all(v["p95"] >= v["p50"] >= 0 for v in steps.values())
