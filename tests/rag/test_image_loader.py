from pathlib import Path

import pytest
from PIL import Image

from rag.core.config import IngestConfig
from rag.loaders import LoadContext, LoadError
from rag.loaders import image as loader
from tests.helpers import needs


def _load(path: Path, tmp_path: Path, **settings: int):
    ctx = LoadContext(IngestConfig(**settings), tmp_path / "frames", "ab" * 32)
    return loader.load(path, {"image"}, ctx)["image"][0]


def test_descriptors_hold_file_name_caption_and_exif(tmp_path: Path) -> None:
    path = tmp_path / "red_barn.jpg"
    exif = Image.Exif()
    exif[0x010F] = "Nikon"  # Make
    exif[0x010E] = "Barn at dusk"  # ImageDescription
    Image.new("RGB", (64, 48), "red").save(path, exif=exif)
    (tmp_path / "red_barn.caption.txt").write_text("A red barn in a field.\n")
    item = _load(path, tmp_path, ocr=False)
    assert item.title == "red barn"
    assert "Caption: A red barn in a field." in item.text
    assert "Make: Nikon" in item.text and "Barn at dusk" in item.text
    assert item.frames[0].is_file() and item.metadata["width"] == 64


@needs("tesseract", "tesseract-ocr")
def test_ocr_reads_the_scanned_page(samples: Path, tmp_path: Path) -> None:
    item = _load(samples / "images" / "scanned_page.jpg", tmp_path)
    words = str(item.metadata["ocr"]).lower()
    assert "segmentation" in words and "markers" in words, words


def test_huge_image_is_stored_downscaled(tmp_path: Path) -> None:
    path = tmp_path / "huge.jpg"
    Image.new("RGB", (8000, 6250), "navy").save(path, quality=50)  # 50 megapixels
    item = _load(path, tmp_path, ocr=False, stored_image_side=512)
    with Image.open(item.frames[0]) as stored:
        assert max(stored.size) == 512


def test_gif_uses_its_first_frame(tmp_path: Path) -> None:
    path = tmp_path / "blink.gif"
    frames = [Image.new("RGB", (20, 20), c) for c in ("white", "black")]
    frames[0].save(path, save_all=True, append_images=frames[1:])
    item = _load(path, tmp_path, ocr=False)
    with Image.open(item.frames[0]) as stored:
        assert stored.getpixel((10, 10))[0] > 200


@pytest.mark.parametrize("cut", [0, 100, 2000])
def test_truncated_or_empty_images_raise_load_error(tmp_path: Path, cut: int) -> None:
    whole = tmp_path / "whole.jpg"
    Image.effect_noise((400, 300), 60).convert("RGB").save(whole, quality=95)
    path = tmp_path / "cut.jpg"
    path.write_bytes(whole.read_bytes()[:cut])
    with pytest.raises(LoadError):
        _load(path, tmp_path, ocr=False)
