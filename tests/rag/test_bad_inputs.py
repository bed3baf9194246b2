"""A corpus of broken and hostile files, made in the test session: every bad file gets a
clear per-file reason, every good file is ingested, and the huge image costs bounded memory."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import pymupdf
import pytest
from PIL import Image

from rag.core.config import Config
from rag.library import Library

LONG_NAME = "ü" * 60 + "-" + "long" * 20 + ".md"  # 60 two-byte letters + 81 ASCII: 221 bytes


@pytest.fixture(scope="module")
def hostile(samples: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("hostile")
    jpeg = (samples / "images" / "coffee.jpg").read_bytes()
    png = root / "ok.png"
    Image.new("RGB", (64, 48), "orange").save(png)
    (root / "truncated.png").write_bytes(png.read_bytes()[:60])
    png.unlink()
    shutil.copy(samples / "text" / "volcanoes.md", root / "good.md")
    shutil.copy(samples / "images" / "coffee.jpg", root / "good.jpg")
    (root / "zero.txt").write_bytes(b"")
    (root / "zero.jpg").write_bytes(b"")
    (root / "truncated.jpg").write_bytes(jpeg[:700])
    (root / "corrupt.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 40)
    (root / "empty.mp4").write_bytes(b"")
    (root / "binary.txt").write_bytes(bytes(range(256)) * 16)
    (root / "latin1.txt").write_bytes("Café crème in Zürich costs about five francs.".encode("latin-1"))
    (root / "日本語のメモ.md").write_text("Tea ceremonies follow a fixed sequence of gestures.", encoding="utf-8")
    (root / LONG_NAME).write_text("A file with a very long unicode name is still text.", encoding="utf-8")
    document = pymupdf.open()
    document.new_page().insert_text((72, 72), "Secret quarterly figures.")
    document.save(root / "encrypted.pdf", encryption=pymupdf.PDF_ENCRYPT_AES_256, owner_pw="o", user_pw="u")
    Image.new("RGB", (10_000, 5_000), "navy").save(root / "huge.jpg", quality=60)  # 50 megapixels
    return root


GOOD = {"good.md", "good.jpg", "latin1.txt", "日本語のメモ.md", LONG_NAME, "huge.jpg"}
BAD = {"zero.txt", "zero.jpg", "truncated.jpg", "truncated.png", "corrupt.mp4", "empty.mp4", "binary.txt", "encrypted.pdf"}


def test_every_bad_file_has_a_reason_and_every_good_file_is_ingested(hostile: Path, tmp_path: Path) -> None:
    library = Library(Config(data_dir=tmp_path / "data"))
    report = library.ingest([hostile], progress=False)
    failed = {Path(o.path).name: o.reason for o in report.by_status("failed")}
    ingested = {Path(o.path).name for o in report.by_status("ingested")}
    assert set(failed) == BAD, failed
    assert ingested == GOOD
    reasons = " | ".join(f"{k}: {v}" for k, v in failed.items())
    assert "0 bytes" in failed["zero.txt"] and "0 bytes" in failed["zero.jpg"], reasons
    assert "encrypted" in failed["encrypted.pdf"], reasons
    assert all(len(reason) > 10 for reason in failed.values()), reasons
    hits = library.search("coffee prices in Zurich cafe", corpus="text-paragraph", k=3)
    assert any(Path(h.source).name == "latin1.txt" and "Zürich" in h.text for h in hits)
    huge = next(o for o in report.outcomes if Path(o.path).name == "huge.jpg")
    stored = library.search("huge", corpus="image", k=5)
    assert huge.status == "ingested" and any(Path(h.source).name == "huge.jpg" for h in stored)


def test_a_file_that_disappears_mid_ingest_is_reported_and_the_rest_go_on(hostile: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "vanishing"
    folder.mkdir()
    for name in ("good.md", "latin1.txt", "good.jpg"):
        shutil.copy(hostile / name, folder / name)
    doomed = folder / "doomed.md"
    doomed.write_text("This file is deleted after the folder was listed.", encoding="utf-8")
    library = Library(Config(data_dir=tmp_path / "data"))
    import rag.library.ingest as ingest_module

    real = ingest_module.load_file
    once = threading.Event()

    def delete_then_load(path, *args, **kwargs):  # the folder is listed; then the file goes
        if not once.is_set():
            once.set()
            doomed.unlink()
        return real(path, *args, **kwargs)

    monkeypatch.setattr(ingest_module, "load_file", delete_then_load)
    report = library.ingest([folder], progress=False)
    failed = {Path(o.path).name: o.reason for o in report.by_status("failed")}
    assert failed == {"doomed.md": "file disappeared before it could be read"}
    assert {Path(o.path).name for o in report.by_status("ingested")} == {"good.md", "latin1.txt", "good.jpg"}


def test_the_huge_image_costs_bounded_memory(hostile: Path, samples: Path, tmp_path: Path) -> None:
    """Peak memory of ingesting the 50-megapixel JPEG, against a small one, in fresh processes:
    the loader decodes it at reduced scale, never at 150 MB of full-size pixels."""
    script = (
        "import json, resource, sys\n"
        "from rag.core.config import Config, IngestConfig\n"
        "from rag.library import Library\n"
        "lib = Library(Config(data_dir=sys.argv[2], ingest=IngestConfig(ocr=False)))\n"
        "lib.ingest([sys.argv[1]], corpus='image', progress=False)\n"
        "print(json.dumps(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss))\n"
    )

    def peak_kb(image: Path, name: str) -> int:
        out = subprocess.run([sys.executable, "-c", script, str(image), str(tmp_path / name)],
                             capture_output=True, text=True, timeout=600, check=True)
        return json.loads(out.stdout.strip().splitlines()[-1])

    small, huge = peak_kb(samples / "images" / "coffee.jpg", "small"), peak_kb(hostile / "huge.jpg", "huge")
    assert huge - small < 80_000, (small, huge)  # < 80 MB more than a 400x400 photo
