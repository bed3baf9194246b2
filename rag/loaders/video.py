"""Video loader: a video file -> scene clips and one whole-video item.

Clips follow scene cuts (PySceneDetect's ContentDetector), or fixed windows when there are
none; short scenes merge into a neighbour and long ones are split. Each clip gets evenly
sampled frames, the words spoken in it (faster-whisper, one pass over the whole file) and
the text on screen (tesseract OCR of its middle frame). The whole-video item joins them.
"""

from __future__ import annotations

import bisect
import logging
import math
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from fractions import Fraction
from functools import cache
from itertools import pairwise
from pathlib import Path
from typing import TYPE_CHECKING

import av
from PIL import Image

from rag.core.config import IngestConfig
from rag.core.items import Granularity, Item, Span
from rag.core.models import ModelUnavailable, resolve_model
from rag.loaders.context import LoadContext, LoadError, title_from
from rag.loaders.ocr import ocr_available, ocr_text

if TYPE_CHECKING:
    from faster_whisper import WhisperModel

log = logging.getLogger(__name__)

SUFFIXES = (".mp4", ".mkv", ".webm", ".mov")
FRAME_SIDE = 512  # longer side of stored frames
OCR_SIDE = 1600  # longer side of the frame OCR reads
MIN_CLIP_S = 1.0  # shorter scenes merge into a neighbour
SEEK_GAP_S = 5.0  # seek instead of decoding through gaps longer than this
VIDEO_FRAMES = 16  # frames kept for the whole-video item
_warned: set[str] = set()


@dataclass
class Clip:
    """One clip while it is being built: its time range and what was found in it."""

    start: float
    end: float
    frames: list[Path] = field(default_factory=list)
    words: list[str] = field(default_factory=list)
    screen: str = ""

    @property
    def spoken(self) -> str:
        return "".join(self.words).strip()


@dataclass
class Transcript:
    """What was said in the whole file, and each word with its time."""

    text: str
    words: list[tuple[float, float, str]]  # (start_s, end_s, text with its leading space)


def load(
    path: Path, granularities: set[Granularity], ctx: LoadContext
) -> dict[Granularity, list[Item]]:
    """Clip and/or whole-video items for the video at `path`, from one parse of the file."""
    wanted = granularities & {"clip", "video"}
    if not wanted:
        return {}
    with _reading():
        has_audio = probe(path)
        cuts, duration = detect_cuts(path)
        clips = [Clip(s, e) for s, e in clip_bounds(cuts, duration, ctx.settings)]
        sample_frames(path, clips, ctx)
    transcript = transcribe(path, ctx) if has_audio else None
    if transcript is not None:
        assign_words(clips, transcript)
    out: dict[Granularity, list[Item]] = {}
    if "clip" in wanted:
        out["clip"] = [_clip_item(path, i, clip, ctx) for i, clip in enumerate(clips)]
    if "video" in wanted:
        out["video"] = [_video_item(path, clips, duration, transcript, has_audio, ctx)]
    return out


@contextmanager
def _reading() -> Iterator[None]:
    """Turns any decoder failure into LoadError."""
    from scenedetect import VideoOpenFailure

    try:
        yield
    except LoadError:
        raise
    except (av.FFmpegError, VideoOpenFailure, OSError, ValueError, EOFError, RuntimeError) as exc:
        raise LoadError(f"cannot read the video: {exc}") from exc


def probe(path: Path) -> bool:
    """Checks that the file is a video with a duration; returns whether it has audio."""
    if path.stat().st_size == 0:
        raise LoadError("empty file (0 bytes)")
    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise LoadError("no video stream in the file")
            stream = container.streams.video[0]
            seconds = float(stream.duration * _time_base(stream)) if stream.duration else 0.0
            seconds = max(seconds, (container.duration or 0) / av.time_base)
            if seconds <= 0 and stream.frames == 0:
                raise LoadError("the video has no duration and no frames")
            return bool(container.streams.audio)
    except av.FFmpegError as exc:
        raise LoadError(f"not a readable video (corrupt or unsupported): {exc}") from exc


def detect_cuts(path: Path) -> tuple[list[float], float]:
    """Scene-cut times in seconds and the video's duration, by PySceneDetect."""
    from scenedetect import ContentDetector, SceneManager, open_video

    video = open_video(str(path), backend="pyav")
    manager = SceneManager()
    manager.add_detector(ContentDetector())
    if manager.detect_scenes(video=video) == 0:
        raise LoadError("the video stream has no decodable frames")
    scenes = manager.get_scene_list(start_in_scene=True)
    if not scenes or scenes[-1][1].seconds <= 0:
        raise LoadError("the video has zero duration")
    return [start.seconds for start, _ in scenes[1:]], float(scenes[-1][1].seconds)


def clip_bounds(
    cuts: list[float], duration: float, settings: IngestConfig
) -> list[tuple[float, float]]:
    """Clip ranges: scenes between cuts (fixed windows without cuts), merged and split to size."""
    edges = sorted(c for c in cuts if 0 < c < duration)
    if not edges:
        step = settings.clip_seconds
        edges = [k * step for k in range(1, math.ceil(duration / step - 1e-6))]
    bounds = list(pairwise([0.0, *edges, duration]))
    longest = settings.max_clip_seconds
    bounds = _merge_short(bounds, min(MIN_CLIP_S, longest / 2))
    return [piece for bound in bounds for piece in _split_long(bound, longest)]


def _merge_short(bounds: list[tuple[float, float]], shortest: float) -> list[tuple[float, float]]:
    """Merges the shortest range into its shorter neighbour until none is below `shortest`."""
    bounds = list(bounds)
    while len(bounds) > 1:
        i = min(range(len(bounds)), key=lambda k: bounds[k][1] - bounds[k][0])
        if bounds[i][1] - bounds[i][0] >= shortest:
            break
        if i == 0 or (i < len(bounds) - 1 and _length(bounds[i + 1]) < _length(bounds[i - 1])):
            j = i + 1
        else:
            j = i - 1
        lo, hi = min(i, j), max(i, j)
        bounds[lo : hi + 1] = [(bounds[lo][0], bounds[hi][1])]
    return bounds


def _length(bound: tuple[float, float]) -> float:
    return bound[1] - bound[0]


def _split_long(bound: tuple[float, float], longest: float) -> list[tuple[float, float]]:
    """`bound` cut into equal parts no longer than `longest`."""
    start, end = bound
    parts = max(1, math.ceil((end - start) / longest - 1e-6))
    step = (end - start) / parts
    edges = [start + k * step for k in range(parts)] + [end]
    return list(pairwise(edges))


def sample_frames(path: Path, clips: list[Clip], ctx: LoadContext) -> None:
    """Saves frames_per_clip evenly spaced frames per clip; OCRs each clip's middle one."""
    count = ctx.settings.frames_per_clip
    side = min(FRAME_SIDE, ctx.settings.stored_image_side)
    folder = ctx.frames_dir / ctx.sha[:16]
    folder.mkdir(parents=True, exist_ok=True)
    read_screen = ctx.settings.ocr and ocr_available()
    with av.open(str(path)) as container:
        cursor = FrameCursor(container)
        for clip in clips:
            step = (clip.end - clip.start) / count
            for j in range(count):
                seconds, image = cursor.at(clip.start + (j + 0.5) * step)
                clip.frames.append(_save_frame(image, folder / f"{seconds:09.3f}.jpg", side))
                if read_screen and j == count // 2:
                    image.thumbnail((OCR_SIDE, OCR_SIDE))
                    clip.screen = ocr_text(image, threshold=True)


def _save_frame(image: Image.Image, target: Path, side: int) -> Path:
    """Stores `image` downscaled at `target` (kept if already there, e.g. from a re-ingest)."""
    if not target.exists():
        small = image.copy()
        small.thumbnail((side, side))
        partial = target.with_suffix(".part")
        small.save(partial, "JPEG", quality=88)
        partial.replace(target)
    return target


class FrameCursor:
    """Walks a video's frames forward in time, seeking over long gaps."""

    def __init__(self, container: av.container.InputContainer) -> None:
        self.container = container
        self.stream = container.streams.video[0]
        self.stream.thread_type = "AUTO"
        start = self.stream.start_time
        self.origin = float(start * _time_base(self.stream)) if start else 0.0
        self.frames: Iterator[tuple[float, av.VideoFrame]] | None = None
        self.current: tuple[float, av.VideoFrame] | None = None  # last frame at or before target
        self.ahead: tuple[float, av.VideoFrame] | None = None  # first frame after it
        self.last: tuple[float, av.VideoFrame] | None = None  # the frame returned last

    def at(self, target: float) -> tuple[float, Image.Image]:
        """The frame on screen at `target` seconds (targets must not decrease), as RGB."""
        known = self.ahead or self.current
        if self.frames is None or (known is not None and target - known[0] > SEEK_GAP_S):
            self._seek(target)
        assert self.frames is not None  # set by _seek
        while self.ahead is not None and self.ahead[0] <= target:
            self.current, self.ahead = self.ahead, next(self.frames, None)
        found = self.current or self.ahead or self.last
        if found is None:
            raise LoadError("the video stream has no decodable frames")
        self.last = found  # kept in case a seek past the last frame finds nothing
        return found[0], found[1].to_image()

    def _seek(self, target: float) -> None:
        if self.frames is not None or target > SEEK_GAP_S:
            offset = int((target + self.origin) / _time_base(self.stream))
            self.container.seek(max(offset, 0), stream=self.stream, backward=True)
        self.frames = self._decode()
        self.current, self.ahead = None, next(self.frames, None)

    def _decode(self) -> Iterator[tuple[float, av.VideoFrame]]:
        for frame in self.container.decode(self.stream):
            if frame.pts is not None:
                yield round(float(frame.pts * _time_base(frame)) - self.origin, 3), frame


def _time_base(timed: av.VideoStream | av.VideoFrame) -> Fraction:
    """The time base of a demuxed stream or a decoded frame, which FFmpeg always sets; PyAV
    types it optional (a stream or frame made by hand may have none)."""
    assert timed.time_base is not None, "a demuxed stream or decoded frame without a time base"
    return timed.time_base


def transcribe(path: Path, ctx: LoadContext) -> Transcript | None:
    """The file's speech with word times, or None (with a note) when ASR is off or fails."""
    name = ctx.settings.asr_model
    if not name:
        _no_transcript(ctx, "speech-to-text is off (ingest.asr_model is not set)")
        return None
    model = whisper_model(name)
    if isinstance(model, str):
        _no_transcript(ctx, model)
        return None
    try:
        segments, _info = model.transcribe(
            str(path), word_timestamps=True, vad_filter=True, condition_on_previous_text=False
        )
        segments = list(segments)
    except (av.FFmpegError, RuntimeError, ValueError, OSError, IndexError) as exc:
        log.warning("transcription of %s failed: %s", path, exc)
        ctx.notes.append(f"no transcript: the audio could not be transcribed ({exc})")
        return None
    words = [(w.start, w.end, w.word) for s in segments for w in (s.words or [])]
    return Transcript(" ".join(s.text.strip() for s in segments).strip(), words)


@cache
def whisper_model(name: str) -> WhisperModel | str:
    """The faster-whisper model for `name`, loaded once per process (CPU, int8), or why not."""
    try:
        from faster_whisper import WhisperModel

        return WhisperModel(str(resolve_model(name)), device="cpu", compute_type="int8")
    except (ModelUnavailable, ImportError, RuntimeError, OSError, ValueError) as exc:
        return f"speech-to-text model {name!r} unavailable: {exc}"


def _no_transcript(ctx: LoadContext, reason: str) -> None:
    if reason not in _warned:
        _warned.add(reason)
        log.warning("videos get no transcript: %s", reason)
    ctx.notes.append(f"no transcript: {reason}")


def assign_words(clips: list[Clip], transcript: Transcript) -> None:
    """Gives each word to the clip that holds its midpoint (words past the end: last clip)."""
    starts = [clip.start for clip in clips]
    for start, end, word in transcript.words:
        index = max(0, bisect.bisect_right(starts, (start + end) / 2) - 1)
        clips[index].words.append(word)


def descriptor_text(title: str, spoken: str, screen: str) -> str:
    """The text the text encoder embeds for a clip or video."""
    parts = [title, f"Spoken: {spoken}" if spoken else "", f"On screen: {screen}" if screen else ""]
    return " ".join(p if p[-1] in ".!?" else p + "." for p in parts if p)


def _clip_item(path: Path, index: int, clip: Clip, ctx: LoadContext) -> Item:
    title = title_from(path)
    return Item(
        id=ctx.item_id(path, "clip", index),
        source=str(path),
        modality="video",
        granularity="clip",
        text=descriptor_text(title, clip.spoken, clip.screen),
        span=Span(start_s=round(clip.start, 3), end_s=round(clip.end, 3)),
        title=title,
        parent_id=ctx.item_id(path, "video", 0),
        frames=list(clip.frames),
        metadata={
            "duration": round(clip.end - clip.start, 3),
            "transcript": clip.spoken,
            "ocr": clip.screen,
        },
    )


def _video_item(
    path: Path, clips: list[Clip], duration: float, transcript: Transcript | None,
    has_audio: bool, ctx: LoadContext,
) -> Item:
    title = title_from(path)
    screen = "; ".join(dict.fromkeys(c.screen for c in clips if c.screen))
    spoken = transcript.text if transcript else ""
    return Item(
        id=ctx.item_id(path, "video", 0),
        source=str(path),
        modality="video",
        granularity="video",
        text=descriptor_text(title, spoken, screen),
        span=Span(start_s=0.0, end_s=round(duration, 3)),
        title=title,
        frames=spread([f for c in clips for f in c.frames], VIDEO_FRAMES),
        metadata={"duration": round(duration, 3), "clips": len(clips), "has_audio": has_audio},
    )


def spread(frames: list[Path], most: int) -> list[Path]:
    """Up to `most` distinct frames, evenly spread over the list."""
    unique = list(dict.fromkeys(frames))
    if len(unique) <= most:
        return unique
    return [unique[round(k * (len(unique) - 1) / (most - 1))] for k in range(most)]
