"""Video retrieval on the generated sample videos: clips carry their seconds, whole videos
pool their clips (transcripts from the real faster-whisper tiny.en model)."""

from pathlib import Path

import numpy as np
import pytest

from rag.core.config import Config, CorpusConfig, EncoderConfig
from rag.library import Library
from retrievers.encoders import normalize, visual_encoder
from tests.helpers import needs

CLIP_QUERIES = [
    ("lava flowing into the ocean and steam", "volcano_eruption.mp4", 15.0, 27.0),
    ("a cloud of volcanic ash over villages", "volcano_eruption.mp4", 8.0, 18.5),
    ("draining spaghetti in a colander with tomato sauce", "pasta_cooking.mp4", 12.0, 21.0),
]


@needs("espeak-ng", "espeak-ng")
@pytest.mark.parametrize(("query", "video", "start", "end"), CLIP_QUERIES)
def test_clip_query_finds_the_moment_in_top_3(sample_library: Library, query: str, video: str, start: float, end: float) -> None:
    hits = sample_library.search(query, corpus="video-clip", k=3)
    assert any(
        Path(h.source).name == video and start - 1 <= h.span.start_s and h.span.end_s <= end + 1 for h in hits
    ), [(Path(h.source).name, h.span.start_s, h.span.end_s) for h in hits]


@needs("espeak-ng", "espeak-ng")
def test_whole_video_query_finds_the_video_first(sample_library: Library) -> None:
    hit = sample_library.search("how to repair a flat bicycle tyre", corpus="video-whole", k=3)[0]
    assert Path(hit.source).name == "bicycle_repair.mp4"
    assert hit.span.start_s == 0 and hit.span.end_s > 10


def test_clips_link_to_their_whole_video(sample_library: Library) -> None:
    clips = sample_library.client.get_collection("video-clip").get(include=["metadatas"])
    videos = set(sample_library.client.get_collection("video-whole").get()["ids"])
    assert clips["ids"] and all(m["parent_id"] in videos for m in clips["metadatas"])


def test_tiny_random_clip_clip_vector_is_the_mean_of_its_frames(tmp_path: Path, samples: Path, tiny_random_clip: Path) -> None:
    corpus = CorpusConfig(name="clips", modality="video", granularity="clip",
                          encoder=EncoderConfig(visual_model=str(tiny_random_clip)))
    library = Library(Config(data_dir=tmp_path / "data", corpora=[corpus]))
    library.ingest([samples / "videos" / "bicycle_repair.mp4"], progress=False)
    got = library.client.get_collection("clips").get(include=["embeddings", "metadatas"])
    visual = visual_encoder(str(tiny_random_clip))
    assert visual is not None
    for vector, meta in zip(got["embeddings"], got["metadatas"], strict=True):
        frames = [Path(p) for p in __import__("json").loads(meta["frames"])]
        expected = normalize(visual.encode_images(frames).mean(axis=0, keepdims=True))[0] / np.sqrt(2)
        assert np.allclose(np.asarray(vector)[:16], expected, atol=1e-4)
