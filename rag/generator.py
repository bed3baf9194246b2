"""The answer model's client: the OpenAI chat API against any compatible server (vLLM).

Timeouts on connect and on every read, bounded retries with backoff (the openai SDK's), and
one clear error, naming the server and what to do, when it cannot be reached.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import openai

from rag.config import GeneratorConfig
from rag.errors import GeneratorError, GeneratorUnavailable


class Generator:
    def __init__(self, base_url: str, model: str, settings: GeneratorConfig, vision: bool):
        self.base_url = base_url.rstrip("/")
        self.model = model
        self.settings = settings
        self.vision = vision
        self.client = openai.OpenAI(
            base_url=self.base_url,
            api_key=settings.api_key,
            timeout=openai.Timeout(settings.timeout_s, connect=settings.connect_timeout_s),
            max_retries=settings.retries,
        )

    def stream(self, messages: list[dict[str, Any]], **options: Any) -> Iterator[str]:
        """The answer's text as it is generated."""
        with self._errors():
            chunks = self.client.chat.completions.create(
                model=self.model, messages=messages, stream=True, **self._options(options)
            )
            for chunk in chunks:
                if chunk.choices and (delta := chunk.choices[0].delta.content):
                    yield delta

    def complete(self, messages: list[dict[str, Any]], **options: Any) -> str:
        with self._errors():
            response = self.client.chat.completions.create(
                model=self.model, messages=messages, **self._options(options)
            )
        return response.choices[0].message.content or ""

    def _options(self, options: dict[str, Any]) -> dict[str, Any]:
        settings = self.settings
        base = {"max_tokens": settings.max_tokens, "temperature": settings.temperature}
        if settings.extra_body:
            base["extra_body"] = settings.extra_body
        return {**base, **options}

    @contextmanager
    def _errors(self) -> Iterator[None]:
        """The SDK's exceptions as ours, naming the server and what to do."""
        remedy = "start it with `mmrag serve` (or `mmrag serve --embedded`), or fix generator.base_url"
        try:
            yield
        except openai.APITimeoutError as exc:
            raise GeneratorUnavailable(f"the generator at {self.base_url} did not answer in time; {remedy}") from exc
        except openai.APIConnectionError as exc:
            raise GeneratorUnavailable(f"cannot reach the generator at {self.base_url} ({exc}); {remedy}") from exc
        except openai.APIStatusError as exc:
            raise GeneratorError(
                f"the generator at {self.base_url} refused the request: HTTP {exc.status_code}: {exc.message}"
            ) from exc
