"""The generator client never hangs: a dead or broken server gives our own clear error
after a bounded number of attempts."""

import socket
import threading
from collections.abc import Iterator

import pytest

from rag.core.config import GeneratorConfig
from rag.core.errors import GeneratorError, GeneratorUnavailable
from rag.generation.generator import Generator
from tests.helpers import free_port

MESSAGES = [{"role": "user", "content": "hello"}]


class ClosingServer:
    """A real TCP listener that accepts each connection and closes it at once, counting them."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.accepted = 0
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.accepted += 1
            conn.close()


@pytest.fixture
def closing_server() -> Iterator[ClosingServer]:
    server = ClosingServer()
    yield server
    server.sock.close()


def test_closed_port_raises_generator_unavailable_naming_the_server() -> None:
    url = f"http://127.0.0.1:{free_port()}/v1"
    generator = Generator(url, "m", GeneratorConfig(retries=1, timeout_s=5, connect_timeout_s=1), vision=False)
    with pytest.raises(GeneratorUnavailable, match=r"cannot reach the generator at http://127\.0\.0\.1:\d+/v1.*mmrag serve"):
        generator.complete(MESSAGES)
    with pytest.raises(GeneratorUnavailable):
        list(generator.stream(MESSAGES))


@pytest.mark.parametrize("retries", [0, 2])
def test_retries_are_bounded(closing_server: ClosingServer, retries: int) -> None:
    url = f"http://127.0.0.1:{closing_server.port}/v1"
    generator = Generator(url, "m", GeneratorConfig(retries=retries, timeout_s=5, connect_timeout_s=1), vision=False)
    with pytest.raises(GeneratorUnavailable):
        generator.complete(MESSAGES)
    assert closing_server.accepted == retries + 1


def test_unavailable_is_a_generator_error() -> None:
    assert issubclass(GeneratorUnavailable, GeneratorError)
