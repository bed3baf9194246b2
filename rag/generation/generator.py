"""The answer model's client: the OpenAI chat API against any compatible server (vLLM).

Timeouts on connect and on every read, bounded retries with backoff (the openai SDK's), and
one clear error, naming the server and what to do, when it cannot be reached.
"""

from __future__ import annotations

import itertools
import logging
import math
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import openai

from rag.core.config import GeneratorConfig
from rag.core.errors import GeneratorError, GeneratorUnavailable

log = logging.getLogger(__name__)


class Generator:
    """Client of one model served at `base_url` and at `settings.replicas` (more servers of
    the same model): requests go round robin over them, and a request that cannot reach one
    (connection refused, timed out) moves on to the next before failing."""

    def __init__(self, base_url: str, model: str, settings: GeneratorConfig, vision: bool):
        self.base_url = base_url.rstrip("/")
        self.model = model
        self.settings = settings
        self.vision = vision
        urls = [self.base_url, *(u.rstrip("/") for u in settings.replicas if u.rstrip("/") != self.base_url)]
        self.clients = [
            openai.OpenAI(
                base_url=url,
                api_key=settings.api_key,
                timeout=openai.Timeout(settings.timeout_s, connect=settings.connect_timeout_s),
                max_retries=settings.retries,
            )
            for url in urls
        ]
        self._turn = itertools.count()  # next() is atomic in CPython: safe across threads

    def _rotation(self) -> list[openai.OpenAI]:
        start = next(self._turn) % len(self.clients)
        return self.clients[start:] + self.clients[:start]

    def request(self, **request: Any) -> Any:
        """One chat completion request, failing over to the next replica when one is down."""
        rotation = self._rotation()
        for i, client in enumerate(rotation):
            try:
                with self._errors(str(client.base_url).rstrip("/")):
                    return client.chat.completions.create(model=self.model, **request)
            except GeneratorUnavailable:
                if i == len(rotation) - 1:
                    raise
                log.warning("generator replica %s unavailable; trying the next", client.base_url)
        raise AssertionError("unreachable")

    def stream(self, messages: list[dict[str, Any]], **options: Any) -> Iterator[str]:
        """The answer's text as it is generated."""
        chunks = self.request(messages=messages, stream=True, **self._options(options))
        with self._errors(self.base_url):
            for chunk in chunks:
                if chunk.choices and (delta := chunk.choices[0].delta.content):
                    yield delta

    def complete(self, messages: list[dict[str, Any]], **options: Any) -> str:
        response = self.request(messages=messages, **self._options(options))
        return response.choices[0].message.content or ""

    def choose(self, messages: list[dict[str, Any]], choices: Sequence[str], max_tokens: int = 8) -> str:
        """The model's reply held to one of `choices` (vLLM structured outputs), greedy."""
        return self._choice(messages, choices, max_tokens).choices[0].message.content or ""

    def _choice(self, messages: list[dict[str, Any]], choices: Sequence[str], max_tokens: int, **options: Any) -> Any:
        extra = {**self.settings.extra_body, "structured_outputs": {"choice": list(choices)}}
        return self.request(messages=messages, max_tokens=max_tokens, temperature=0.0, extra_body=extra, **options)

    def choice_probabilities(
        self, messages: list[dict[str, Any]], choices: Sequence[str], top: int = 20
    ) -> dict[str, float]:
        """The model's probability of each one-word choice as its reply: the reply is held to
        the choices (vLLM structured outputs), the probabilities come from the first token's
        top logprobs (case and leading space folded), renormalised over the choices. A choice
        outside the top tokens gets 0; if none is there, the reply itself gets 1."""
        choice = self._choice(messages, choices, 4, logprobs=True, top_logprobs=top).choices[0]
        mass = dict.fromkeys(choices, 0.0)
        first = choice.logprobs.content[0].top_logprobs if choice.logprobs and choice.logprobs.content else []
        for candidate in first:
            word = candidate.token.strip(" .,!'\"").lower()
            for c in choices:
                if word and c.lower().startswith(word):
                    mass[c] += math.exp(candidate.logprob)
                    break
        total = sum(mass.values())
        if total <= 0:
            reply = (choice.message.content or "").strip().lower()
            return {c: float(c.lower() == reply) for c in choices}
        return {c: m / total for c, m in mass.items()}

    def _options(self, options: dict[str, Any]) -> dict[str, Any]:
        settings = self.settings
        base: dict[str, Any] = {"max_tokens": settings.max_tokens, "temperature": settings.temperature}
        if settings.extra_body:
            base["extra_body"] = settings.extra_body
        return {**base, **options}

    @contextmanager
    def _errors(self, url: str) -> Iterator[None]:
        """The SDK's exceptions as ours, naming the server and what to do."""
        remedy = "start it with `mmrag serve` (or `mmrag serve --embedded`), or fix generator.base_url"
        try:
            yield
        except openai.APITimeoutError as exc:
            raise GeneratorUnavailable(f"the generator at {url} did not answer in time; {remedy}") from exc
        except openai.APIConnectionError as exc:
            raise GeneratorUnavailable(f"cannot reach the generator at {url} ({exc}); {remedy}") from exc
        except (ValueError, openai.APIResponseValidationError) as exc:  # JSONDecodeError is a ValueError
            raise GeneratorError(
                f"the generator at {url} sent a malformed response ({type(exc).__name__}: {exc}); "
                "is it an OpenAI-compatible server?"
            ) from exc
        except openai.APIStatusError as exc:
            raise GeneratorError(
                f"the generator at {url} refused the request: HTTP {exc.status_code}: {exc.message}"
            ) from exc
