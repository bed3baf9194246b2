"""Small test helpers: skip marks for optional system tools, free loopback ports."""

import shutil
import socket

import pytest


def needs(tool: str, package: str) -> pytest.MarkDecorator:
    """Skip unless a system tool is installed, naming the Debian package that provides it."""
    return pytest.mark.skipif(
        shutil.which(tool) is None, reason=f"{tool} not installed (apt-get install {package})"
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class BrokenOpenAIServer:
    """A real HTTP server on 127.0.0.1 that speaks the OpenAI chat route badly, one way per
    `mode`: "garbage" (200 with a body that is not JSON), "slow" (answers after `delay`
    seconds), "nonsense" (a well-formed completion whose text is no label and no JSON),
    "error" (HTTP 500). Counts the requests it got."""

    def __init__(self, mode: str, delay: float = 30.0):
        import http.server
        import json
        import threading
        import time

        owner = self
        self.mode = mode
        self.requests = 0

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                owner.requests += 1
                self.rfile.read(int(self.headers.get("Content-Length", 0)))
                if mode == "slow":
                    time.sleep(delay)
                status, body = 200, b"<html>this is not json"
                if mode == "error":
                    status, body = 500, b'{"error": {"message": "boom"}}'
                if mode == "nonsense":
                    message = {"role": "assistant", "content": "{{{ certainly! here is [json"}
                    body = json.dumps({"id": "x", "object": "chat.completion", "created": 0, "model": "m",
                                       "choices": [{"index": 0, "message": message, "finish_reason": "stop"}]}).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except OSError:
                    pass  # the client gave up (timeout)

            def log_message(self, *args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def vllm_missing() -> str | None:
    """Why no vLLM server can be started here (None: it can), checked at collection."""
    from rag.core.config import ServeConfig
    from rag.core.errors import ServerError
    from rag.generation.serving import vllm_python

    try:
        vllm_python(ServeConfig())
    except ServerError as exc:
        return f"vLLM CPU runtime not installed (make vllm): {exc}"
    return None
