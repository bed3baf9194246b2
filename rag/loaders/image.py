"""Image loader: an image file -> one image item with its descriptors.

Descriptors make images findable by text and are what text-only models read: the file name,
a caption/alt-text sidecar (`NAME.caption.txt` or `NAME.alt.txt`), EXIF fields, and OCR text.
The image is stored downscaled as a JPEG so huge photographs cost bounded memory later on.
"""

from __future__ import annotations

import warnings
from pathlib import Path

from PIL import ExifTags, Image, UnidentifiedImageError

from rag.core.items import Granularity, Item
from rag.loaders.context import LoadContext, LoadError, title_from
from rag.loaders.ocr import ocr_available, ocr_text

SUFFIXES = (".jpg", ".jpeg", ".png", ".webp", ".gif", ".bmp", ".tif", ".tiff")
SIDECAR_SUFFIXES = (".caption.txt", ".alt.txt")
EXIF_FIELDS = ("ImageDescription", "Artist", "Make", "Model", "DateTime")


def sidecars(path: Path) -> list[Path]:
    """Caption/alt-text files that belong to the image at `path`."""
    return [p for s in SIDECAR_SUFFIXES if (p := path.with_name(path.stem + s)).is_file()]


def load(path: Path, granularities: set[Granularity], ctx: LoadContext) -> dict[Granularity, list[Item]]:
    image, exif = open_image(path, ctx.settings.stored_image_side)
    stored = ctx.save_image(image, "image")
    title = title_from(path)
    caption = " ".join(p.read_text(encoding="utf-8", errors="replace").strip() for p in sidecars(path))
    words = ocr_text(image) if ctx.settings.ocr else ""
    if ctx.settings.ocr and not ocr_available():
        ctx.notes.append("OCR skipped: tesseract is not installed (apt-get install tesseract-ocr)")
    parts = [title, f"Caption: {caption}" if caption else "", f"Text in image: {words}" if words else "", exif]
    item = Item(
        id=ctx.item_id(path, "image", 0),
        source=str(path),
        modality="image",
        granularity="image",
        text=". ".join(p for p in parts if p),
        title=title,
        frames=[stored],
        metadata={"width": image.width, "height": image.height, "caption": caption, "ocr": words},
    )
    return {"image": [item]} if "image" in granularities else {}


def open_image(path: Path, max_side: int) -> tuple[Image.Image, str]:
    """The image as RGB with its longer side <= max_side, plus its EXIF as text.

    JPEGs are decoded at reduced scale (`draft`), so a 50-megapixel photo never sits in
    memory at full size.
    """
    if path.stat().st_size == 0:
        raise LoadError("empty file (0 bytes)")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as raw:
                exif = _exif_text(raw)
                raw.draft("RGB", (max_side, max_side))
                raw.seek(0)  # first frame of animations
                image = raw.convert("RGB")
    except (UnidentifiedImageError, Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise LoadError(f"not a readable image: {exc}") from exc
    except (OSError, SyntaxError, ValueError) as exc:
        raise LoadError(f"corrupt image: {exc}") from exc
    image.thumbnail((max_side, max_side))
    return image, exif


def _exif_text(image: Image.Image) -> str:
    try:
        exif = image.getexif()
    except Exception:  # noqa: BLE001 - malformed EXIF must not fail the image
        return ""
    names = {ExifTags.TAGS.get(tag, ""): value for tag, value in exif.items()}
    fields = [f"{k}: {str(names[k]).strip()}" for k in EXIF_FIELDS if str(names.get(k, "")).strip()]
    return ("EXIF " + "; ".join(fields)) if fields else ""
