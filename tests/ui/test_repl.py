"""`mmrag chat` as people use it: in a pseudo-terminal (prompt, streamed answer, the route
and the standalone question on their lines, sources, /quit), and scripted through a pipe,
one question per line. The real agent on the sample corpora, reusing the session's embedded
vLLM CPU server."""

from __future__ import annotations

import os
import pty
import re
import select
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.server

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b\][^\x07]*\x07|\r")
PROMPT = "you> "


def config_file(answer_library, folder: Path) -> Path:
    path = folder / "mmrag.toml"
    path.write_text(f'data_dir = "{answer_library.config.data_dir}"\n[embedded]\nport = {answer_library.config.embedded.port}\n')
    return path


def read_until(fd: int, marker: str, seen: list[str], timeout: float = 300) -> str:
    """Output up to and including the next `marker` (ANSI codes removed)."""
    start, deadline = len("".join(seen)), time.monotonic() + timeout
    while marker not in "".join(seen)[start:]:
        assert time.monotonic() < deadline, "".join(seen)[-3000:]
        ready, _, _ = select.select([fd], [], [], 1)
        if ready:
            try:
                seen.append(ANSI.sub("", os.read(fd, 65536).decode(errors="replace")))
            except OSError:  # the child closed the terminal
                break
    return "".join(seen)[start:]


def test_chat_in_a_pseudo_terminal_follows_up_and_quits(answer_library, tmp_path: Path) -> None:
    config = config_file(answer_library, tmp_path)
    pid, fd = pty.fork()
    if pid == 0:  # the child: mmrag chat on the pseudo-terminal
        os.execv(sys.executable, [sys.executable, "-m", "ui.cli", "--config", str(config), "chat"])
    seen: list[str] = []
    try:
        read_until(fd, PROMPT, seen)
        os.write(fd, b"how many grams of salt per litre of pasta water\n")
        first = read_until(fd, PROMPT, seen)
        assert "route: paragraph" in first and "Sources" in first and "pasta_guide.html" in first, first
        assert "standalone question" not in first  # a first question is taken as it is
        os.write(fd, b"and how long should it cook?\n")
        second = read_until(fd, PROMPT, seen)
        flat = " ".join(second.split())
        assert re.search(r"standalone question: and how long should it cook\? \([^)]*pasta", flat), flat
        assert "route: " in flat
        os.write(fd, b"/quit\n")
        read_until(fd, "\x00", seen, timeout=30)  # until the terminal closes
    finally:
        _, status = os.waitpid(pid, 0)
        os.close(fd)
    assert os.waitstatus_to_exitcode(status) == 0, "".join(seen)[-2000:]


def test_chat_reads_one_question_per_line_from_a_pipe(answer_library, tmp_path: Path) -> None:
    config = config_file(answer_library, tmp_path)
    done = subprocess.run(
        [sys.executable, "-m", "ui.cli", "--config", str(config), "chat"],
        input="What happens when lava reaches the sea?\n/sources\n/new\n/quit\nnever asked\n",
        capture_output=True, text=True, timeout=600,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    out = done.stdout
    assert f"{PROMPT}What happens when lava reaches the sea?" in out  # the question is echoed
    assert "route: " in out and "volcano" in out
    assert "Search: sources of the last answer" in out and "new conversation" in out
    assert "never asked" not in out  # nothing after /quit is read
