"""A conversation: the agent answering follow-ups in the light of the earlier turns.

    conv = agent.conversation()
    conv.ask("How much salt goes into pasta water?")
    answer = conv.ask("and how long should it boil?")   # answer.condensed.standalone
    for event in conv.stream("show me that in the video"): ...
    conv.save("chat.json"); conv = Conversation.load("chat.json", agent)

Each conversation keeps its own turns (question, standalone question, answer, route, cited
evidence) behind its own lock: one thread per conversation, many conversations at once over
one agent.
"""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, Protocol

from agents.labels import Label
from agents.state import AgentAnswer, Event, FinalEvent, Turn

VERSION = 1


class Streams(Protocol):
    """What a conversation needs of agents.agent.Agent."""

    def stream(
        self, question: str, image: str | Path | None = None, *, route: Label | Sequence[Label] | None = None,
        history: Sequence[Turn] = (),
    ) -> Iterator[Event]: ...


class Conversation:
    def __init__(self, agent: Streams, turns: Sequence[Turn] = (), id: str | None = None):
        self.agent = agent
        self.turns: list[Turn] = list(turns)
        self.id = id or uuid.uuid4().hex
        self._lock = threading.Lock()

    def stream(
        self, question: str, image: str | Path | None = None, *, route: Label | Sequence[Label] | None = None
    ) -> Iterator[Event]:
        """The agent's events for this follow-up; the turn is kept once the answer is final."""
        with self._lock:
            history = tuple(self.turns)
            for event in self.agent.stream(question, image, route=route, history=history):
                if isinstance(event, FinalEvent):
                    self.turns.append(event.answer.turn())
                yield event

    def ask(
        self, question: str, image: str | Path | None = None, *, route: Label | Sequence[Label] | None = None
    ) -> AgentAnswer:
        for event in self.stream(question, image, route=route):
            if isinstance(event, FinalEvent):
                return event.answer
        raise RuntimeError("the agent's graph ended without an answer")

    def clear(self) -> None:
        """Start over: the next question is a first question."""
        with self._lock:
            self.turns.clear()

    def to_dict(self) -> dict[str, Any]:
        with self._lock:
            return {"version": VERSION, "id": self.id, "turns": [t.to_dict() for t in self.turns]}

    def save(self, path: str | Path) -> Path:
        """Writes the conversation as JSON (atomically: a crash leaves the old file)."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(path.name + ".partial")
        partial.write_text(json.dumps(self.to_dict(), indent=1), encoding="utf-8")
        partial.replace(path)
        return path

    @classmethod
    def load(cls, path: str | Path, agent: Streams) -> Conversation:
        """A saved conversation, to continue with `agent`."""
        try:
            row = json.loads(Path(path).read_text(encoding="utf-8"))
            return cls(agent, [Turn.from_dict(t) for t in row["turns"]], row.get("id"))
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"{path}: not a saved conversation ({exc})") from exc
