"""Optical character recognition through Debian's tesseract (via pytesseract), when installed."""

from __future__ import annotations

import logging
import shutil
from functools import cache

from PIL import Image, ImageOps

log = logging.getLogger(__name__)


@cache
def ocr_available() -> bool:
    """True when the tesseract binary is on PATH; logs once how to get it when it is not."""
    if shutil.which("tesseract"):
        return True
    log.warning("OCR skipped: tesseract is not installed (apt-get install tesseract-ocr)")
    return False


def ocr_text(image: Image.Image, threshold: bool = False) -> str:
    """Text read from the image, whitespace-normalised; '' when OCR is unavailable.

    `threshold` binarises first, which is what makes light text on coloured video frames
    readable.
    """
    if not ocr_available():
        return ""
    import pytesseract

    gray = ImageOps.grayscale(image)
    if threshold:
        gray = ImageOps.autocontrast(gray).point(lambda v: 0 if v > 128 else 255)
    try:
        raw = pytesseract.image_to_string(gray, timeout=60)
    except (RuntimeError, pytesseract.TesseractError) as exc:
        log.warning("OCR failed: %s", exc)
        return ""
    words = [w for w in raw.split() if any(ch.isalnum() for ch in w)]
    return " ".join(words)
