"""This project's own real-text development sets, in the BEIR layout.

The questions were written for this project (eval/data/dev/*/questions*.jsonl: `_id`, `text`,
`gold` document ids, `kind`, `answer`); the documents are real text read from this machine,
never from a public benchmark:
- manpages: the NAME line and the first ~120 words of DESCRIPTION of every installed man page
  (sections 1-8, gcloud's generated pages left out), like a Wikipedia article's first
  paragraph; 200 two-document questions (bridge and comparison), for document granularity.
- yesno: ~60-180-word passages of installed Python packages' READMEs and of the Python
  language reference (pydoc topics); 219 yes/no questions, for paragraph granularity.

    python -m eval.devsets manpages|yesno OUT_DIR

writes OUT_DIR/corpus.jsonl, queries.jsonl, qrels/test.tsv and answers.jsonl for
`mmrag eval retrieval --beir OUT_DIR`. The corpus follows what is installed, so a question
whose gold document is missing here is reported and left out.
"""

from __future__ import annotations

import argparse
import email
import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from importlib import metadata
from pathlib import Path

from rich.progress import track

QUESTIONS = Path(__file__).parent / "data" / "dev"
MAN_ROOT = Path("/usr/share/man")
ABSTRACT_WORDS = 120
HEADING = re.compile(r"^[A-Z][A-Z ]+$")


def man_page(path: Path) -> dict[str, str] | None:
    """A man page's abstract: NAME line + DESCRIPTION's first paragraphs (None if too short)."""
    env = {**os.environ, "MANWIDTH": "5000", "LANG": "C.UTF-8"}
    try:
        shown = subprocess.run(["man", "-l", str(path)], capture_output=True, text=True, timeout=30, env=env).stdout
        plain = subprocess.run(["col", "-b"], input=shown, capture_output=True, text=True, timeout=30).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    sections: dict[str, list[str]] = {}
    current = None
    for line in plain.splitlines():
        if HEADING.match(line.strip()) and not line.startswith(" "):
            current = line.strip()
            sections[current] = []
        elif current:
            sections[current].append(line.strip())
    name = " ".join(" ".join(sections.get("NAME", [])).split())
    paragraphs = " ".join(line or "\n" for line in sections.get("DESCRIPTION", [])).split("\n")
    kept: list[str] = []
    for paragraph in (" ".join(p.split()) for p in paragraphs):
        if paragraph and sum(len(k.split()) for k in kept) < ABSTRACT_WORDS:
            kept.append(paragraph)
    body = " ".join(kept)
    if not name or len(body.split()) < 30:
        return None
    stem = path.name.removesuffix(".gz")
    page, section = stem.rsplit(".", 1)
    return {"_id": stem, "title": f"{page}({section})", "text": f"{name.rstrip('.')}. {body}"}


def man_pages() -> list[dict[str, str]]:
    paths = sorted(
        p for p in MAN_ROOT.glob("man[1-8]/*.gz") if not p.name.startswith("gcloud") and not p.is_symlink()
    )
    with ThreadPoolExecutor(os.cpu_count() or 2) as pool:
        pages = list(track(pool.map(man_page, paths), total=len(paths), description="man pages"))
    return list({p["_id"]: p for p in pages if p}.values())


def readme_paragraphs(text: str) -> Iterator[str]:
    """Prose paragraphs of a README or reference text: code, tables, headings and rules left out."""
    block: list[str] = []
    code = False
    for line in [*text.splitlines(), ""]:
        stripped = line.strip()
        if stripped.startswith("```"):
            code = not code
            continue
        skipped = code or line.startswith(("    ", "\t")) or stripped.startswith((">>>", "$ ", "|", "..", "[![", "<"))
        if skipped or not stripped or re.match(r"^[=\-~^#*]{3,}\s*$", stripped) or stripped.startswith("#"):
            if block:
                yield " ".join(" ".join(block).split())
            block = []
            continue
        block.append(stripped)


def passages(text: str, least: int = 50, most: int = 180) -> Iterator[str]:
    """Consecutive prose paragraphs joined into passages of `least`-`most` words (link-only
    lines and paragraphs that are mostly not letters left out)."""
    joined: list[str] = []
    for paragraph in readme_paragraphs(text):
        if re.search(r"https?://\S+$", paragraph) and len(paragraph.split()) < 12:
            continue
        if sum(c.isalpha() for c in paragraph) < 0.6 * len(paragraph):
            continue
        joined.append(paragraph)
        if sum(len(p.split()) for p in joined) >= least:
            yield " ".join(" ".join(joined).split()[:most])
            joined = []


def python_passages() -> list[dict[str, str]]:
    import pydoc_data.topics

    docs, seen = [], set()
    for dist in sorted(metadata.distributions(), key=lambda d: (d.metadata["Name"] or "").lower()):
        name = dist.metadata["Name"]
        if not name or name.lower() in seen or name.lower() == "mmrag":  # not our own README: it changes
            continue
        seen.add(name.lower())
        message = email.message_from_string(dist.read_text("METADATA") or dist.read_text("PKG-INFO") or "")
        body = str(message.get_payload() or message.get("Description") or "")
        docs += [{"_id": f"{name.lower()}-{i}", "title": name, "text": p} for i, p in enumerate(passages(body))]
    for topic, text in sorted(pydoc_data.topics.topics.items()):
        title = f"Python language reference: {topic}"
        docs += [{"_id": f"python-{topic}-{i}", "title": title, "text": p} for i, p in enumerate(passages(text))]
    return docs


SETS = {"manpages": man_pages, "yesno": python_passages}


def write(name: str, out: Path) -> tuple[int, int, int]:
    """Writes the BEIR folder; returns (documents, questions, questions left out)."""
    docs = SETS[name]()
    known = {d["_id"] for d in docs}
    questions = [json.loads(line) for f in sorted((QUESTIONS / name).glob("questions*.jsonl")) for line in f.open() if line.strip()]
    usable = [q for q in questions if all(g in known for g in q["gold"])]
    (out / "qrels").mkdir(parents=True, exist_ok=True)
    with (out / "corpus.jsonl").open("w", encoding="utf-8") as fh:
        fh.writelines(json.dumps(d) + "\n" for d in docs)
    with (out / "queries.jsonl").open("w", encoding="utf-8") as fh:
        fh.writelines(json.dumps({"_id": q["_id"], "text": q["text"], "metadata": {"kind": q["kind"]}}) + "\n" for q in usable)
    with (out / "answers.jsonl").open("w", encoding="utf-8") as fh:
        fh.writelines(json.dumps({"_id": q["_id"], "question": q["text"], "answers": [q["answer"]]}) + "\n" for q in usable)
    with (out / "qrels" / "test.tsv").open("w", encoding="utf-8") as fh:
        fh.write("query-id\tcorpus-id\tscore\n")
        fh.writelines(f"{q['_id']}\t{g}\t1\n" for q in usable for g in q["gold"])
    return len(docs), len(usable), len(questions) - len(usable)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m eval.devsets", description=__doc__.split("\n\n")[0])
    parser.add_argument("name", choices=sorted(SETS))
    parser.add_argument("out", type=Path)
    args = parser.parse_args(argv)
    docs, usable, missing = write(args.name, args.out)
    print(f"{args.out}: {docs} documents, {usable} questions" + (f" ({missing} left out: gold not installed here)" if missing else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
