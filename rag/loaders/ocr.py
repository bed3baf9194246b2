"""Optical character recognition through Debian's tesseract, when installed.

The binary is run directly rather than through pytesseract, because only the environment
can cap tesseract's OpenMP threads and pytesseract passes none: on 2 busy cores one thread
read a dense page in 2 s, its default threads in 14-16 s.
"""

from __future__ import annotations

import io
import logging
import os
import shutil
import subprocess
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
    gray = ImageOps.grayscale(image)
    if threshold:
        gray = ImageOps.autocontrast(gray).point(lambda v: 0 if v > 128 else 255)
    buffer = io.BytesIO()
    gray.save(buffer, "PNG")
    env = {**os.environ, "OMP_THREAD_LIMIT": "1"}
    try:
        done = subprocess.run(
            ["tesseract", "stdin", "stdout", "-l", "eng"],
            input=buffer.getvalue(), capture_output=True, timeout=60, env=env, check=True,
        )
    except (OSError, subprocess.SubprocessError) as exc:
        log.warning("OCR failed: %s", exc)
        return ""
    raw = done.stdout.decode("utf-8", errors="replace")
    words = [w for w in raw.split() if any(ch.isalnum() for ch in w)]
    return " ".join(words)
