"""The bundled sample corpora, written to a folder: real texts, photographs and short videos.

Texts: documents written for the samples (Markdown, HTML, a generated two-page PDF) plus
scikit-learn's dataset descriptions. Images: scikit-image's and scikit-learn's bundled
photographs with alt-text sidecars. Videos: generated with drawn captions and an espeak-ng
narration (see rag.library.samples.videos).
"""

from __future__ import annotations

import json
import logging
import shutil
from importlib import resources
from pathlib import Path

import numpy as np
from PIL import Image

log = logging.getLogger(__name__)
HERE = resources.files(__name__)


def build_samples(dest: Path) -> Path:
    """Write text/, images/ and videos/ under `dest` (existing files are kept) and return it."""
    dest.mkdir(parents=True, exist_ok=True)
    _texts(dest / "text")
    write_images(dest / "images")
    from rag.library.samples.videos import make_videos

    make_videos(dest / "videos")
    return dest


def _texts(out: Path) -> None:
    import sklearn.datasets

    out.mkdir(parents=True, exist_ok=True)
    for doc in (HERE / "text").iterdir():
        if not (out / doc.name).exists():
            (out / doc.name).write_text(doc.read_text(encoding="utf-8"), encoding="utf-8")
    descr = Path(sklearn.datasets.__file__).parent / "descr"
    for rst in sorted(descr.glob("*.rst")):
        if not (out / f"sklearn_{rst.name}").exists():
            shutil.copyfile(rst, out / f"sklearn_{rst.name}")
    pdf = out / "bicycle_maintenance.pdf"
    if not pdf.exists():
        _write_pdf((HERE / "pdf" / "bicycle_maintenance.txt").read_text(encoding="utf-8"), pdf)


def _write_pdf(text: str, path: Path) -> None:
    """A real PDF, one page per form-feed-separated part, written with PyMuPDF."""
    import pymupdf

    doc = pymupdf.open()
    for part in text.split("\\f"):
        page = doc.new_page()
        page.insert_textbox(pymupdf.Rect(56, 56, 540, 790), part.strip(), fontsize=11)
    doc.set_metadata({"title": "Bicycle maintenance handbook"})
    doc.save(path)
    doc.close()


def write_images(out: Path, specs_file: Path | None = None) -> None:
    """The photographs listed in images.json (or another file of the same layout: name ->
    {source "skimage:<function>" | "sklearn:<file>", caption}) with caption sidecars."""
    out.mkdir(parents=True, exist_ok=True)
    specs = json.loads((specs_file or HERE / "images.json").read_text(encoding="utf-8"))
    for name, spec in specs.items():
        target = out / f"{name}.jpg"
        if not target.exists():
            _photo(spec["source"], name).save(target, "JPEG", quality=92)
        if spec["caption"]:
            (out / f"{name}.caption.txt").write_text(spec["caption"] + "\n", encoding="utf-8")


def _photo(source: str, name: str) -> Image.Image:
    lib, _, key = source.partition(":")
    if lib == "sklearn":
        from sklearn.datasets import load_sample_image

        return Image.fromarray(load_sample_image(key))
    import skimage.data

    array = np.asarray(getattr(skimage.data, key or name)())
    if array.dtype == bool:
        array = array.astype(np.uint8) * 255
    return Image.fromarray(array).convert("RGB")
