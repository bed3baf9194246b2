"""The terminal chat: `mmrag chat`. Questions in a conversation (follow-ups are read in the
light of the earlier turns), answers streamed, the standalone question and the route on a
line each, sources after each answer, and a few slash commands.

On a terminal it prompts (with line editing and history); otherwise it reads one question
per line from standard input and prints the same output, so a conversation can be scripted:
`printf 'q1\\nq2\\n/quit\\n' | mmrag chat`.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from pathlib import Path

from agents.conversation import Conversation
from agents.state import AgentAnswer
from ui.terminal import console, print_agent, print_hits

PROMPT = "you> "
COMMANDS = {
    "/new": "start a new conversation",
    "/sources": "the last answer's sources, with their text",
    "/save FILE": "save the conversation as JSON (continue it with `mmrag chat --load FILE`)",
    "/help": "these commands",
    "/quit": "leave (Ctrl-D does too)",
}


def lines(interactive: bool) -> Iterator[str]:
    """The user's lines: prompted on a terminal, else read from standard input and echoed."""
    if interactive:
        with contextlib.suppress(ImportError):  # not on every platform
            import readline  # noqa: F401 - line editing and history for input()
    while True:
        try:
            line = input(PROMPT) if interactive else sys.stdin.readline()
        except EOFError:
            return
        if not interactive:
            if not line:
                return
            console.print(f"{PROMPT}{line.strip()}", highlight=False, markup=False)
        if line.strip():
            yield line.strip()


def chat(conversation: Conversation, interactive: bool | None = None) -> int:
    """Runs the chat until /quit or the end of input."""
    interactive = sys.stdin.isatty() if interactive is None else interactive
    console.print("[dim]Ask about your files; /help lists the commands.[/dim]")
    last: AgentAnswer | None = None
    for line in lines(interactive):
        command, _, rest = line.partition(" ")
        if command in ("/quit", "/exit"):
            break
        if command == "/new":
            conversation.clear()
            last = None
            console.print("[dim]new conversation[/dim]")
        elif command == "/sources":
            if last is None:
                console.print("[dim]no answer yet[/dim]")
            else:
                print_hits([c.hit for c in last.citations], "sources of the last answer")
        elif command == "/save" and rest.strip():
            console.print(f"[dim]saved to {conversation.save(Path(rest.strip()))}[/dim]")
        elif command.startswith("/"):
            for name, what in COMMANDS.items():
                console.print(f"  {name:<12} {what}", highlight=False, markup=False)
        else:
            try:
                last = print_agent(conversation.stream(line), stream=True, steps=("condense", "route"))
            except KeyboardInterrupt:
                console.print("\n[yellow]interrupted[/yellow]")
        console.print()
    return 0
