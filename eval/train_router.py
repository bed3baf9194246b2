"""Train the fast router and save it (plain JSON + npz) for shipping with the package.

    HF_HUB_OFFLINE=1 python -m eval.train_router [--data NAME=FILE ...] [--out DIR]

Each FILE is a JSON array of {"question", "gt_retrieval"} objects (labels 0-5 or names) in
one question style; each becomes one expert of the router, and with two or more a gate
learns which style a question is in (agents.intent.TrainedRouter). The defaults are the
shipped recipe: `benchmark` = the UniversalRAG training split
(../shared/data/universalrag/train.json) and `natural` = this project's natural questions
(eval/data/natural_train.json, written by `python -m eval.natural`).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

from agents.intent import DEFAULT_DIR, load_labelled, train
from agents.labels import LABELS

# The shipped recipe's data: this repository's natural questions and, beside the checkout,
# the UniversalRAG training split (../shared/data/universalrag/train.json).
NATURAL_DATA = Path(__file__).with_name("data") / "natural_train.json"
BENCHMARK_DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "universalrag" / "train.json"
DEFAULT_SETS = {"benchmark": BENCHMARK_DATA, "natural": NATURAL_DATA}


def train_and_save(sets: dict[str, Path] = DEFAULT_SETS, out: Path = DEFAULT_DIR) -> Path:
    """Train on the named sets, write the model to `out`, print a summary; returns `out`."""
    data = {name: load_labelled(path)[:2] for name, path in sets.items()}
    start = time.perf_counter()
    router = train(data)
    router.save(out)
    size_kb = sum(f.stat().st_size for f in out.iterdir() if f.is_file()) / 1024
    print(f"trained in {time.perf_counter() - start:.1f} s on:")
    for name, (questions, labels) in data.items():
        counts = Counter(labels)
        print(f"  {name}: {len(questions)} questions from {sets[name]} ("
              + ", ".join(f"{label} {counts.get(label, 0)}" for label in LABELS) + ")")
    print(f"saved {out} ({size_kb:.0f} KB)")
    return out


def named_file(text: str) -> tuple[str, Path]:
    """NAME=FILE, or FILE (named by its stem)."""
    name, _, path = text.rpartition("=")
    return (name or Path(path).stem), Path(path)


def main(argv: Sequence[str] | None = None) -> int:
    """Command line of `train_and_save`."""
    parser = argparse.ArgumentParser(
        prog="python -m eval.train_router", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--data", type=named_file, action="append", metavar="[NAME=]FILE",
                        help="labelled questions of one style (repeat for several; default: the shipped recipe)")
    parser.add_argument("--out", type=Path, default=DEFAULT_DIR, help="model folder to write")
    args = parser.parse_args(argv)
    sets = dict(args.data) if args.data else DEFAULT_SETS
    missing = [str(p) for p in sets.values() if not p.exists()]
    if missing:
        parser.error(f"training file not found: {', '.join(missing)}")
    train_and_save(sets, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
