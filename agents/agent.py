"""The agent's Python API.

from agents import Agent
with Agent.from_config() as agent:            # ./mmrag.toml ([agent] table), or defaults
    answer = agent.ask("What happens when lava reaches the sea?")
    answer.route.labels, answer.route.decided_by, answer.route.probabilities
    answer.kept, answer.dropped               # the re-ranker's decisions, with relevance
    answer.verdicts                           # reflection, one per round
    for event in agent.stream("..."):         # route, hits, rerank, token..., reflection, final
        ...
    conv = agent.conversation()               # follow-ups: conv.ask("and in the video?")
    agent.ask("and how long?", history=[Turn("How much salt...?", "About 10 g per litre.")])
answer = await agent.aask("...")              # async twins: aask, astream
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncIterator, Iterator, Sequence
from pathlib import Path
from typing import Any

from agents.calibration import Calibrator
from agents.config import AgentConfig
from agents.conversation import Conversation
from agents.evidence import Prober
from agents.graph import build_graph
from agents.nodes import Deps
from agents.reflect import Reflector
from agents.rerank import Reranker
from agents.router import LLMRouter, ProbabilisticRouter, Router, load_trained
from agents.state import AgentAnswer, AgentState, Event, FinalEvent, Label, Turn
from rag.core.config import ConfigError, load_config
from rag.generation.generator import Generator
from rag.library import Library

_UNSET: Any = object()


class Agent:
    def __init__(
        self,
        library: Library,
        config: AgentConfig | None = None,
        trained_router: ProbabilisticRouter | None = _UNSET,
    ):
        """`trained_router`: left out, the shipped one is loaded (the router in trained and
        hybrid modes, the fallback when the LLM router fails); None: no trained router."""
        self.library = library
        self.config = config or AgentConfig.of(library.config)
        self._trained = trained_router
        self._router: Router | None = None
        self._lock = threading.Lock()
        self._helper: Generator | None = None
        self.calibrator = Calibrator(library)
        self.reranker = Reranker(library, self.config, self.calibrator, helper=self.helper)
        self.reflector = Reflector(self.config, self.helper)
        self.deps = Deps(library, self.config, self.router, self.reranker, self.reflector, self.helper, self.condense_method)
        self.graph = build_graph()

    @classmethod
    def from_config(cls, path: str | Path | None = None) -> Agent:
        """The library and the agent from one TOML file (its `[agent]` table), or the defaults."""
        config = load_config(path)
        return cls(Library(config), AgentConfig.of(config))

    def __enter__(self) -> Agent:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Stop the embedded model server if the library started it."""
        self.library.close()

    def router(self) -> Router:
        with self._lock:
            if self._router is None:
                trained = self._trained
                if trained is _UNSET:  # also in llm mode: it decides when the LLM router fails
                    trained = load_trained()
                llm = LLMRouter(self.helper, self.library.config, self.config.router_max_tokens)
                prober = Prober(self.library, self.calibrator)
                self._router = Router(self.config, trained, llm, prober, self.trusts_llm_router)
            return self._router

    @property
    def served(self) -> bool:
        """Whether the helper calls go to a served model (not the embedded 135M one)."""
        return self.config.helper is not None or bool(self.library.config.generator.base_url)

    @property
    def trusts_llm_router(self) -> bool:
        """Whether the hybrid router may hand uncertain questions to the LLM (`llm_router`)."""
        return {"on": True, "off": False, "auto": self.served}[self.config.llm_router]

    @property
    def condense_method(self) -> str:
        """How follow-ups are made standalone: `condense`, with auto = llm for a served model."""
        method = self.config.condense
        return ("llm" if self.served else "rules") if method == "auto" else method

    def conversation(self, turns: Sequence[Turn] = ()) -> Conversation:
        """A conversation over this agent: follow-ups are read in the light of earlier turns."""
        return Conversation(self, turns)

    def helper(self) -> Generator:
        """The model for routing, relevance and reflection calls: `[agent.helper]` when set
        (e.g. a smaller served model), else the answer model."""
        settings = self.config.helper
        if settings is None:
            return self.library.generator()
        if self._helper is None:
            if not settings.base_url:
                raise ConfigError("[agent.helper] needs a base_url (a served model)")
            self._helper = Generator(settings.base_url, settings.model, settings, settings.vision)
        return self._helper

    def mapping(self) -> dict[Label, tuple[str, ...]]:
        """Router labels -> the configured corpora (holding items) they search."""
        return self.deps.mapping()

    @property
    def k(self) -> int:
        """Evidence kept per round: [agent] k, else the answer model's evidence_k."""
        return self.config.k or self.library.config.answer_settings().evidence_k

    def stream(
        self,
        question: str,
        image: str | Path | None = None,
        *,
        route: Label | Sequence[Label] | None = None,
        history: Sequence[Turn] = (),
    ) -> Iterator[Event]:
        """Typed events as the graph runs: condense (a follow-up), route, hits, rerank,
        token..., reflection (again for each further round), final. `route` forces the first
        route (a label, or labels in the order to try them); `history`: the conversation's
        earlier turns, oldest first."""
        if not question.strip():
            raise ValueError("the agent needs a question")
        state: AgentState = {
            "question": question,
            "history": list(history),
            "image": str(image) if image else None,
            "started": time.perf_counter(),
            "forced": labels_of(route),
            "round": 0,
            "k": self.k,
            "candidates": max(self.config.candidates, self.k),
            "tried": [],
            "rounds": [],
            "verdicts": [],
            "steps": [],
        }
        limit = 6 * (self.config.reflection_rounds + 2) + 6
        yield from self.graph.stream(state, stream_mode="custom", config={"recursion_limit": limit}, context=self.deps)

    def ask(
        self,
        question: str,
        image: str | Path | None = None,
        *,
        route: Label | Sequence[Label] | None = None,
        history: Sequence[Turn] = (),
    ) -> AgentAnswer:
        """The final answer with its route, kept/dropped evidence, verdicts and timings."""
        for event in self.stream(question, image, route=route, history=history):
            if isinstance(event, FinalEvent):
                return event.answer
        raise RuntimeError("the agent's graph ended without an answer")

    async def aask(
        self,
        question: str,
        image: str | Path | None = None,
        *,
        route: Label | Sequence[Label] | None = None,
        history: Sequence[Turn] = (),
    ) -> AgentAnswer:
        return await asyncio.to_thread(self.ask, question, image, route=route, history=history)

    async def astream(
        self,
        question: str,
        image: str | Path | None = None,
        *,
        route: Label | Sequence[Label] | None = None,
        history: Sequence[Turn] = (),
    ) -> AsyncIterator[Event]:
        """`stream` run in a worker thread, its events handed over as they come."""
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[Any] = asyncio.Queue()
        done = object()

        def run() -> None:
            try:
                for event in self.stream(question, image, route=route, history=history):
                    loop.call_soon_threadsafe(queue.put_nowait, event)
            except Exception as exc:  # noqa: BLE001 - handed to the consumer, which re-raises it
                loop.call_soon_threadsafe(queue.put_nowait, exc)
            finally:
                loop.call_soon_threadsafe(queue.put_nowait, done)

        worker = asyncio.ensure_future(asyncio.to_thread(run))
        try:
            while (item := await queue.get()) is not done:
                if isinstance(item, Exception):
                    raise item
                yield item
        finally:
            await worker


def labels_of(forced: Label | Sequence[Label] | None) -> tuple[Label, ...]:
    if forced is None:
        return ()
    return (forced,) if isinstance(forced, str) else tuple(forced)
