"""The end-to-end routing set: the sample corpora plus files written for it, and questions
about them with their gold corpus and gold item.

    python -m eval.e2e DIR      # builds DIR/samples + DIR/extra, ingests them into DIR/.mmrag,
                                # writes DIR/mmrag.toml
    mmrag --config DIR/mmrag.toml eval routing --end-to-end eval/data/e2e/questions.json

eval/data/e2e/ holds eight documents (text/), ten photographs (images.json: scikit-image
pictures with captions) and three narrated videos (video_scripts.json), written for this
set; questions.json holds 177 questions in UniversalRAG's query layout (gt_retrieval,
gt_texts | gt_images | gt_videos, time_reference for clips), a third of them with no word
naming a modality, 26 needing no retrieval.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from collections.abc import Sequence
from pathlib import Path

from rag.core.config import Config
from rag.library import Library
from rag.library.samples import build_samples, write_images
from rag.library.samples.videos import make_videos

DATA = Path(__file__).with_name("data") / "e2e"
QUESTIONS = DATA / "questions.json"


def build(dest: Path) -> Path:
    """The sample corpora and the extra files under `dest` (existing files are kept)."""
    build_samples(dest / "samples")
    extra = dest / "extra"
    (extra / "text").mkdir(parents=True, exist_ok=True)
    for doc in sorted((DATA / "text").iterdir()):
        if not (extra / "text" / doc.name).exists():
            shutil.copyfile(doc, extra / "text" / doc.name)
    write_images(extra / "images", DATA / "images.json")
    videos = extra / "videos"
    if not all((videos / name).exists() for name in _video_files()):
        make_videos(videos, scripts=DATA / "video_scripts.json")
    return dest


def _video_files() -> list[str]:
    from rag.library.samples.videos import sample_videos

    return [video.file for video in sample_videos(DATA / "video_scripts.json")]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m eval.e2e", description=__doc__.split("\n\n")[0])
    parser.add_argument("dest", type=Path, help="folder for the files, the store and mmrag.toml")
    args = parser.parse_args(argv)
    dest = build(args.dest.resolve())
    config = Config(data_dir=dest / ".mmrag")
    report = Library(config).ingest([dest / "samples", dest / "extra"])
    (dest / "mmrag.toml").write_text(f'data_dir = "{config.data_dir}"\n', encoding="utf-8")
    failed = report.by_status("failed")
    for outcome in failed:
        print(f"failed: {outcome.path}: {outcome.reason}")
    print(f"ingested into {config.data_dir}; use --config {dest / 'mmrag.toml'}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
