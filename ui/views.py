"""What the chat shows: an answer with citation links, its source cards, the agent's steps,
and the ingest report. Retrieved text is untrusted: it is shown with st.text (no Markdown,
no HTML) and file names are Markdown-escaped."""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from pathlib import Path

import streamlit as st

from agents.state import AgentAnswer, Scored
from rag.core.items import Hit
from rag.generation.answer import CITATION, cited_numbers
from rag.library.ingest import IngestReport

_MARKDOWN = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~$])")


def plain(text: str) -> str:
    """Text with Markdown's special characters escaped, so it shows as typed."""
    return _MARKDOWN.sub(r"\\\1", text)


def anchor(message: int, n: int) -> str:
    return f"m{message}-source-{n}"


def linked(text: str, message: int, citations: int) -> str:
    """The answer's text (Markdown-escaped) with each valid `[n]` a link to its source card."""
    out, last = [], 0
    for match in CITATION.finditer(text):
        out.append(plain(text[last : match.start()]))
        for n in cited_numbers(match):
            out.append(f"[\\[{n}\\]](#{anchor(message, n)})" if 1 <= n <= citations else f"\\[{n}\\]")
        last = match.end()
    out.append(plain(text[last:]))
    return "".join(out)


def source_cards(answer: AgentAnswer, message: int) -> None:
    """One bordered card per citation: where it is from, then the text, image or clip."""
    if not answer.citations:
        return
    st.markdown("**Sources**")
    for citation in answer.citations:
        with st.container(border=True):
            st.markdown(f'<div id="{anchor(message, citation.n)}"></div>', unsafe_allow_html=True)
            hit_card(citation.n, citation.hit)


def hit_card(n: int | None, hit: Hit) -> None:
    """A hit's header (number, file, page/section/seconds, corpus) and its content."""
    number = f"**[{n}]** " if n is not None else ""
    st.markdown(f"{number}{plain(Path(hit.source).name)} · {plain(str(hit.span))} · *{plain(hit.corpus)}*")
    if hit.modality in ("image", "text"):  # an image, or the rendered page a paragraph is on
        picture = hit.frames[0] if hit.frames else hit.source if hit.modality == "image" else ""
        if picture and Path(picture).exists():
            st.image(picture, width=320, caption=f"page {hit.span.page}" if hit.modality == "text" else None)
    elif hit.modality == "video" and Path(hit.source).exists():
        start = int(hit.span.start_s or 0)
        end = math.ceil(hit.span.end_s) if hit.span.end_s else None
        st.video(hit.source, start_time=start, end_time=end if end and end > start else None, width=560)
    if hit.text.strip():
        st.text(hit.snippet(500))


def step_lines(kept: Sequence[Scored], dropped: Sequence[Scored]) -> list[str]:
    """The re-ranker's decisions, one line per hit: kept first, then dropped with the reason."""
    lines = [f"kept {Path(s.hit.source).name} ({s.hit.span}) relevance {s.relevance:.2f}" for s in kept]
    lines += [f"dropped {Path(s.hit.source).name} ({s.hit.span}) {s.relevance:.2f}: {s.reason}" for s in dropped]
    return lines


def ingest_table(report: IngestReport) -> None:
    """The per-file outcome of an upload, failures first, with the reason."""
    rows = [
        {"status": o.status, "file": Path(o.path).name, "items": ", ".join(f"{k}: {v}" for k, v in o.items.items()), "reason": o.reason}
        for o in report.for_display()
    ]
    st.dataframe(rows, hide_index=True, width="stretch")
    for note in report.run_notes:
        st.caption(note)
