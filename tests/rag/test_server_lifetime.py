"""A model server never outlives the process that started it.

With the real embedded vLLM server: SIGTERM or SIGKILL to `mmrag serve --embedded`, and to an
`mmrag ask` in the middle of its answer, leave no vLLM process behind (one server start-up per
case, four in all). With a stand-in server (Python's http.server serving a /v1/models file, up in
a second): `Server.stop` stops the guard and its server, a server started from a worker thread
survives that thread's end but not its process, the guard's own death takes the server with it,
and a server that fails at start reports its exit code and log.

"Its" processes are found by process tree (psutil) when the server is up, plus any vLLM API
server whose command line has the test's port; whatever survives a test is SIGKILLed.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import psutil
import pytest

from rag.core.errors import ServerError
from rag.generation.serving import launch, models_at
from tests.helpers import free_port, vllm_missing

pytestmark = pytest.mark.server
MMRAG = Path(sys.executable).with_name("mmrag")
STARTUP_S = 600.0  # a vLLM CPU start-up takes 60-120 s on 2 busy cores; generous
GONE_S = 60.0  # how long processes may take to disappear after their owner's death


MISSING = vllm_missing()
needs_vllm = pytest.mark.skipif(MISSING is not None, reason=MISSING or "")


def _tree(pid: int) -> list[psutil.Process]:
    """The process and all its descendants now (empty when it is gone)."""
    try:
        root = psutil.Process(pid)
        return [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return []


def _vllm_at(port: int) -> list[psutil.Process]:
    """vLLM API servers listening on `port`, found by their command line (`python -m
    vllm.entrypoints.openai.api_server ... --port N`; the guard's, which holds it, is not one)."""
    found = []
    for proc in psutil.process_iter(["cmdline"]):
        cmd = proc.info["cmdline"] or []
        if cmd[1:3] == ["-m", "vllm.entrypoints.openai.api_server"] and "--port" in cmd:
            at = cmd.index("--port") + 1
            if at < len(cmd) and cmd[at] == str(port):
                found.append(proc)
    return found


def _alive(procs: list[psutil.Process]) -> list[psutil.Process]:
    """Those still running: same pid and start time (psutil checks both), not a zombie."""
    alive = []
    for proc in procs:
        try:
            if proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE:
                alive.append(proc)
        except psutil.NoSuchProcess:
            pass
    return alive


def _wait_gone(procs: list[psutil.Process], timeout: float = GONE_S) -> list[psutil.Process]:
    """Polls until none of `procs` runs; returns those still running at the timeout."""
    deadline = time.monotonic() + timeout
    while (alive := _alive(procs)) and time.monotonic() < deadline:
        time.sleep(0.5)
    return alive


def _describe(procs: list[psutil.Process]) -> str:
    lines = []
    for proc in procs:
        with suppress(psutil.NoSuchProcess):
            lines.append(f"{proc.pid} (parent {proc.ppid()}): {' '.join(proc.cmdline())[:160]}")
    return "\n".join(lines)


def _kill(procs: list[psutil.Process]) -> None:
    for proc in _alive(procs):
        with suppress(psutil.NoSuchProcess):
            proc.kill()


@contextmanager
def _cleanup(watched: list[psutil.Process], port: int | None = None) -> Iterator[None]:
    """Whatever a test leaves running (a failure included) is SIGKILLed: `watched`, which the
    test extends as it learns of processes, and any vLLM server on `port`."""
    try:
        yield
    finally:
        _kill(watched + (_vllm_at(port) if port else []))


# The real embedded server, owned by the mmrag console script


def _config(tmp_path: Path, port: int) -> Path:
    """The test's own port and data dir; answers long enough (ignore_eos, 1000 tokens) to be
    signalled mid-answer."""
    path = tmp_path / "mmrag.toml"
    path.write_text(textwrap.dedent(f"""\
        data_dir = "data"
        [generator]
        max_tokens = 1000
        extra_body = {{ignore_eos = true}}
        [embedded]
        port = {port}
        max_tokens = 1000
        startup_timeout_s = {STARTUP_S}
        """))
    return path


def _server_up(port: int, log: Path) -> bool:
    return models_at(f"http://127.0.0.1:{port}/v1") is not None


def _answering(port: int, log: Path) -> bool:
    """The ask's chat completion has reached the server (its access log says so)."""
    return log.exists() and "POST /v1/chat/completions" in log.read_text(errors="replace")


COMMANDS = {
    "serve": (["serve", "--embedded"], _server_up),
    "ask": (["ask", "Tell me everything you know about volcanoes.", "--plain", "--stream"], _answering),
}


@needs_vllm
@pytest.mark.slow
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGKILL], ids=["SIGTERM", "SIGKILL"])
@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_signal_to_the_owner_leaves_no_vllm_behind(command: str, signum: signal.Signals, tmp_path: Path) -> None:
    """SIGTERM: the CLI unwinds (exit 143) and stops the server itself (the guard's log line
    says it was asked to). SIGKILL: the guard sees its pipe close and stops the server."""
    argv, ready = COMMANDS[command]
    port = free_port()
    config = _config(tmp_path, port)
    log = tmp_path / "data" / "logs" / "embedded-server.log"
    output = tmp_path / "mmrag.out"
    env = {k: v for k, v in os.environ.items() if k != "MMRAG_CONFIG"} | {"HF_HUB_OFFLINE": "1"}
    watched: list[psutil.Process] = []
    with _cleanup(watched, port), output.open("wb") as sink:
        owner = subprocess.Popen([str(MMRAG), *argv, "--config", str(config)], cwd=tmp_path, env=env,
                                 stdout=sink, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        watched.append(psutil.Process(owner.pid))
        deadline = time.monotonic() + STARTUP_S + 60
        while not ready(port, log):
            assert owner.poll() is None, f"mmrag {command} exited with {owner.returncode}:\n{output.read_text()}"
            assert time.monotonic() < deadline, f"mmrag {command} not ready:\n{output.read_text()}"
            watched.extend(p for p in _tree(owner.pid) if p not in watched)
            time.sleep(0.5)
        started = _tree(owner.pid)[1:]  # the guard, vLLM's API server, its engine processes
        watched.extend(p for p in started if p not in watched)
        servers = _vllm_at(port)
        assert len(servers) == 1 and servers[0] in started, _describe(started)
        assert owner.poll() is None, f"mmrag {command} finished before the signal:\n{output.read_text()}"

        os.kill(owner.pid, signum)
        code = owner.wait(timeout=120)

        assert code == (143 if signum == signal.SIGTERM else -signal.SIGKILL), output.read_text()
        left = _wait_gone(started + _vllm_at(port))
        assert not left, f"left running after {signum.name} to mmrag {command}:\n{_describe(left)}"
        assert models_at(f"http://127.0.0.1:{port}/v1") is None
        why = "asked to stop" if signum == signal.SIGTERM else "its owner exited"
        assert f"[mmrag guard] {why}" in log.read_text(errors="replace")


# A stand-in server: the guard's plumbing in about a second per test


def _stand_in(tmp_path: Path) -> tuple[list[str], str]:
    """A command serving {"data": [{"id": "stand-in"}]} at /v1/models, and its base URL."""
    root = tmp_path / "www"
    (root / "v1").mkdir(parents=True)
    (root / "v1" / "models").write_text(json.dumps({"data": [{"id": "stand-in"}]}))
    port = free_port()
    command = [sys.executable, "-m", "http.server", "--bind", "127.0.0.1", "--directory", str(root), str(port)]
    return command, f"http://127.0.0.1:{port}/v1"


def test_stop_ends_the_guard_and_its_server_and_keeps_the_log(tmp_path: Path) -> None:
    command, base_url = _stand_in(tmp_path)
    watched: list[psutil.Process] = []
    with _cleanup(watched):
        server = launch(command, base_url, "stand-in", tmp_path / "logs" / "server.log", 30)
        assert server.process is not None and server.lifeline is not None
        started = _tree(server.process.pid)
        watched.extend(started)
        assert len(started) == 2 and models_at(base_url) == ["stand-in"]  # the guard and the server
        server.stop()
        assert not _alive(started) and server.lifeline is None and models_at(base_url) is None
        assert "GET /v1/models" in (tmp_path / "logs" / "server.log").read_text()  # the server's own output
        server.stop()  # twice is harmless (Library.close, then atexit)


OWNER = """
import sys, threading, time
from pathlib import Path
from rag.generation.serving import launch
started = []
worker = threading.Thread(target=lambda: started.append(launch(sys.argv[1:], {url!r}, "stand-in", Path({log!r}), 30)))
worker.start()
worker.join()  # the thread that forked the guard is gone
print(started[0].process.pid, flush=True)
time.sleep(600)
"""


def test_server_started_in_a_worker_thread_outlives_the_thread_not_the_process(tmp_path: Path) -> None:
    command, base_url = _stand_in(tmp_path)
    script = OWNER.format(url=base_url, log=str(tmp_path / "server.log"))
    watched: list[psutil.Process] = []
    with _cleanup(watched):
        owner = subprocess.Popen([sys.executable, "-c", script, *command], stdout=subprocess.PIPE, text=True)
        watched.append(psutil.Process(owner.pid))
        assert owner.stdout is not None
        guard = int(owner.stdout.readline())
        started = _tree(guard)
        watched.extend(started)
        time.sleep(1.0)  # were PDEATHSIG tied to the worker thread, the server would be gone by now
        assert len(_alive(started)) == 2 and models_at(base_url) == ["stand-in"]
        owner.kill()
        owner.wait(timeout=30)
        assert not _wait_gone(started), _describe(started)
        assert "[mmrag guard] its owner exited" in (tmp_path / "server.log").read_text()


def test_the_guard_dying_takes_the_server_with_it(tmp_path: Path) -> None:
    command, base_url = _stand_in(tmp_path)
    watched: list[psutil.Process] = []
    with _cleanup(watched):
        server = launch(command, base_url, "stand-in", tmp_path / "server.log", 30)
        assert server.process is not None
        guard, *rest = _tree(server.process.pid)
        watched.extend([guard, *rest])
        guard.kill()  # the server's PDEATHSIG (SIGTERM) fires
        assert not _wait_gone(rest), _describe(rest)
        server.stop()


def test_a_server_that_fails_at_start_reports_its_code_and_log(tmp_path: Path) -> None:
    command = [sys.executable, "-c", "print('no model here', flush=True); raise SystemExit(3)"]
    with pytest.raises(ServerError, match=r"exited with code 3:\nno model here"):
        launch(command, "http://127.0.0.1:9/v1", "none", tmp_path / "server.log", 30)
