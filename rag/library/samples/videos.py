"""Generated sample videos: coloured scenes with a large caption and an espeak-ng narration.

The scripts (captions, narrations, scene lengths, colours) live in `video_scripts.json`.
Everything is drawn and spoken locally, so the videos are license-clean and deterministic.
Without espeak-ng the videos are silent (no audio stream).
"""

from __future__ import annotations

import json
import logging
import shutil
import subprocess
import tempfile
import wave
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Literal

import av
import numpy as np
from av.container import OutputContainer
from PIL import Image, ImageDraw, ImageFont

log = logging.getLogger(__name__)

SCRIPTS = Path(__file__).with_name("video_scripts.json")
FONT = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf")
AUDIO_RATE = 22050
AUDIO_FRAME = 1024  # samples per AAC frame
Font = ImageFont.FreeTypeFont | ImageFont.ImageFont


@dataclass(frozen=True)
class SampleScene:
    """One scene of a sample video and where it sits in the video, in seconds."""

    caption: str
    narration: str
    start_s: float
    end_s: float
    colors: tuple[tuple[int, int, int], tuple[int, int, int]]


@dataclass(frozen=True)
class SampleVideo:
    file: str
    scenes: tuple[SampleScene, ...]
    fps: int
    size: tuple[int, int]
    voice: str
    lead_in_s: float

    @property
    def duration(self) -> float:
        return self.scenes[-1].end_s


def sample_videos(scripts: Path = SCRIPTS) -> list[SampleVideo]:
    """The scripted videos with their scene timings (read from video_scripts.json, or
    another file of the same layout)."""
    data = json.loads(scripts.read_text(encoding="utf-8"))
    return [_sample(video, data) for video in data["videos"]]


def _sample(video: dict, data: dict) -> SampleVideo:
    scenes, start = [], 0.0
    for scene in video["scenes"]:
        end = round(start + float(scene["seconds"]), 3)
        top, bottom = (tuple(c) for c in scene["colors"])
        scenes.append(SampleScene(scene["caption"], scene["narration"], start, end, (top, bottom)))
        start = end
    size = (int(data["size"][0]), int(data["size"][1]))
    return SampleVideo(
        video["file"], tuple(scenes), int(data["fps"]), size, data["voice"], data["lead_in_s"]
    )


def make_videos(dest: Path, narrate: bool = True, scripts: Path = SCRIPTS) -> list[Path]:
    """Write the scripted videos into `dest` and return their paths.

    `narrate=False` (or a missing espeak-ng) gives silent videos without an audio stream.
    """
    dest.mkdir(parents=True, exist_ok=True)
    if narrate and not shutil.which("espeak-ng"):
        log.warning("espeak-ng not installed (apt-get install espeak-ng): sample videos are silent")
        narrate = False
    paths = []
    for video in sample_videos(scripts):
        audio = narration_track(video) if narrate else None
        path, partial = dest / video.file, dest / f".{video.file}.part"
        write_video(partial, video, audio)
        partial.replace(path)  # never leaves a half-written video behind
        paths.append(path)
    return paths


def narration_track(video: SampleVideo) -> np.ndarray:
    """Mono float32 audio at AUDIO_RATE: each scene's narration starts lead_in_s into it."""
    track = np.zeros(round(video.duration * AUDIO_RATE), dtype=np.float32)
    for scene in video.scenes:
        speech = speak(scene.narration, video.voice)
        start = round((scene.start_s + video.lead_in_s) * AUDIO_RATE)
        room = round(scene.end_s * AUDIO_RATE) - start
        if len(speech) > room:
            log.warning("narration of %r is longer than its scene; cut short", scene.caption)
        track[start : start + min(room, len(speech))] = speech[:room]
    return track


def speak(text: str, voice: str = "en-us") -> np.ndarray:
    """`text` spoken by espeak-ng at its normal speed, as float32 samples at AUDIO_RATE."""
    with tempfile.TemporaryDirectory() as tmp:
        wav_path = Path(tmp) / "speech.wav"
        subprocess.run(["espeak-ng", "-v", voice, "-w", str(wav_path), text], check=True)
        with wave.open(str(wav_path)) as wav:
            rate, raw = wav.getframerate(), wav.readframes(wav.getnframes())
    samples = np.frombuffer(raw, dtype="<i2").astype(np.float32) / 32768.0
    if rate != AUDIO_RATE:
        positions = np.arange(round(len(samples) * AUDIO_RATE / rate)) * rate / AUDIO_RATE
        samples = np.interp(positions, np.arange(len(samples)), samples).astype(np.float32)
    return samples


def write_video(path: Path, video: SampleVideo, audio: np.ndarray | None) -> None:
    """Encode the scenes (H.264, or MPEG-4 part 2 without libx264) and the audio into `path`."""
    codec: Literal["libx264", "mpeg4"] = "libx264" if "libx264" in av.codecs_available else "mpeg4"
    with av.open(str(path), mode="w", format="mp4") as container:
        stream = container.add_stream(codec, rate=video.fps)
        stream.width, stream.height = video.size
        stream.pix_fmt = "yuv420p"
        stream.codec_context.thread_count = 1  # deterministic output
        if codec == "libx264":
            stream.codec_context.options = {"preset": "veryfast", "crf": "23", "x264-params": "log-level=warning"}
        sound = None
        if audio is not None:
            sound = container.add_stream("aac", rate=AUDIO_RATE, layout="mono")
        _write_frames(container, stream, video)
        if sound is not None and audio is not None:
            _write_audio(container, sound, audio)


def _write_frames(container: OutputContainer, stream: av.VideoStream, video: SampleVideo) -> None:
    for scene in video.scenes:
        planes = to_yuv420p(draw_scene(scene, video.size))
        first, last = round(scene.start_s * video.fps), round(scene.end_s * video.fps)
        for index in range(first, last):
            frame = av.VideoFrame.from_ndarray(planes, format="yuv420p")
            frame.pts, frame.time_base = index, Fraction(1, video.fps)
            container.mux(stream.encode(frame))
    container.mux(stream.encode(None))


def to_yuv420p(image: Image.Image) -> np.ndarray:
    """BT.601 limited-range I420 planes stacked as one (h * 3/2, w) array.

    Converting here rather than in libswscale keeps the output bit-exact across runs.
    """
    rgb = np.asarray(image.convert("RGB"), dtype=np.int32)
    r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    y = (16 * 256 + 128 + 66 * r + 129 * g + 25 * b) >> 8
    blocks = rgb.reshape(rgb.shape[0] // 2, 2, rgb.shape[1] // 2, 2, 3).sum(axis=(1, 3))
    r, g, b = blocks[..., 0], blocks[..., 1], blocks[..., 2]  # sums of 2x2 blocks
    u = (128 * 1024 + 512 - 38 * r - 74 * g + 112 * b) >> 10
    v = (128 * 1024 + 512 + 112 * r - 94 * g - 18 * b) >> 10
    height, width = y.shape
    chroma = np.concatenate([u.reshape(-1), v.reshape(-1)]).reshape(height // 2, width)
    return np.concatenate([y, chroma]).clip(0, 255).astype(np.uint8)


def _write_audio(container: OutputContainer, stream: av.AudioStream, audio: np.ndarray) -> None:
    for start in range(0, len(audio), AUDIO_FRAME):
        chunk = np.zeros(AUDIO_FRAME, dtype=np.float32)
        piece = audio[start : start + AUDIO_FRAME]
        chunk[: len(piece)] = piece
        frame = av.AudioFrame.from_ndarray(chunk[None, :], format="fltp", layout="mono")
        frame.sample_rate, frame.pts, frame.time_base = AUDIO_RATE, start, Fraction(1, AUDIO_RATE)
        container.mux(stream.encode(frame))
    container.mux(stream.encode(None))


def draw_scene(scene: SampleScene, size: tuple[int, int]) -> Image.Image:
    """A vertical colour gradient with the scene's caption large and centred."""
    width, height = size
    top, bottom = (np.array(c, dtype=np.float32) for c in scene.colors)
    ramp = np.linspace(0.0, 1.0, height, dtype=np.float32)[:, None, None]
    pixels = (top * (1 - ramp) + bottom * ramp).repeat(width, axis=1)
    image = Image.fromarray(pixels.round().astype(np.uint8), "RGB")
    draw = ImageDraw.Draw(image)
    font = _font(max(16, height // 8))
    lines = _wrap(scene.caption, font, draw, width - 24)
    text = "\n".join(lines)
    box = draw.multiline_textbbox((0, 0), text, font=font, align="center", spacing=6)
    x = (width - (box[2] - box[0])) / 2 - box[0]
    y = (height - (box[3] - box[1])) / 2 - box[1]
    draw.multiline_text((x, y), text, font=font, fill="white", align="center", spacing=6)
    return image


def _wrap(text: str, font: Font, draw: ImageDraw.ImageDraw, width: int) -> list[str]:
    """Greedy word wrap of `text` to lines at most `width` pixels wide."""
    lines: list[str] = []
    for word in text.split():
        candidate = f"{lines[-1]} {word}" if lines else word
        if lines and draw.textlength(candidate, font=font) <= width:
            lines[-1] = candidate
        else:
            lines.append(word)
    return lines


def _font(size: int) -> Font:
    if FONT.is_file():
        return ImageFont.truetype(str(FONT), size)
    return ImageFont.load_default(size=size)
