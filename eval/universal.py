"""UniversalRAG query files, loaded as they are: a JSON array of {question, answer,
gt_retrieval (0-5 or a label name), gt_texts | gt_images | gt_videos (a list of paths in
their repository, often written as a Python list in a string), time_reference ("[start,
end]" seconds, for clip questions)}.

Routing reads the question and label (agents.intent.load_labelled). Retrieval needs the
corpora ingested into the configured library first (`mmrag ingest`): a hit is relevant when
its source file has a gold file's name; for a clip question, when it also overlaps the gold
time window.
"""

from __future__ import annotations

import ast
import json
from dataclasses import dataclass
from pathlib import Path

from agents.labels import Label, label_name
from rag.core.items import Hit

GOLD_FIELDS = ("gt_texts", "gt_images", "gt_videos")


@dataclass(frozen=True)
class GoldQuery:
    id: str
    question: str
    label: Label
    files: tuple[str, ...]  # gold file names (no folders: the user's layout differs)
    window: tuple[float, float] | None  # gold seconds of a clip question
    answer: str


def _listed(value: object) -> list:
    """A list field that may be written as a Python/JSON list inside a string."""
    if value is None or value == "":
        return []
    if isinstance(value, str):
        value = ast.literal_eval(value)  # literals only: never evaluates code
    if not isinstance(value, list | tuple):
        raise ValueError(f"expected a list, got {value!r}")
    return list(value)


def load(path: str | Path) -> list[GoldQuery]:
    """The queries of one file; an unreadable row is an error naming its position."""
    rows = json.loads(Path(path).read_text(encoding="utf-8"))
    if not isinstance(rows, list):
        raise ValueError(f"{path}: expected a JSON array of objects")
    out = []
    for n, row in enumerate(rows):
        try:
            files = dict.fromkeys(Path(str(f)).name for field in GOLD_FIELDS for f in _listed(row.get(field)))
            window = _listed(row.get("time_reference"))
            out.append(GoldQuery(
                str(row.get("index", n)), str(row["question"]), label_name(row["gt_retrieval"]), tuple(files),
                (float(window[0]), float(window[1])) if len(window) == 2 else None, str(row.get("answer", "")),
            ))
        except (KeyError, ValueError, SyntaxError, TypeError) as exc:
            raise ValueError(f"{path}: row {n}: {exc}") from exc
    return out


def doc_id(hit: Hit, window: tuple[float, float] | None) -> str:
    """The unit a hit counts as: its file name; a clip outside the gold window counts as a
    different unit (so it is not relevant)."""
    name = Path(hit.source).name
    start, end = hit.span.start_s, hit.span.end_s
    if window is None or start is None or end is None or hit.granularity != "clip":
        return name
    return name if start < window[1] and end > window[0] else f"{name}@{start:.0f}s"
