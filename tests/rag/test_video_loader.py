import re
import shutil
from fractions import Fraction
from itertools import pairwise
from pathlib import Path

import av
import numpy as np
import pytest
from PIL import Image

from rag.core.config import IngestConfig
from rag.core.items import Item
from rag.core.models import ModelUnavailable
from rag.library.samples.videos import SampleVideo, make_videos, sample_videos
from rag.loaders import LoadContext, LoadError, file_sha
from rag.loaders import video as loader
from tests.helpers import needs

needs_speech = needs("espeak-ng", "espeak-ng")
SCRIPTS = {video.file: video for video in sample_videos()}
# Words the ASR reliably hears in only one scene's espeak-ng narration, by video and scene.
HEARD = {
    "volcano_eruption.mp4": [{"volcano", "crater"}, {"ash", "summit"}, {"ocean", "steam"}],
    "pasta_cooking.mp4": [{"boil", "water"}, {"spaghetti", "stir"}, {"tomato", "cheese"}],
    "bicycle_repair.mp4": [{"lever", "bicycle"}, {"puncture", "patch"}, {"hard"}],
}
Loaded = tuple[dict[str, list[Item]], LoadContext]


def _ctx(path: Path, frames: Path, **settings: object) -> LoadContext:
    return LoadContext(IngestConfig(**settings), frames, file_sha(path))


def _words(text: str) -> set[str]:
    return set(re.findall(r"[a-z]+", text.lower()))


@pytest.fixture(scope="module")
def videos(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return {p.name: p for p in make_videos(tmp_path_factory.mktemp("videos"))}


@pytest.fixture(scope="module")
def silent(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return {p.name: p for p in make_videos(tmp_path_factory.mktemp("silent"), narrate=False)}


@pytest.fixture(scope="module")
def loaded(videos: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> dict[str, Loaded]:
    """Every sample video loaded once at both granularities."""
    frames = tmp_path_factory.mktemp("frames")
    out = {}
    for name, path in videos.items():
        ctx = _ctx(path, frames)
        out[name] = (loader.load(path, {"clip", "video"}, ctx), ctx)
    return out


def _frames(path: Path) -> list[np.ndarray]:
    with av.open(str(path)) as container:
        return [f.to_ndarray(format="gray").astype(np.int16) for f in container.decode(video=0)]


def test_sample_videos_are_deterministic_and_sized(videos: dict[str, Path], tmp_path: Path) -> None:
    """Same pictures and sound every time; x264 is not bit-exact across runs, so pixels are
    compared, not bytes."""
    for path in make_videos(tmp_path):
        first, again = _frames(videos[path.name]), _frames(path)
        assert len(first) == len(again)
        assert max(float(np.abs(a - b).mean()) for a, b in zip(first, again, strict=True)) < 2.0
    for script in SCRIPTS.values():
        assert 15 <= script.duration <= 30 and 2 <= len(script.scenes) <= 4


@pytest.mark.parametrize("name", sorted(SCRIPTS))
def test_clips_follow_the_scene_changes(loaded: dict[str, Loaded], name: str) -> None:
    clips = loaded[name][0]["clip"]
    script: SampleVideo = SCRIPTS[name]
    assert len(clips) == len(script.scenes) >= 2
    for clip, scene in zip(clips, script.scenes, strict=True):
        assert clip.span.start_s == pytest.approx(scene.start_s, abs=0.5)
        assert clip.span.end_s == pytest.approx(scene.end_s, abs=0.5)


@pytest.mark.parametrize("name", sorted(SCRIPTS))
def test_clips_cover_the_video_in_order(loaded: dict[str, Loaded], name: str) -> None:
    clips = loaded[name][0]["clip"]
    assert clips[0].span.start_s == 0
    for before, after in pairwise(clips):
        assert before.span.start_s < before.span.end_s == after.span.start_s
    assert clips[-1].span.end_s == pytest.approx(SCRIPTS[name].duration, abs=0.2)


def test_each_clip_has_its_frames_on_disk(loaded: dict[str, Loaded]) -> None:
    out, ctx = loaded["volcano_eruption.mp4"]
    for clip in out["clip"]:
        assert len(clip.frames) == ctx.settings.frames_per_clip
        assert len(set(clip.frames)) == len(clip.frames)
        for frame in clip.frames:
            assert frame.parent == ctx.frames_dir / ctx.sha[:16] and frame.suffix == ".jpg"
            seconds = float(frame.stem)
            assert clip.span.start_s <= seconds < clip.span.end_s
            with Image.open(frame) as image:
                assert image.format == "JPEG" and max(image.size) <= 512
    video = out["video"][0]
    assert 1 <= len(video.frames) <= 16 and all(f.is_file() for f in video.frames)


def test_frames_show_their_own_scene(loaded: dict[str, Loaded]) -> None:
    clips = loaded["volcano_eruption.mp4"][0]["clip"]
    for clip, scene in zip(clips, SCRIPTS["volcano_eruption.mp4"].scenes, strict=True):
        with Image.open(clip.frames[0]) as image:
            corner = np.asarray(image.convert("RGB"))[:8, :8].reshape(-1, 3).mean(axis=0)
        assert np.abs(corner - np.array(scene.colors[0])).max() < 30, (clip.span, corner)


@needs_speech
@pytest.mark.parametrize("name", sorted(SCRIPTS))
def test_clip_transcripts_hold_only_their_scene(loaded: dict[str, Loaded], name: str) -> None:
    clips = loaded[name][0]["clip"]
    for index, clip in enumerate(clips):
        heard = _words(str(clip.metadata["transcript"]))
        own = HEARD[name][index]
        others = set().union(*(w for i, w in enumerate(HEARD[name]) if i != index))
        assert own & heard, (own, heard)
        assert not others & heard, (others & heard, clip.metadata["transcript"])
        assert "Spoken: " in clip.text


@needs_speech
def test_lava_is_spoken_in_the_first_and_last_volcano_clips(loaded: dict[str, Loaded]) -> None:
    clips = loaded["volcano_eruption.mp4"][0]["clip"]
    heard = [_words(str(clip.metadata["transcript"])) for clip in clips]
    assert ["lava" in words for words in heard] == [True, False, True], heard


@needs_speech
def test_whole_video_item_holds_the_full_transcript(loaded: dict[str, Loaded]) -> None:
    out, ctx = loaded["volcano_eruption.mp4"]
    video = out["video"][0]
    heard = _words(video.text)
    for words in HEARD["volcano_eruption.mp4"]:
        assert words <= heard, words - heard
    assert video.id == ctx.item_id(Path(video.source), "video", 0)
    assert video.granularity == "video" and video.modality == "video" and video.parent_id is None
    assert video.span.start_s == 0 and video.span.end_s == pytest.approx(26.0, abs=0.2)
    assert video.title == "volcano eruption" and video.text.startswith("volcano eruption.")
    assert ctx.notes == []


def test_clips_link_to_their_video(loaded: dict[str, Loaded]) -> None:
    out, ctx = loaded["pasta_cooking.mp4"]
    video = out["video"][0]
    ids = [clip.id for clip in out["clip"]]
    assert len(set(ids)) == len(ids) and video.id not in ids
    for index, clip in enumerate(out["clip"]):
        assert clip.parent_id == video.id
        assert clip.id == ctx.item_id(Path(clip.source), "clip", index)
        assert (clip.modality, clip.granularity, clip.title) == ("video", "clip", "pasta cooking")
        assert clip.metadata["duration"] == pytest.approx(clip.span.end_s - clip.span.start_s)


@needs("tesseract", "tesseract-ocr")
def test_on_screen_captions_are_read(loaded: dict[str, Loaded]) -> None:
    out, _ = loaded["bicycle_repair.mp4"]
    for clip, scene in zip(out["clip"], SCRIPTS["bicycle_repair.mp4"].scenes, strict=True):
        assert f"On screen: {scene.caption}" in clip.text, clip.text
    assert out["video"][0].text.count("Patch the inner tube") == 1


def test_video_without_audio_gives_clips_without_transcript(
    silent: dict[str, Path], tmp_path: Path
) -> None:
    path = silent["pasta_cooking.mp4"]
    with av.open(str(path)) as container:
        assert not container.streams.audio
    ctx = _ctx(path, tmp_path, ocr=False)
    out = loader.load(path, {"clip", "video"}, ctx)
    assert len(out["clip"]) == 3 and ctx.notes == []
    for item in [*out["clip"], *out["video"]]:
        assert item.text == "pasta cooking." and "Spoken" not in item.text
    assert out["video"][0].metadata["has_audio"] is False


def test_only_the_requested_granularities_are_returned(silent: dict[str, Path], tmp_path: Path) -> None:
    path = silent["bicycle_repair.mp4"]
    assert set(loader.load(path, {"clip"}, _ctx(path, tmp_path, ocr=False))) == {"clip"}
    assert set(loader.load(path, {"video"}, _ctx(path, tmp_path, ocr=False))) == {"video"}
    assert loader.load(path, set(), _ctx(path, tmp_path)) == {}


@needs_speech
@pytest.mark.parametrize("model", [None, "missing-model"])
def test_missing_asr_model_leaves_a_note(
    videos: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, model: str | None
) -> None:
    def unavailable(name: str) -> Path:
        raise ModelUnavailable(f"model {name!r} is not installed locally")

    monkeypatch.setattr(loader, "resolve_model", unavailable)
    path = videos["pasta_cooking.mp4"]
    ctx = _ctx(path, tmp_path, ocr=False, asr_model=model)
    out = loader.load(path, {"clip", "video"}, ctx)
    assert len(out["clip"]) == 3 and "Spoken" not in out["video"][0].text
    assert len(ctx.notes) == 1 and "transcript" in ctx.notes[0]


@pytest.mark.parametrize("kind", ["empty", "random", "truncated", "audio_only", "text"])
def test_unreadable_files_raise_load_error(
    kind: str, videos: dict[str, Path], tmp_path: Path
) -> None:
    path = tmp_path / f"{kind}.mp4"
    if kind == "empty":
        path.touch()
    elif kind == "random":
        path.write_bytes(np.random.default_rng(0).integers(0, 256, 50_000, dtype=np.uint8).tobytes())
    elif kind == "truncated":
        data = videos["volcano_eruption.mp4"].read_bytes()
        path.write_bytes(data[: len(data) // 2])
    elif kind == "audio_only":
        _write_audio_only(path)
    else:
        path.write_text("this is not a video\n" * 100)
    with pytest.raises(LoadError) as error:
        loader.load(path, {"clip", "video"}, _ctx(path, tmp_path / "frames"))
    assert str(error.value)


def _write_audio_only(path: Path) -> None:
    with av.open(str(path), mode="w", format="mp4") as container:
        stream = container.add_stream("aac", rate=16000, layout="mono")
        for start in range(0, 16000, 1024):
            frame = av.AudioFrame.from_ndarray(
                np.zeros((1, 1024), dtype=np.float32), format="fltp", layout="mono"
            )
            frame.sample_rate, frame.pts, frame.time_base = 16000, start, Fraction(1, 16000)
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))


def test_video_copied_elsewhere_keeps_content_but_not_ids(
    silent: dict[str, Path], tmp_path: Path
) -> None:
    original = silent["volcano_eruption.mp4"]
    copy = shutil.copy(original, tmp_path / "copy.mp4")
    first = loader.load(original, {"video"}, _ctx(original, tmp_path, ocr=False))["video"][0]
    second = loader.load(Path(copy), {"video"}, _ctx(Path(copy), tmp_path, ocr=False))["video"][0]
    assert first.id != second.id and first.frames == second.frames


def _settings(**values: float) -> IngestConfig:
    return IngestConfig(**values)


def test_no_cuts_gives_fixed_windows() -> None:
    bounds = loader.clip_bounds([], 25.0, _settings(clip_seconds=10))
    assert bounds == [(0.0, 10.0), (10.0, 20.0), (20.0, 25.0)]


def test_short_tail_window_merges_into_the_previous_one() -> None:
    bounds = loader.clip_bounds([], 20.4, _settings(clip_seconds=10))
    assert bounds == [(0.0, 10.0), (10.0, 20.4)]


def test_short_scene_merges_into_its_shorter_neighbour() -> None:
    bounds = loader.clip_bounds([5.0, 5.4, 12.0], 30.0, _settings())
    assert bounds == [(0.0, 5.4), (5.4, 12.0), (12.0, 30.0)]


def test_long_scene_is_split_evenly() -> None:
    bounds = loader.clip_bounds([4.0], 74.0, _settings(max_clip_seconds=30))
    assert bounds[0] == (0.0, 4.0) and len(bounds) == 4
    assert [b - a for a, b in bounds[1:]] == pytest.approx([70 / 3] * 3)
    assert bounds[-1][1] == 74.0
