"""Image retrieval: descriptors on the samples, and the fused visual+text path on a tiny
random-weight CLIP (real loading and plumbing; its similarities mean nothing)."""

from pathlib import Path

import numpy as np
import pytest

from rag.core.config import Config, CorpusConfig, EncoderConfig
from rag.core.store import StoreError
from rag.library import Library
from retrievers.encoders import text_encoder, visual_encoder

IMAGE_QUERIES = [
    ("a cat looking at the camera", "chelsea_the_cat.jpg"),
    ("a cup of coffee", "coffee.jpg"),
    ("astronaut in an orange suit", "astronaut.jpg"),
    ("rocket on the launch pad", "rocket.jpg"),
    ("scanned page about markers for segmentation of coins", "scanned_page.jpg"),
    ("distant galaxies", "hubble_deep_field.jpg"),
]


@pytest.mark.parametrize(("query", "expected"), IMAGE_QUERIES)
def test_descriptor_search_finds_the_image_in_top_3(sample_library: Library, query: str, expected: str) -> None:
    hits = sample_library.search(query, corpus="image", k=3)
    assert expected in [Path(h.source).name for h in hits]
    assert all(Path(h.frames[0]).is_file() for h in hits)


def _clip_library(tmp_path: Path, clip: Path | None, weight: float = 0.8) -> Library:
    encoder = EncoderConfig(visual_model=str(clip) if clip else None, visual_weight=weight)
    corpus = CorpusConfig(name="photos", modality="image", granularity="image", encoder=encoder)
    return Library(Config(data_dir=tmp_path / "data", corpora=[corpus]))


def test_tiny_random_clip_image_query_finds_the_same_image_first(tmp_path: Path, samples: Path, tiny_random_clip: Path) -> None:
    library = _clip_library(tmp_path, tiny_random_clip)
    library.ingest([samples / "images"], progress=False)
    stored = library.client.get_collection("photos").get(limit=1, include=["embeddings"])
    assert len(stored["embeddings"][0]) == 16 + 384
    for name in ("coffee.jpg", "moon.jpg"):
        hits = library.search("", corpus="photos", k=3, image=samples / "images" / name)
        assert Path(hits[0].source).name == name
        assert hits[0].score == pytest.approx(1.0, abs=0.02)


def test_tiny_random_clip_text_score_is_the_weighted_fusion(tmp_path: Path, samples: Path, tiny_random_clip: Path) -> None:
    library = _clip_library(tmp_path, tiny_random_clip, weight=0.7)
    library.ingest([samples / "images"], progress=False)
    query = "a cup of coffee"
    hit = library.search(query, corpus="photos", k=1)[0]
    visual, text = visual_encoder(str(tiny_random_clip)), text_encoder("sentence-transformers/all-MiniLM-L6-v2")
    assert visual is not None
    cos_v = float(visual.encode_images([Path(hit.frames[0])])[0] @ visual.encode_texts([query])[0])
    cos_t = float(text.encode([hit.text])[0] @ text.encode([query])[0])
    assert hit.score == pytest.approx(0.7 * cos_v + 0.3 * cos_t, abs=1e-3)


def test_changing_the_encoder_asks_for_a_rebuild(tmp_path: Path, samples: Path, tiny_random_clip: Path) -> None:
    _clip_library(tmp_path, tiny_random_clip).ingest([samples / "images" / "coffee.jpg"], progress=False)
    with pytest.raises(StoreError, match="--rebuild"):
        _clip_library(tmp_path, None).retriever("photos")
    library = _clip_library(tmp_path, None)
    library.ingest([samples / "images" / "coffee.jpg"], rebuild=True, progress=False)
    assert library.counts() == {"photos": 1}


def test_without_visual_weights_image_only_queries_get_a_clear_error(sample_library: Library, samples: Path) -> None:
    with pytest.raises(ValueError, match="cannot be searched by image alone"):
        sample_library.search("", corpus="image", image=samples / "images" / "coffee.jpg")


def test_missing_clip_weights_fall_back_to_descriptors(tmp_path: Path, samples: Path) -> None:
    library = _clip_library(tmp_path, tmp_path / "no-such-clip")
    library.ingest([samples / "images"], progress=False)
    stored = library.client.get_collection("photos").get(limit=1, include=["embeddings"])
    assert len(np.asarray(stored["embeddings"][0])) == 384
    assert Path(library.search("a cup of coffee", corpus="photos", k=1)[0].source).name == "coffee.jpg"
