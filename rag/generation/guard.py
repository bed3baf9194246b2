"""A guard process that keeps a model server from outliving the process that started it.

`launch` (rag.generation.serving) starts a server through this guard, never directly:

    owner ──(pipe: owner holds the only write end)──▶ guard ──▶ server, in its own process group

Why: the server runs in a session of its own, so a terminal's Ctrl-C reaches only the owner,
which stops it in order. But nothing stopped it when the owner died without cleaning up (SIGKILL,
a crash, the OOM killer): the orphaned vLLM kept gigabytes of memory and its port. Setting
`prctl(PR_SET_PDEATHSIG)` on the server is no answer by itself: Linux sends that signal when the
*thread* that forked the child exits, not the process, and owners start the server from worker
threads (Streamlit's script threads, whichever thread first calls `Library.generator()`), so the
server would die with that thread.

How: the guard is single-threaded, so PDEATHSIG is exact there: it starts the server in a new
process group with PDEATHSIG = SIGTERM (the server goes if the guard does), then waits. When the
pipe reads EOF (the owner has exited, however it died) or the guard gets SIGTERM, SIGINT or
SIGHUP (`Server.stop`), it sends SIGTERM to the server's process group (vLLM's engine and worker
processes included), SIGKILL to whatever is left after GRACE_S, and exits. When the server exits
by itself the guard exits with its status (128 + N for signal N), so the owner sees its code.

Standard library only, run by file path in isolated mode (`python -I guard.py FD -- COMMAND...`):
it starts in milliseconds and imports nothing of the application.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import select
import signal
import subprocess
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from types import FrameType
from typing import IO

GRACE_S = 20.0  # SIGTERM to SIGKILL for the server's process group; vLLM stops in a few seconds
POLL_S = 0.5  # how often the guard looks whether the server exited by itself
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)
PR_SET_PDEATHSIG = 1  # <linux/prctl.h>

# This process's write ends. A child made by fork() without exec (multiprocessing's "fork") would
# inherit them and keep a guard waiting after this process died, so they are closed in such
# children; exec'd children never get them (os.pipe's descriptors are non-inheritable).
_lifelines: set[int] = set()


def spawn(command: Sequence[str], sink: IO[bytes], env: Mapping[str, str]) -> tuple[subprocess.Popen[bytes], int]:
    """Start `command` under a guard, its output (and the guard's) to `sink`. Returns the guard's
    process and the lifeline, the pipe's write end: the server lives while it is open."""
    read, write = os.pipe()
    try:
        guard = subprocess.Popen(
            [sys.executable, "-I", str(Path(__file__).resolve()), str(read), "--", *command],
            stdout=sink, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=dict(env),
            pass_fds=(read,), start_new_session=True,
        )
    except BaseException:
        os.close(write)
        raise
    finally:
        os.close(read)
    _lifelines.add(write)
    return guard, write


def release(lifeline: int) -> None:
    """Close a lifeline from `spawn` (once): the guard at the other end then stops its server."""
    if lifeline in _lifelines:
        _lifelines.discard(lifeline)
        os.close(lifeline)


def _close_lifelines_in_child() -> None:
    for fd in _lifelines:
        with contextlib.suppress(OSError):
            os.close(fd)
    _lifelines.clear()


os.register_at_fork(after_in_child=_close_lifelines_in_child)


class _Stop(Exception):
    """A stop signal reached the guard."""


def _raise_stop(signum: int, frame: FrameType | None) -> None:
    for other in STOP_SIGNALS:  # only the first one interrupts; the rest must not cut the stop short
        signal.signal(other, signal.SIG_IGN)
    raise _Stop


def _die_with(guard: int) -> Callable[[], None] | None:
    """A preexec_fn giving the server PDEATHSIG = SIGTERM, so it goes if the guard does (Linux)."""
    if not sys.platform.startswith("linux"):
        return None
    libc = ctypes.CDLL(None, use_errno=True)  # loaded in the guard: the forked child only calls it

    def in_child() -> None:
        if libc.prctl(PR_SET_PDEATHSIG, int(signal.SIGTERM), 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_SET_PDEATHSIG) failed")
        if os.getppid() != guard:  # the guard died between fork and prctl
            os._exit(1)

    return in_child


def _owner_gone(lifeline: int, server: subprocess.Popen[bytes]) -> bool:
    """Waits until the owner has exited (True: EOF on the lifeline) or the server has (False)."""
    while server.poll() is None:
        readable, _, _ = select.select([lifeline], [], [], POLL_S)
        if readable and not os.read(lifeline, 1):
            return True
    return False


def _signal_group(pgid: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):  # nothing left in the group
        os.killpg(pgid, signum)


def _stop(server: subprocess.Popen[bytes]) -> int:
    """SIGTERM to the server's process group; after GRACE_S, or once the server has exited,
    SIGKILL to anything left in it (a hung server, engine processes it left behind)."""
    _signal_group(server.pid, signal.SIGTERM)
    with contextlib.suppress(subprocess.TimeoutExpired):
        server.wait(GRACE_S)
    _signal_group(server.pid, signal.SIGKILL)
    return server.wait()


def _status(returncode: int) -> int:
    return 128 - returncode if returncode < 0 else returncode


def main(argv: Sequence[str]) -> int:
    """`guard.py FD -- COMMAND...`: runs COMMAND until FD reads EOF or a stop signal arrives."""
    if len(argv) < 3 or argv[1] != "--":
        print("usage: guard.py FD -- COMMAND...", file=sys.stderr)
        return 2
    lifeline, command = int(argv[0]), list(argv[2:])
    for signum in STOP_SIGNALS:
        signal.signal(signum, _raise_stop)
    server: subprocess.Popen[bytes] | None = None
    try:
        server = subprocess.Popen(command, process_group=0, preexec_fn=_die_with(os.getpid()))
        if not _owner_gone(lifeline, server):
            _signal_group(server.pid, signal.SIGKILL)  # processes the server left behind
            return _status(server.returncode)
        why = "its owner exited"
        for signum in STOP_SIGNALS:
            signal.signal(signum, signal.SIG_IGN)
    except _Stop:
        why = "asked to stop"
    if server is None:
        return 0
    print(f"[mmrag guard] {why}: stopping the server (process group {server.pid})", file=sys.stderr, flush=True)
    return _status(_stop(server))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
