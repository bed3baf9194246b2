"""Image ingest throughput and search latency with the configured image encoder.

N synthetic photos (coloured shapes on a background, 640x480 JPEG) with caption sidecars
are ingested into a fresh store holding only the image corpus; then text queries are timed.
The image corpus's encoder comes from the config (a CLIP-family model when its weights are
installed; here, offline, the descriptor path: file name + caption + OCR through MiniLM).

    HF_HUB_OFFLINE=1 python -m eval.bench_images [--sizes 200 1000] [--no-ocr] \
        [--config mmrag.toml] [--json eval/results/bench_images.json]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from PIL import Image, ImageDraw

from eval.stats import p50_p95
from rag.core.config import load_config
from rag.library import Library

COLOURS = ["red", "blue", "green", "yellow", "orange", "purple", "white", "black"]
SHAPES = ["circle", "square", "triangle"]
PLACES = ["on a beach", "in a kitchen", "on a mountain", "in a garden", "at night", "in the snow"]


def write_images(folder: Path, n: int, seed: int = 3) -> None:
    """N JPEGs, each with a `.caption.txt` naming what is drawn and where."""
    rng = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        colour, shape, place = rng.choice(COLOURS), rng.choice(SHAPES), rng.choice(PLACES)
        image = Image.new("RGB", (640, 480), rng.choice(COLOURS))
        draw = ImageDraw.Draw(image)
        x, y, r = rng.randint(100, 540), rng.randint(100, 380), rng.randint(30, 90)
        box = (x - r, y - r, x + r, y + r)
        if shape == "circle":
            draw.ellipse(box, fill=colour)
        elif shape == "square":
            draw.rectangle(box, fill=colour)
        else:
            draw.polygon([(x, y - r), (x - r, y + r), (x + r, y + r)], fill=colour)
        image.save(folder / f"photo{i:05d}.jpg", quality=85)
        (folder / f"photo{i:05d}.caption.txt").write_text(f"A {colour} {shape} {place}.", encoding="utf-8")


def bench(n: int, ocr: bool, config_path: Path | None, queries: int) -> dict[str, Any]:
    base = load_config(config_path)
    corpus = next(c for c in base.corpora if c.modality == "image")
    with tempfile.TemporaryDirectory(prefix="bench_images_") as tmp:
        root = Path(tmp)
        write_images(root / "images", n)
        ingest = base.ingest.model_copy(update={"ocr": ocr})
        library = Library(base.model_copy(update={"data_dir": root / "data", "corpora": [corpus], "ingest": ingest}))
        library.retriever(corpus.name)  # encoders loaded before the clock
        start = time.perf_counter()
        report = library.ingest([root / "images"], progress=True)
        ingest_s = time.perf_counter() - start
        rng = random.Random(5)
        texts = [f"a {rng.choice(COLOURS)} {rng.choice(SHAPES)} {rng.choice(PLACES)}" for _ in range(queries)]
        library.search(texts[0], corpus=corpus.name, k=10)
        latency = []
        for text in texts:
            t = time.perf_counter()
            library.search(text, corpus=corpus.name, k=10)
            latency.append((time.perf_counter() - t) * 1000)
    return {"images": n, "ingested": len(report.by_status("ingested")), "ocr": ocr, "ingest_s": ingest_s,
            "images_per_s": n / ingest_s, **p50_p95(latency, "search_{}_ms"), "encoder": corpus.encoder.model_dump(),
            "load_average": os.getloadavg()[0]}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m eval.bench_images", description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[200])
    parser.add_argument("--no-ocr", action="store_true", help="skip OCR (tesseract dominates otherwise)")
    parser.add_argument("--queries", type=int, default=100)
    parser.add_argument("--config", type=Path)
    parser.add_argument("--json", type=Path, default=Path("eval/results/bench_images.json"))
    args = parser.parse_args(argv)
    rows = [bench(n, not args.no_ocr, args.config, args.queries) for n in args.sizes]
    print("| images | OCR | ingest s | images/s | search p50 ms | p95 ms |\n|---:|---|---:|---:|---:|---:|")
    for r in rows:
        print(f"| {r['images']} | {r['ocr']} | {r['ingest_s']:.1f} | {r['images_per_s']:.1f} | {r['search_p50_ms']:.1f} | {r['search_p95_ms']:.1f} |")
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(rows, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
