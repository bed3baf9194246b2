"""The Streamlit chat: `mmrag ui` (or `streamlit run ui/app.py`). The same config
($MMRAG_CONFIG, ./mmrag.toml or the defaults) and the same Agent as the CLI and the API.

Each browser session holds one agents.conversation.Conversation: a follow-up is made
standalone before routing, and the status panel shows the standalone question first. Each
question runs its stream: the step events fill an st.status panel as they come, the tokens
stream into the answer, and the checked answer replaces the draft, followed by one source
card per citation. The sidebar starts a new conversation, lists the corpora, ingests uploads
with a progress bar and the per-file report, and holds the session's settings.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import streamlit as st

from agents.agent import Agent
from agents.condense import condense_rules
from agents.config import AgentConfig
from agents.conversation import Conversation
from agents.state import AgentAnswer, Event, event_line
from rag.core.config import Config, load_config
from rag.core.errors import GeneratorError, MmragError, ServerError
from rag.generation.serving import models_at, vllm_python
from rag.library import Library
from rag.library.uploads import UploadRefused, save_upload
from ui.views import hit_card, ingest_table, linked, source_cards, step_lines

IMAGE_TYPES = ["png", "jpg", "jpeg", "webp", "gif", "bmp"]
ROUTERS = ["hybrid", "trained", "llm"]
DECIDED = {"trained": "fast router", "llm": "LLM router", "forced": "forced"}


@st.cache_resource(show_spinner="Loading the corpora…")
def library(config_json: str) -> Library:
    """One Library per store + generator config, shared by every session of this server."""
    return Library(Config.model_validate_json(config_json))


@st.cache_resource(show_spinner=False)
def agent(config_json: str) -> Agent:
    config = Config.model_validate_json(config_json)
    store = config.model_copy(update={"agent": {}})  # the library ignores [agent]
    return Agent(library(store.model_dump_json()), AgentConfig.of(config))


def settings(base: Config) -> Config:
    """The sidebar's settings applied to the file's config (this session only)."""
    st.sidebar.header("Settings")
    url = st.sidebar.text_input(
        "Generator base URL", base.generator.base_url or "", placeholder="empty: the embedded model",
        help="An OpenAI-compatible server (vLLM), e.g. http://127.0.0.1:8000/v1",
    )
    agent_config = AgentConfig.of(base)
    k = st.sidebar.number_input("Evidence kept (k)", 1, 20, agent_config.k or base.answer_settings().evidence_k)
    router = st.sidebar.selectbox("Router", ROUTERS, ROUTERS.index(agent_config.router))
    rounds = st.sidebar.number_input("Reflection rounds", 0, 5, agent_config.reflection_rounds)
    generator = base.generator.model_copy(update={"base_url": url.strip() or None})
    chosen = {"k": int(k), "router": router, "reflection_rounds": int(rounds)}
    return base.model_copy(update={"generator": generator, "agent": {**base.agent, **chosen}})


def generator_problem(config: Config) -> str | None:
    """Why answers cannot be generated right now, or None."""
    url = config.generator.base_url
    if url:
        return None if models_at(url) is not None else f"The generator at {url} is unreachable."
    try:
        vllm_python(config.serve)
    except ServerError as exc:
        return f"The embedded model cannot start: {exc}"
    return None


def corpora_panel(lib: Library) -> None:
    st.sidebar.header("Corpora")
    counts = lib.counts()
    rows = [{"corpus": c.name, "items": counts[c.name]} for c in lib.config.corpora]
    st.sidebar.dataframe(rows, hide_index=True, width="stretch")


def upload_panel(lib: Library) -> None:
    """Files saved under the data folder's uploads/ (name only: no path from the browser is
    trusted; unknown types and oversized files are refused), then ingested into the chosen
    corpus or by type, with a progress bar."""
    st.sidebar.header("Add files")
    names = ["by file type", *(c.name for c in lib.config.corpora)]
    target = st.sidebar.selectbox("Into corpus", names)
    files = st.sidebar.file_uploader("Files", accept_multiple_files=True, key="uploads")
    if not st.sidebar.button("Ingest", key="ingest", disabled=not files):
        return
    folder = lib.config.data_dir / "uploads"
    paths, refused = [], []
    for upload in files or []:
        try:
            paths.append(save_upload(upload.name, upload.getvalue(), folder, lib.config.ingest.max_upload_mb))
        except UploadRefused as exc:
            refused.append(str(exc))
    for reason in refused:
        st.sidebar.error(f"Not saved: {reason}")
    if not paths:
        return
    bar = st.sidebar.progress(0.0, text="Ingesting…")

    def advance(done: int, total: int, name: str) -> None:
        bar.progress(done / max(total, 1), text=f"{done}/{total} {name}")

    corpus = None if target == names[0] else target
    report = lib.ingest(paths, corpus, progress=False, on_file=advance)
    bar.progress(1.0, text=f"Done: {len(report.by_status('ingested'))} ingested, {len(report.by_status('failed'))} failed")
    with st.sidebar:
        ingest_table(report)


def show_message(message: dict[str, Any], index: int) -> None:
    """A past turn: the question, or the answer with its steps (collapsed) and sources."""
    with st.chat_message(message["role"]):
        if message.get("image"):
            st.image(message["image"], width=200)
        if message["role"] == "user":
            st.text(message["text"])
            return
        if message.get("steps"):
            with st.expander(message["summary"]):
                for line in message["steps"]:
                    st.text(line)
        answer: AgentAnswer | None = message.get("answer")
        if answer is None:  # a search-only turn: its hits
            st.text(message["text"])
            for hit in message.get("hits", []):
                with st.container(border=True):
                    hit_card(None, hit)
            return
        st.markdown(linked(answer.text, index, len(answer.citations)))
        for note in answer.notes:
            st.caption(note)
        source_cards(answer, index)


def run_agent(conversation: Conversation, question: str, image: str | None, index: int) -> dict[str, Any]:
    """Runs one question of the conversation, showing steps and streamed text live; returns
    the turn to keep."""
    steps: list[str] = []
    status = st.status("Routing…", expanded=False)
    draft = st.empty()
    final: dict[str, AgentAnswer] = {}

    def tokens(events: Any) -> Any:
        for event in events:
            if event.kind == "token":
                yield event.text
            elif event.kind == "final":
                final["answer"] = event.answer
            else:
                for line in lines_of(event):
                    steps.append(line)
                    status.text(line)
                status.update(label=label_of(event))

    with draft:
        st.write_stream(tokens(conversation.stream(question, image)))
    answer = final["answer"]
    summary = summary_of(answer)
    status.update(label=summary, state="complete" if answer.ok or answer.grounding == "model" else "error")
    draft.markdown(linked(answer.text, index, len(answer.citations)))
    for note in answer.notes:
        st.caption(note)
    source_cards(answer, index)
    return {"role": "assistant", "text": answer.text, "answer": answer, "steps": steps, "summary": summary}


def lines_of(event: Event) -> list[str]:
    line = event_line(event)
    for name, said in DECIDED.items():
        line = line.replace(f"[{name}", f"[{said}")
    if event.kind == "rerank":
        return [line, *("  " + s for s in step_lines(event.kept, event.dropped))]
    return [line]


def label_of(event: Event) -> str:
    return {"condense": "Reading the follow-up…", "route": "Searching…", "hits": "Re-ranking…", "rerank": "Writing the answer…", "reflection": "Checking the answer…"}.get(event.kind, "Working…")


def summary_of(answer: AgentAnswer) -> str:
    route = answer.route
    where = "+".join(route.labels) if route else "?"
    by = DECIDED.get(route.decided_by, route.decided_by) if route else ""
    verdict = "supported" if answer.ok else ("model only" if answer.grounding == "model" else "not supported")
    return f"Route {where} ({by}) · kept {len(answer.kept)} · searched {', '.join(answer.searched) or 'nothing'} · {verdict} · {answer.timings.get('total_s', 0):.1f} s"


def search_only(bot: Agent, conversation: Conversation, question: str, image: str | None, problem: str) -> dict[str, Any]:
    """No generator: the routed corpora's hits for the standalone question (the rules make
    it), shown as cards, so search keeps working."""
    st.warning(f"{problem} Showing search results only.")
    question = condense_rules(question, conversation.turns).standalone
    hits = []
    for corpus in routed_corpora(bot, question):
        hits += bot.library.search(question, corpus=corpus, k=bot.k, image=image)
    for hit in hits:
        with st.container(border=True):
            hit_card(None, hit)
    text = f"Search results only ({len(hits)} hits): {problem}"
    return {"role": "assistant", "text": text, "answer": None, "hits": hits}


def routed_corpora(bot: Agent, question: str) -> tuple[str, ...]:
    """Where the trained router (with its evidence probes, no LLM) sends the question among
    the corpora holding items, multi-route included; every such corpus when there is no
    trained router."""
    searchable = {label: names for label, names in bot.mapping().items() if names}
    if bot.router().trained is None or not searchable:
        return tuple(name for names in searchable.values() for name in names)
    return bot.router().decide(question, searchable, use_llm=False).corpora


def main() -> None:
    st.set_page_config(page_title="mmrag", page_icon=":mag:", layout="wide")
    history: list[dict[str, Any]] = st.session_state.setdefault("messages", [])
    restart = st.sidebar.button("New conversation", key="new_conversation", icon=":material/add_comment:", disabled=not history)
    try:
        config = settings(load_config())
    except MmragError as exc:
        st.error(f"Configuration error: {exc}")
        return
    store = config.model_copy(update={"agent": {}})
    lib = library(store.model_dump_json())
    bot = agent(config.model_dump_json())
    corpora_panel(lib)
    upload_panel(lib)
    st.title("mmrag")
    problem = generator_problem(config)
    if problem:
        st.error(f"{problem} Answers are off; search still works.", icon=":material/cloud_off:")
    conversation: Conversation = st.session_state.setdefault("conversation", bot.conversation())
    conversation.agent = bot  # the agent of this run's settings; the turns stay
    if restart:
        history.clear()
        conversation.clear()
    for index, message in enumerate(history):
        show_message(message, index)
    prompt = st.chat_input("Ask about your documents, images and videos", accept_file=True, file_type=IMAGE_TYPES)
    if not prompt:
        return
    question = (prompt.text if not isinstance(prompt, str) else prompt).strip()
    files = [] if isinstance(prompt, str) else list(prompt.files)
    image = None
    if files:
        path = lib.config.data_dir / "queries" / f"{uuid.uuid4().hex}{Path(files[0].name).suffix.lower()}"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(files[0].getvalue())
        image = str(path)
    if not question:
        st.warning("Type a question (an image can go with it).")
        return
    history.append({"role": "user", "text": question, "image": image})
    show_message(history[-1], len(history) - 1)
    with st.chat_message("assistant"):
        if problem:
            turn = search_only(bot, conversation, question, image, problem)
        else:
            try:
                with st.spinner("Starting the answer model (the embedded one takes about a minute the first time)…"):
                    bot.library.generator()
                turn = run_agent(conversation, question, image, len(history))
            except (GeneratorError, ServerError) as exc:
                turn = search_only(bot, conversation, question, image, str(exc))
    history.append(turn)


main()
