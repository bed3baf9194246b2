"""Train the fast router and save it (plain JSON + npz) for shipping with the package.

    HF_HUB_OFFLINE=1 python -m agents.train_router [--data FILE] [--out DIR]

FILE is a JSON array of {"question", "gt_retrieval"} objects (labels 0-5 or names); the
default is the UniversalRAG training split in ../shared/data/universalrag/train.json.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

from agents.routing import DEFAULT_DATA, DEFAULT_DIR, LABELS, load_labelled, train

os.environ.setdefault("HF_HUB_OFFLINE", "1")


def train_and_save(data: Path = DEFAULT_DATA, out: Path = DEFAULT_DIR) -> Path:
    """Train on `data`, write the model to `out`, print a one-line summary; returns `out`."""
    questions, labels = load_labelled(data)
    start = time.perf_counter()
    router = train(questions, labels)
    router.save(out)
    counts = Counter(labels)
    size_kb = sum(f.stat().st_size for f in out.iterdir() if f.is_file()) / 1024
    print(
        f"trained on {len(questions)} questions from {data} in {time.perf_counter() - start:.1f} s"
    )
    print("labels: " + ", ".join(f"{label} {counts.get(label, 0)}" for label in LABELS))
    print(f"saved {out} ({size_kb:.0f} KB)")
    return out


def main(argv: Sequence[str] | None = None) -> int:
    """Command line of `train_and_save`."""
    parser = argparse.ArgumentParser(
        prog="python -m agents.train_router", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="labelled questions (JSON)")
    parser.add_argument("--out", type=Path, default=DEFAULT_DIR, help="model folder to write")
    args = parser.parse_args(argv)
    if not args.data.exists():
        parser.error(f"training file not found: {args.data}")
    train_and_save(args.data, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
