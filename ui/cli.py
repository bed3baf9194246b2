"""The `mmrag` command line: ingest, search, ask, chat, serve, corpora, samples, demo, router, eval."""

from __future__ import annotations

import argparse
import functools
import logging
import os
import signal
import sys
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from types import FrameType

from rich.console import Console
from rich.logging import RichHandler
from rich.table import Table

from agents.labels import LABELS  # light: no torch, so `mmrag --help` stays fast
from rag.core.errors import MmragError

EVALS = {
    "routing": "router accuracy, per-label P/R/F1, confusion, latency",
    "retrieval": "Recall@k, nDCG@10, MRR@10, MAP on a BEIR folder",
    "answers": "EM, F1, ROUGE-L, citations, faithfulness of the agent's answers",
    "conversations": "follow-ups condensed and routed, without answering: resolution, route",
    "latency": "per-step p50/p95 of the agent",
    "compare": "two result files side by side, with deltas",
}

console = Console()


def main(argv: Sequence[str] | None = None) -> int:
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")  # no "Loading weights" bars mid-answer
    # OpenMP threads (torch, scikit-learn) sleep instead of spinning while they wait: with a
    # core busy (the answer model's server, another request) spinning made a one-question
    # MiniLM encode 700 ms instead of 15 ms on 2 cores. Set before torch loads (the commands
    # import it lazily; `mmrag ui` passes it on to the chat's process).
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    parser = _parser()
    args, extra = parser.parse_known_args(argv)
    if extra and not getattr(args, "passthrough", False):
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    args.extra = extra
    logging.basicConfig(
        level=logging.DEBUG if getattr(args, "verbose", False) else logging.WARNING,
        format="%(message)s",
        handlers=[RichHandler(console=Console(stderr=True), show_path=False)],
    )
    logging.getLogger("pyscenedetect").setLevel(logging.WARNING)
    try:
        with _sigterm_unwinds():
            return args.run(args)
    except (MmragError, ValueError, FileNotFoundError) as exc:
        console.print(f"[red]error:[/red] {exc}")
        return 2


@contextmanager
def _sigterm_unwinds() -> Iterator[None]:
    """SIGTERM (`kill`, systemd, container runtimes) ends a command as Ctrl-C does: it raises
    SystemExit(143) in the main thread, so `with`, finally and atexit cleanup run; above all the
    embedded model server this process started is stopped, not orphaned. A second SIGTERM during
    that cleanup kills at once (the server's guard still stops the server). The previous handler
    comes back afterwards, so calling main() in-process (tests) leaves no trace."""
    if threading.current_thread() is not threading.main_thread():
        yield  # signal handlers can only be set from the main thread
        return

    def unwind(signum: int, frame: FrameType | None) -> None:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        raise SystemExit(128 + signum)

    previous = signal.signal(signal.SIGTERM, unwind)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous if previous is not None else signal.SIG_DFL)


def _parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--config", type=Path, default=argparse.SUPPRESS,
                        help="config file (default ./mmrag.toml or $MMRAG_CONFIG)")
    common.add_argument("-v", "--verbose", action="store_true", default=argparse.SUPPRESS, help="debug logging")
    parser = argparse.ArgumentParser(prog="mmrag", description=__doc__, parents=[common])
    sub = parser.add_subparsers(required=True, metavar="COMMAND")
    add_parser = functools.partial(sub.add_parser, parents=[common])

    p = add_parser("ingest", help="add files or folders to the corpora")
    p.add_argument("paths", nargs="*", type=Path, help="files or folders (default: configured sources)")
    p.add_argument("--corpus", help="only this corpus")
    p.add_argument("--prune", action="store_true", help="remove items of files that no longer exist")
    p.add_argument("--rebuild", action="store_true", help="empty the target corpora first")
    p.add_argument(
        "--describe", action="store_true",
        help="have the vision model describe the pictures (also those an earlier ingest left without)",
    )
    p.set_defaults(run=_ingest)

    p = add_parser("search", help="ranked hits for a text and/or image query")
    p.add_argument("query", nargs="?", default="")
    p.add_argument("--corpus", help="search only this corpus (default: every non-empty one)")
    p.add_argument("-k", type=int, default=5)
    p.add_argument("--image", type=Path, help="an image to search with")
    p.set_defaults(run=_search)

    p = add_parser("ask", help="a grounded answer with citations, by the agent (route, re-rank, reflect)")
    p.add_argument("question")
    p.add_argument("--image", type=Path, help="an image to search with")
    p.add_argument("--route", type=_labels, metavar="LABEL[,LABEL...]",
                   help=f"force the route (then re-route in this order) instead of the router's; labels: {', '.join(LABELS)}")
    p.add_argument("--plain", action="store_true",
                   help="no agent: search every non-empty corpus (or --corpus) and answer once")
    p.add_argument("--corpus", help="with --plain: answer from this corpus only")
    p.add_argument("-k", type=int, help="with --plain: evidence items (default: generator.evidence_k)")
    p.add_argument("--stream", action="store_true", help="print the model's text as it arrives")
    p.set_defaults(run=_ask)

    p = add_parser("chat", help="a conversation in the terminal: follow-ups, streamed answers, sources")
    p.add_argument("--load", type=Path, metavar="FILE", help="continue a conversation saved with /save")
    p.set_defaults(run=_chat)

    p = add_parser("serve", help="run a vLLM OpenAI-compatible server until Ctrl-C")
    p.add_argument("--embedded", action="store_true", help="the offline CPU model instead of serve.model")
    p.set_defaults(run=_serve)

    p = add_parser("ui", help="the Streamlit chat (streamlit run ui/app.py) on 127.0.0.1")
    p.add_argument("--port", type=int, default=8501)
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (0.0.0.0: every interface)")
    p.set_defaults(run=_ui)

    p = add_parser("corpora", help="list the configured corpora and their item counts")
    p.set_defaults(run=_corpora)

    p = add_parser("samples", help="write the bundled sample corpora to a folder")
    p.add_argument("dest", type=Path)
    p.set_defaults(run=_samples)

    p = add_parser("router", help="the trained fast router")
    router = p.add_subparsers(required=True, metavar="ACTION")
    p = router.add_parser("train", help="train it on labelled questions and save it")
    p.add_argument("--data", action="append", metavar="[NAME=]FILE",
                   help="JSON array of {question, gt_retrieval} in one question style; repeat for several "
                   "(one expert each, a gate between them; default: UniversalRAG's train split + the natural set)")
    p.add_argument("--out", type=Path, help="model folder (default: the shipped agents/router_model)")
    p.set_defaults(run=_router_train)

    p = add_parser("eval", help="offline evaluation: routing, retrieval, answers, latency, compare")
    evals = p.add_subparsers(required=True, metavar="WHAT")
    for name, what in EVALS.items():  # their arguments are their modules' (`mmrag eval NAME --help`)
        evals.add_parser(name, add_help=False, help=what).set_defaults(run=_eval, passthrough=True, module=name)

    p = add_parser("demo", help="build the samples, ingest them and run example searches")
    p.add_argument("--dir", type=Path, default=Path(".demo"), help="where the demo keeps its data")
    p.set_defaults(run=_demo)
    return parser


def _library(args: argparse.Namespace):
    from rag.library import Library

    return Library.from_config(getattr(args, "config", None))


def _ingest(args: argparse.Namespace) -> int:
    from ui.terminal import print_report

    report = _library(args).ingest(
        args.paths, args.corpus, prune_missing=args.prune, rebuild=args.rebuild, describe=args.describe
    )
    print_report(report)
    return 1 if report.all_failed else 0


def _search(args: argparse.Namespace) -> int:
    from ui.terminal import print_hits

    hits = _library(args).search(args.query, corpus=args.corpus, k=args.k, image=args.image)
    print_hits(hits, f"{args.query or args.image}")
    return 0


def _labels(text: str) -> tuple[str, ...]:
    labels = tuple(x.strip() for x in text.split(",") if x.strip())
    unknown = [x for x in labels if x not in LABELS]
    if not labels or unknown:
        raise argparse.ArgumentTypeError(f"unknown label(s) {unknown or text!r}; use {', '.join(LABELS)}")
    return labels


def _ask(args: argparse.Namespace) -> int:
    from ui.terminal import print_agent, print_answer

    if not args.plain and (args.corpus or args.k):
        raise ValueError("--corpus and -k go with --plain (the agent routes and sizes k itself)")
    with _library(args) as library:
        with console.status("starting the answer model (first time: about a minute)…"):
            library.generator()
        if args.plain:
            print_answer(library.ask_stream(args.question, args.corpus, args.image, args.k), args.stream)
        else:
            from agents.agent import Agent

            print_agent(Agent(library).stream(args.question, args.image, route=args.route), args.stream)
    return 0


def _chat(args: argparse.Namespace) -> int:
    from agents.agent import Agent
    from agents.conversation import Conversation
    from ui.repl import chat

    with _library(args) as library:
        with console.status("starting the answer model (first time: about a minute)…"):
            library.generator()
        agent = Agent(library)
        return chat(Conversation.load(args.load, agent) if args.load else agent.conversation())


def _router_train(args: argparse.Namespace) -> int:
    from eval.train_router import main as train_main

    data = [arg for path in args.data or () for arg in ("--data", path)]
    return train_main([*data, *(["--out", str(args.out)] if args.out else [])])


def _eval(args: argparse.Namespace) -> int:
    import importlib

    module = importlib.import_module(f"eval.{'report' if args.module == 'compare' else args.module}")
    config = getattr(args, "config", None)
    return module.main([*(["--config", str(config)] if config and args.module != "compare" else []), *args.extra])


def _serve(args: argparse.Namespace) -> int:
    from rag.core.config import load_config
    from rag.generation.serving import start_embedded, start_vllm

    config = load_config(getattr(args, "config", None))
    with console.status("starting vLLM and waiting for /v1/models…"):
        server = start_embedded(config) if args.embedded else start_vllm(config)
    if server.process is None:
        console.print(f"already running: {server.base_url} (model {server.model})")
        return 0
    console.print(f"serving {server.model} at [bold]{server.base_url}[/bold] (log: {server.log_path}); Ctrl-C stops it")
    try:
        server.process.wait()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
    return 0


def _ui(args: argparse.Namespace) -> int:
    """Runs Streamlit on the app; the config path reaches it through $MMRAG_CONFIG."""
    import subprocess

    from rag.core.config import load_config

    config = getattr(args, "config", None)
    load_config(config)  # a broken config fails here, with its message, not in the browser
    env = {**os.environ, **({"MMRAG_CONFIG": str(Path(config).resolve())} if config else {})}
    app = Path(__file__).with_name("app.py")
    command = [sys.executable, "-m", "streamlit", "run", str(app), "--server.address", args.host,
               "--server.port", str(args.port), "--server.headless", "true",
               "--browser.gatherUsageStats", "false", "--client.toolbarMode", "minimal"]
    console.print(f"mmrag chat at [bold]http://{args.host}:{args.port}[/bold] (Ctrl-C stops it)")
    try:
        return subprocess.call(command, env=env)
    except KeyboardInterrupt:
        return 0


def _corpora(args: argparse.Namespace) -> int:
    library = _library(args)
    table = Table(title=f"Corpora (data: {library.config.data_dir})")
    for column in ("name", "modality", "granularity", "items", "description"):
        table.add_column(column)
    counts = library.counts()
    for c in library.config.corpora:
        table.add_row(c.name, c.modality, c.granularity, str(counts[c.name]), c.description)
    console.print(table)
    return 0


def _samples(args: argparse.Namespace) -> int:
    from rag.library.samples import build_samples

    root = build_samples(args.dest)
    console.print(f"sample corpora written to {root}")
    return 0


def _demo(args: argparse.Namespace) -> int:
    from ui.demo import run_demo

    return run_demo(args.dir, console)


if __name__ == "__main__":
    sys.exit(main())
