"""The describer's choices without a server: which items get a description, which frame of a
clip is described, and that the cache outlives the process's connection to it. The requests
themselves go to a real vision server in tests/rag/test_vlm_roundtrip.py."""

from __future__ import annotations

from pathlib import Path

from rag.core.config import Config, GeneratorConfig, IngestConfig
from rag.core.items import Item
from rag.library.describe import DescriptionCache, describable, keyframe, off_reason


def _item(granularity: str, frames: int) -> Item:
    modality = {"paragraph": "text", "image": "image", "clip": "video", "video": "video"}[granularity]
    return Item("i", "/x", modality, granularity, "text", frames=[Path(f"/f/{n}.jpg") for n in range(frames)])  # type: ignore[arg-type]


def test_pictures_and_clips_are_described_by_their_middle_frame() -> None:
    assert describable(_item("image", 1)) and describable(_item("clip", 4))
    assert not describable(_item("paragraph", 1)) and not describable(_item("video", 8)) and not describable(_item("image", 0))
    assert keyframe(_item("clip", 4)) == Path("/f/2.jpg") and keyframe(_item("image", 1)) == Path("/f/0.jpg")


def test_descriptions_are_on_only_for_a_served_vision_model() -> None:
    served = GeneratorConfig(base_url="http://127.0.0.1:8000/v1", vision=True)
    assert off_reason(Config(generator=served)) == ""
    assert "not a served vision model" in off_reason(Config())  # the embedded model
    assert "not a served vision model" in off_reason(Config(generator=served.model_copy(update={"vision": False})))
    off = Config(generator=served, ingest=IngestConfig(describe="off"))
    assert "off in the configuration" in off_reason(off) and off_reason(off, asked=True) == ""


def test_the_cache_keeps_descriptions_across_connections(tmp_path: Path) -> None:
    cache = DescriptionCache(tmp_path / "d.sqlite")
    cache.put("k", "a red bicycle leaning on a wall")
    cache.close()
    again = DescriptionCache(tmp_path / "d.sqlite")
    assert again.get("k") == "a red bicycle leaning on a wall" and again.get("other") is None
    again.close()
