"""Decode any common audio format into loudness-normalised mono windows at a fixed rate.

Pure functions over arrays, except `decode`, which reads a file. Every file that cannot serve as a
recording raises a subclass of `AudioError` whose `kind` says why, so that callers can skip it,
count it and name it instead of stopping.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from classicfy.errors import (
    CorruptAudioError,
    EmptyAudioError,
    NotAudioError,
    SilentAudioError,
    TooShortAudioError,
)

AUDIO_EXTENSIONS = frozenset(
    [
        ".wav",
        ".wave",
        ".flac",
        ".ogg",
        ".oga",
        ".opus",
        ".mp3",
        ".m4a",
        ".aac",
        ".mp4",
        ".aif",
        ".aiff",
        ".aifc",
        ".caf",
        ".w64",
        ".wma",
        ".webm",
        ".mka",
    ]
)
_BLOCK_FRAMES = 1 << 18


@dataclass(frozen=True)
class AudioConfig:
    """How a file becomes windows; part of every feature cache key."""

    sample_rate: int = 22050
    window_s: float = 10.0
    hop_s: float = 10.0
    loudness_dbfs: float = -20.0  # RMS level of the non-silent windows after normalisation
    silence_dbfs: float = -60.0  # a window whose RMS is below this is silence and is dropped
    min_duration_s: float = 1.0

    def __post_init__(self) -> None:
        if self.sample_rate <= 0:
            raise ValueError(f"sample_rate must be positive, got {self.sample_rate}")
        if self.window_s < self.min_duration_s:
            raise ValueError(f"window_s must be at least {self.min_duration_s} s, got {self.window_s}")
        if self.hop_s <= 0:
            raise ValueError(f"hop_s must be positive, got {self.hop_s}")

    @property
    def window_samples(self) -> int:
        return round(self.window_s * self.sample_rate)

    @property
    def hop_samples(self) -> int:
        return round(self.hop_s * self.sample_rate)


@dataclass(frozen=True)
class RecordingAudio:
    """A decoded recording cut into windows: `windows` is (n_windows, window_samples) float32."""

    windows: np.ndarray
    starts_s: np.ndarray  # start time of each window in the recording, seconds
    duration_s: float
    silent_windows: int


def audio_files(paths: list[Path]) -> Iterator[Path]:
    """Files as given; folders replaced by the audio files under them, sorted."""
    for path in paths:
        if path.is_dir():
            yield from sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in AUDIO_EXTENSIONS)
        else:
            yield path


def decode(path: str | Path) -> tuple[np.ndarray, int]:
    """Read a file as mono float32 samples at its own rate.

    libsndfile (through soundfile) reads WAV, FLAC, OGG/Vorbis/Opus and MP3; whatever it rejects
    is handed to FFmpeg (through PyAV), which reads M4A/AAC and most other containers.
    """
    path = Path(path)
    if path.stat().st_size == 0:
        raise EmptyAudioError(str(path), "0 bytes")
    try:
        samples, rate = _decode_soundfile(path)
    except (RuntimeError, TypeError, ValueError) as sndfile_error:
        # LibsndfileError is a RuntimeError; headerless formats (.raw) raise TypeError or ValueError.
        try:
            samples, rate = _decode_pyav(path)
        except NotAudioError:
            raise
        except Exception as ffmpeg_error:
            error = CorruptAudioError if path.suffix.lower() in AUDIO_EXTENSIONS else NotAudioError
            detail = getattr(sndfile_error, "error_string", "") if error is CorruptAudioError else ""
            raise error(str(path), detail or type(ffmpeg_error).__name__) from ffmpeg_error
    if samples.size == 0:
        raise EmptyAudioError(str(path), "no audio frames")
    if not np.all(np.isfinite(samples)):
        raise CorruptAudioError(str(path), "non-finite samples")
    return samples, rate


def _decode_soundfile(path: Path) -> tuple[np.ndarray, int]:
    import soundfile

    with soundfile.SoundFile(path) as sound:
        rate = sound.samplerate
        if sound.channels == 1:
            return sound.read(dtype="float32"), rate
        # Downmix block by block so a long multichannel file never exists twice in memory.
        blocks = [
            block.mean(axis=1, dtype=np.float32)
            for block in sound.blocks(blocksize=_BLOCK_FRAMES, dtype="float32", always_2d=True)
        ]
    return (np.concatenate(blocks) if blocks else np.zeros(0, np.float32)), rate


def _decode_pyav(path: Path) -> tuple[np.ndarray, int]:
    import av

    with av.open(str(path)) as container:
        stream = next((s for s in container.streams if s.type == "audio"), None)
        if stream is None:
            raise NotAudioError(str(path), "no audio stream")
        resampler = av.AudioResampler(format="fltp", layout="mono", rate=stream.rate)
        chunks = []
        for frame in container.decode(stream):
            for converted in resampler.resample(frame):
                chunks.append(converted.to_ndarray()[0])
        for converted in resampler.resample(None):
            chunks.append(converted.to_ndarray()[0])
        rate = stream.rate
    samples = np.concatenate(chunks) if chunks else np.zeros(0, np.float32)
    return samples.astype(np.float32, copy=False), int(rate)


def resample(samples: np.ndarray, rate: int, target_rate: int) -> np.ndarray:
    """Resample with soxr's high-quality filter (the same one librosa uses by default)."""
    if rate == target_rate:
        return samples
    import soxr

    return soxr.resample(samples, rate, target_rate, quality="HQ").astype(np.float32, copy=False)


def window_starts(n_samples: int, window: int, hop: int) -> np.ndarray:
    """Start sample of every full window; a recording shorter than one window gets one at 0."""
    if n_samples <= window:
        return np.zeros(1, dtype=np.int64)
    return np.arange(0, n_samples - window + 1, hop, dtype=np.int64)


def rms_dbfs(frames: np.ndarray) -> np.ndarray:
    """RMS level of each row in dB relative to full scale (a full-scale sine is -3 dBFS)."""
    frames = np.atleast_2d(frames)
    power = np.einsum("ij,ij->i", frames, frames, dtype=np.float64) / frames.shape[-1]
    return 10.0 * np.log10(np.maximum(power, 1e-20))


def cut_windows(samples: np.ndarray, config: AudioConfig) -> tuple[np.ndarray, np.ndarray]:
    """Fixed-length windows as a (n_windows, window_samples) array and their start samples.

    The last partial window is dropped, unless the recording is shorter than one window: then it
    is zero-padded to one window.
    """
    window, hop = config.window_samples, config.hop_samples
    starts = window_starts(len(samples), window, hop)
    if len(samples) < window:
        padded = np.zeros(window, dtype=np.float32)
        padded[: len(samples)] = samples
        return padded[None, :], starts
    view = np.lib.stride_tricks.sliding_window_view(samples, window)[starts]
    return np.ascontiguousarray(view, dtype=np.float32), starts


def load_recording(path: str | Path, config: AudioConfig) -> RecordingAudio:
    """Decode, downmix, resample, drop silent windows and normalise the loudness of a file."""
    samples, rate = decode(path)
    duration_s = len(samples) / rate
    if duration_s < config.min_duration_s:
        raise TooShortAudioError(str(path), f"{duration_s:.2f} s < {config.min_duration_s:g} s")
    samples = resample(samples, rate, config.sample_rate)
    return window_recording(samples, config, str(path), duration_s)


def window_recording(
    samples: np.ndarray, config: AudioConfig, name: str = "<array>", duration_s: float | None = None
) -> RecordingAudio:
    """Cut samples at `config.sample_rate` into non-silent, loudness-normalised windows."""
    windows, starts = cut_windows(samples, config)
    # Level of what is really there: a padded window is judged by its unpadded samples.
    levels = rms_dbfs(samples) if len(samples) < config.window_samples else rms_dbfs(windows)
    keep = levels >= config.silence_dbfs
    if not keep.any():
        raise SilentAudioError(name, f"every window below {config.silence_dbfs:g} dBFS")
    windows = windows[keep]
    loudness = 10.0 * math.log10(float(np.mean(10.0 ** (levels[keep] / 10.0))))
    windows *= np.float32(10.0 ** ((config.loudness_dbfs - loudness) / 20.0))
    return RecordingAudio(
        windows=windows,
        starts_s=starts[keep] / config.sample_rate,
        duration_s=duration_s if duration_s is not None else len(samples) / config.sample_rate,
        silent_windows=int((~keep).sum()),
    )
