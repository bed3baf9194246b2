"""Conversations through the real agent (trained router, sample corpora) and the real
embedded vLLM CPU server: a follow-up that needs the first turn's subject, a switch to the
video corpus, a saved conversation that loads and continues, and two conversations in
parallel threads that never see each other's turns."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from agents import Agent, AgentConfig
from agents.conversation import Conversation
from agents.state import AgentAnswer, CondenseEvent, Turn

pytestmark = pytest.mark.server

SALT = "how many grams of salt per litre of pasta water"


@pytest.fixture(scope="module")
def agent(answer_library) -> Agent:
    return Agent(answer_library, AgentConfig(router="trained", reflection_rounds=1))


def sources(answer: AgentAnswer) -> set[str]:
    return {Path(s.hit.source).name for s in answer.kept}


@pytest.fixture(scope="module")
def two_turns(agent: Agent, tmp_path_factory: pytest.TempPathFactory) -> tuple[Conversation, Path]:
    conversation = agent.conversation()
    first = conversation.ask(SALT)
    assert first.condensed is not None and first.condensed.method == "none"
    assert "pasta_guide.html" in sources(first)
    conversation.ask("and how long should it cook?")
    saved = conversation.save(tmp_path_factory.mktemp("conversation") / "chat.json")
    return conversation, saved


def test_a_follow_up_is_answered_with_the_first_turns_subject(two_turns: tuple[Conversation, Path]) -> None:
    conversation, _ = two_turns
    first, second = conversation.turns
    assert second.question == "and how long should it cook?" and second.method == "rules"
    assert "pasta" in second.standalone and second.standalone != second.question
    assert "paragraph" in second.labels and {Path(h.source).name for h in second.cited} <= {"pasta_guide.html"}
    assert first.labels == ("paragraph",)


def test_a_saved_conversation_loads_and_switches_to_the_video(agent: Agent, two_turns: tuple[Conversation, Path]) -> None:
    conversation, saved = two_turns
    loaded = Conversation.load(saved, agent)
    assert loaded.turns == conversation.turns and loaded.id == conversation.id
    events = list(loaded.stream("show me that in the video"))
    condensed = next(e for e in events if isinstance(e, CondenseEvent)).condensed
    answer: AgentAnswer = events[-1].answer
    assert condensed.dependent and "pasta" in condensed.standalone and not condensed.prefer
    assert set(answer.labels) & {"clip", "video"}, answer.route
    assert "pasta_cooking.mp4" in sources(answer), sources(answer)
    assert len(loaded.turns) == 3 and len(conversation.turns) == 2  # the loaded copy went on alone


def test_history_can_be_passed_to_ask(agent: Agent) -> None:
    answer = agent.ask("and how long should it cook?", history=[Turn(SALT, "About ten grams per litre.")])
    assert answer.condensed is not None and "pasta" in answer.question
    assert answer.condensed.asked == "and how long should it cook?"


def test_two_conversations_in_parallel_threads_keep_their_own_turns(agent: Agent) -> None:
    chats = {
        "volcano": (agent.conversation(), ["What happens when lava reaches the sea?", "and why is it dangerous?"]),
        "bicycle": (agent.conversation(), ["How do I patch an inner tube?", "and what pressure afterwards?"]),
    }

    def talk(name: str) -> list[str]:
        conversation, questions = chats[name]
        return [conversation.ask(q).question for q in questions]

    with ThreadPoolExecutor(2) as pool:
        asked = dict(zip(chats, pool.map(talk, chats), strict=True))
    words = {"volcano": ("lava", "sea"), "bicycle": ("tube", "patch")}
    for name, (conversation, questions) in chats.items():
        assert [t.question for t in conversation.turns] == questions
        other = "bicycle" if name == "volcano" else "volcano"
        follow_up = asked[name][1].lower()  # carries its own first turn's subject, not the other's
        assert any(w in follow_up for w in words[name]) and not any(w in follow_up for w in words[other]), follow_up
