"""Eight concurrent askers, as threads sharing one Agent and as separate processes against the
Chroma server: no errors, no cross-talk (each answer belongs to its own question), and the
same answers as one asker asking the same questions in turn."""

from __future__ import annotations

import json
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from agents import Agent, AgentConfig
from rag.core.config import Config, StoreConfig
from rag.library import Library

QUESTIONS = [
    "how many grams of salt per litre of pasta water",
    "Why do aircraft avoid volcanic ash clouds?",
    "How do I patch an inner tube?",
    "When did the first crewed moon landing happen?",
    "What pressure should road bike tyres have?",
    "How long should spaghetti cook?",
    "What is a pyroclastic flow?",
    "Which spacecraft first orbited the Earth?",
]
SCRIPT = """
import json, sys
from agents import Agent, AgentConfig
from rag.core.config import load_config
from rag.library import Library
config = load_config(sys.argv[1])
agent = Agent(Library(config), AgentConfig(router="trained"))
answer = agent.ask(sys.argv[2])
print(json.dumps({"question": answer.question, "text": answer.text,
                  "cited": [c.hit.id for c in answer.citations]}))
"""


def outcome(answer) -> dict:
    return {"question": answer.question, "text": answer.text, "cited": [c.hit.id for c in answer.citations]}


@pytest.fixture(scope="module")
def served(answer_library: Library, chroma_server: int, samples: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A config file: the sample texts in the Chroma server, the session's embedded model."""
    folder = tmp_path_factory.mktemp("concurrency")
    config = folder / "mmrag.toml"
    config.write_text(
        f'data_dir = "{folder / "data"}"\n[store]\nhost = "127.0.0.1"\nport = {chroma_server}\n'
        f"[embedded]\nport = {answer_library.config.embedded.port}\n"
    )
    store = Config(data_dir=folder / "data", store=StoreConfig(host="127.0.0.1", port=chroma_server))
    Library(store).ingest([samples / "text"], progress=False)
    return config


@pytest.mark.server
def test_eight_askers_in_threads_and_in_processes_get_the_sequential_answers(served: Path) -> None:
    from rag.core.config import load_config

    agent = Agent(Library(load_config(served)), AgentConfig(router="trained"))
    sequential = [outcome(agent.ask(q)) for q in QUESTIONS]
    assert all(s["cited"] for s in sequential[:3])  # real answers, not refusals only
    with ThreadPoolExecutor(8) as pool:
        threaded = list(pool.map(lambda q: outcome(agent.ask(q)), QUESTIONS))
    assert threaded == sequential
    processes = [subprocess.Popen([sys.executable, "-c", SCRIPT, str(served), q], stdout=subprocess.PIPE, text=True)
                 for q in QUESTIONS]
    separate = []
    for process in processes:
        out, _ = process.communicate(timeout=600)
        assert process.returncode == 0
        separate.append(json.loads(out.strip().splitlines()[-1]))
    assert separate == sequential
