"""Decode any common audio format into loudness-normalised mono windows at a fixed rate.

Pure functions over arrays, except `decode`, which reads a file. Every file that cannot serve as a
recording raises a subclass of `AudioError` whose `kind` says why, so that callers can skip it,
count it and name it instead of stopping.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from classicfy.config import AudioConfig
from classicfy.data.walk import files_under
from classicfy.errors import (
    AudioError,
    CorruptAudioError,
    EmptyAudioError,
    MissingAudioError,
    NotAudioError,
    SilentAudioError,
    TooShortAudioError,
    UnreadableAudioError,
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
class RecordingAudio:
    """A decoded recording cut into windows: `windows` is (n_windows, window_samples) float32."""

    windows: np.ndarray
    starts_s: np.ndarray  # start time of each window in the recording, seconds
    duration_s: float
    silent_windows: int


def audio_files(paths: list[Path]) -> Iterator[Path]:
    """Files as given; folders replaced by the audio files under them, sorted."""
    for path in paths:
        if path.is_dir():  # links followed, as in a dataset folder
            yield from (p for p in files_under(path) if p.suffix.lower() in AUDIO_EXTENSIONS)
        else:
            yield path


WAV_SAMPLE_BYTES = {"PCM_U8": 1, "PCM_16": 2, "PCM_24": 3, "PCM_32": 4, "FLOAT": 4, "DOUBLE": 8}
TRUNCATION_TOLERANCE = 0.01  # the share of its declared length a file may come up short by


def decode_blocks(path: str | Path) -> tuple[int, Iterator[np.ndarray]]:
    """Open a file: its sample rate and its mono float32 samples as a stream of blocks.

    libsndfile (through soundfile) reads WAV, FLAC, OGG/Vorbis/Opus and MP3; whatever it rejects
    is handed to FFmpeg (through PyAV), which reads M4A/AAC and most other containers. Only one
    block is in memory at a time, so a recording of any length can be read.
    """
    path = Path(path)
    if not path.is_file():
        raise MissingAudioError(str(path))
    if path.stat().st_size == 0:
        raise EmptyAudioError(str(path), "0 bytes")
    try:
        rate, blocks = _soundfile_blocks(path)
        first = next(blocks, None)  # libsndfile may accept a header and then fail on the data
    except (RuntimeError, TypeError, ValueError) as sndfile_error:
        # LibsndfileError is a RuntimeError; headerless formats (.raw) raise TypeError or ValueError.
        try:
            rate, blocks = _pyav_blocks(path)
            first = next(blocks, None)
        except NotAudioError:
            raise
        except Exception as ffmpeg_error:
            if refusal := _refused_by_the_system(path):  # the permissions, the disk or the machine, not the bytes
                raise UnreadableAudioError(str(path), refusal) from ffmpeg_error
            error = CorruptAudioError if path.suffix.lower() in AUDIO_EXTENSIONS else NotAudioError
            detail = getattr(sndfile_error, "error_string", "") if error is CorruptAudioError else ""
            raise error(str(path), detail or type(ffmpeg_error).__name__) from ffmpeg_error
    return rate, _checked_blocks(path, first, blocks)


def _refused_by_the_system(path: Path) -> str | None:
    """Why the operating system will not read the file now (permission, I/O error, no file handles
    left), or None when it reads: only then is a decoder's failure the bytes' own."""
    try:
        with open(path, "rb") as handle:
            handle.read(1)
    except OSError as error:
        return error.strerror or type(error).__name__
    return None


def _checked_blocks(path: Path, first: np.ndarray | None, blocks: Iterator[np.ndarray]) -> Iterator[np.ndarray]:
    """The blocks, raising `AudioError` for a file with no frames or with damage found mid-stream."""
    if first is None:
        raise EmptyAudioError(str(path), "no audio frames")
    block: np.ndarray | None = first
    while block is not None:
        if not np.all(np.isfinite(block)):
            raise CorruptAudioError(str(path), "non-finite samples")
        yield block
        try:
            block = next(blocks, None)
        except AudioError:
            raise
        except (OSError, MemoryError) as error:  # the disk or the machine, not the bytes
            raise UnreadableAudioError(str(path), f"{type(error).__name__} part-way through") from error
        except Exception as error:  # a decoder failing part-way through the file
            raise CorruptAudioError(str(path), f"unreadable after {type(error).__name__}") from error


def decode(path: str | Path) -> tuple[np.ndarray, int]:
    """Read a whole file as mono float32 samples at its own rate."""
    rate, blocks = decode_blocks(path)
    return np.concatenate(list(blocks)), rate


def _soundfile_blocks(path: Path) -> tuple[int, Iterator[np.ndarray]]:
    import soundfile

    sound = soundfile.SoundFile(path)

    def blocks() -> Iterator[np.ndarray]:
        decoded = 0
        with sound:
            # Read until the decoder runs dry, not for as long as the header promises: past the end of
            # a truncated file, `SoundFile.blocks` hands out stale buffer contents as audio.
            while (block := sound.read(_BLOCK_FRAMES, dtype="float32", always_2d=True)).shape[0]:
                decoded += block.shape[0]
                if block.shape[1] == 1:
                    yield np.ascontiguousarray(block[:, 0])
                else:  # the mean of the channels as a matrix-vector product: faster than block.mean
                    yield block @ np.full(block.shape[1], 1.0 / block.shape[1], dtype=np.float32)
            declared = _wav_declared_frames(path, sound) or sound.frames
            _check_complete(path, decoded, declared, sound.samplerate)

    return sound.samplerate, blocks()


def _wav_declared_frames(path: Path, sound) -> int | None:
    """The frames a WAV file's `data` chunk declares: libsndfile reports what the file still holds, so
    a WAV cut short would pass for a shorter recording. None when not a WAV or the size is unknown."""
    if sound.format != "WAV" or sound.subtype not in WAV_SAMPLE_BYTES:
        return None
    with open(path, "rb") as handle:
        header = handle.read(1 << 16)
    at = 12  # after "RIFF", the size, "WAVE"
    while at + 8 <= len(header):
        chunk, size = header[at : at + 4], int.from_bytes(header[at + 4 : at + 8], "little")
        if chunk == b"data":
            if size in (0, 0xFFFFFFFF):  # written while streaming: no size was known
                return None
            return size // (WAV_SAMPLE_BYTES[sound.subtype] * sound.channels)
        at += 8 + size + (size & 1)
    return None


def _check_complete(path: Path, decoded: int, declared: int, rate: int) -> None:
    """A file that decodes to less than its header declares was cut short: corrupt, not a shorter piece.
    (MP3 headers estimate their length, so a few frames' difference is allowed.)"""
    if declared > 0 and decoded < declared * (1 - TRUNCATION_TOLERANCE) - rate * 0.1:
        raise CorruptAudioError(
            str(path), f"truncated: {decoded / rate:.1f} s of the {declared / rate:.1f} s it declares"
        )


def _pyav_blocks(path: Path) -> tuple[int, Iterator[np.ndarray]]:
    import av

    container = av.open(str(path))
    stream = next((s for s in container.streams if s.type == "audio"), None)
    if stream is None:
        container.close()
        raise NotAudioError(str(path), "no audio stream")
    rate = int(stream.rate)  # type: ignore[attr-defined]  # an audio stream has a rate

    def blocks() -> Iterator[np.ndarray]:
        # FFmpeg frames hold about a thousand samples: they are gathered into blocks of
        # _BLOCK_FRAMES so that windowing works on a few large arrays, not many small ones.
        resampler = av.AudioResampler(format="fltp", layout="mono", rate=rate)
        pending: list[np.ndarray] = []
        size = decoded = 0
        with container:
            for frame in itertools.chain(container.decode(stream), [None]):
                for converted in resampler.resample(frame):  # type: ignore[arg-type]  # audio frames only
                    pending.append(converted.to_ndarray()[0].astype(np.float32, copy=False))
                    size += len(pending[-1])
                if size >= _BLOCK_FRAMES or (frame is None and pending):
                    decoded += size
                    yield np.concatenate(pending)
                    pending, size = [], 0
            declared = stream.duration * stream.time_base * rate if stream.duration and stream.time_base else 0
            _check_complete(path, decoded, int(declared), rate)

    return rate, blocks()


def resample(samples: np.ndarray, rate: int, target_rate: int) -> np.ndarray:
    """Resample with soxr's high-quality filter (the same one librosa uses by default)."""
    if rate == target_rate:
        return samples
    import soxr

    return soxr.resample(samples, rate, target_rate, quality="HQ").astype(np.float32, copy=False)


def rms_dbfs(frames: np.ndarray) -> np.ndarray:
    """RMS level of each row in dB relative to full scale (a full-scale sine is -3 dBFS)."""
    frames = np.atleast_2d(frames)
    power = np.einsum("ij,ij->i", frames, frames, dtype=np.float64) / frames.shape[-1]
    return 10.0 * np.log10(np.maximum(power, 1e-20))


@dataclass(frozen=True)
class WindowChunk:
    """Consecutive windows of a recording, before silence is dropped and loudness normalised."""

    windows: np.ndarray  # (n, window_samples) float32
    starts_s: np.ndarray
    levels_dbfs: np.ndarray  # RMS level of each window (of its real samples, for a padded one)

    def __len__(self) -> int:
        return len(self.windows)


class WindowCutter:
    """Cuts a stream of blocks (at the file's rate) into the fixed windows of `config`.

    Samples are resampled on the fly with soxr's streaming resampler, which gives the same output
    as resampling the whole recording at once. A window starts every hop; the last partial window
    is dropped, unless the recording is shorter than one window: then it is zero-padded to one.
    """

    def __init__(self, rate: int, config: AudioConfig) -> None:
        import soxr

        self.config = config
        self._resampler = (
            None
            if rate == config.sample_rate
            else soxr.ResampleStream(rate, config.sample_rate, 1, dtype="float32", quality="HQ")
        )
        self._buffer = np.zeros(0, dtype=np.float32)
        self._buffer_start = 0  # sample index (at the target rate) of _buffer[0]
        self._next_start = 0
        self._cut_any = False

    def push(self, block: np.ndarray, last: bool = False) -> WindowChunk:
        """The windows completed by `block`; with `last`, also the padded window of a short recording."""
        if self._resampler is not None:
            block = self._resampler.resample_chunk(block, last=last)
        buffer = np.concatenate([self._buffer, block]) if len(self._buffer) else np.asarray(block, np.float32)
        window, hop, rate = self.config.window_samples, self.config.hop_samples, self.config.sample_rate
        end = self._buffer_start + len(buffer)
        starts = np.arange(self._next_start, end - window + 1, hop, dtype=np.int64)
        if len(starts):
            view = np.lib.stride_tricks.sliding_window_view(buffer, window)[starts - self._buffer_start]
            windows = np.ascontiguousarray(view, dtype=np.float32)
            levels = rms_dbfs(windows)
            self._next_start = int(starts[-1]) + hop
            self._cut_any = True
        elif last and not self._cut_any and len(buffer):
            windows = np.zeros((1, window), dtype=np.float32)
            windows[0, : len(buffer)] = buffer
            levels = rms_dbfs(buffer)
            starts = np.zeros(1, dtype=np.int64)
        else:
            windows, levels = np.zeros((0, window), dtype=np.float32), np.zeros(0)
        keep_from = min(self._next_start, end)  # samples before the next window start are done with
        self._buffer = buffer[keep_from - self._buffer_start :].copy()
        self._buffer_start = keep_from
        return WindowChunk(windows, starts / rate, levels)


class RecordingStream:
    """A file decoded once, block by block, and cut into the windows of one or more configs.

    Iterating yields `(config index, WindowChunk)`; memory stays bounded by a block and a window
    per config, whatever the recording's length. `duration_s` is known once iteration ends.
    """

    def __init__(self, path: str | Path, configs: list[AudioConfig]) -> None:
        self.path = Path(path)
        self.configs = configs
        self.duration_s: float | None = None

    def __iter__(self) -> Iterator[tuple[int, WindowChunk]]:
        rate, blocks = decode_blocks(self.path)
        cutters = [WindowCutter(rate, config) for config in self.configs]
        n_samples = 0
        for block in blocks:
            n_samples += len(block)
            for index, cutter in enumerate(cutters):
                chunk = cutter.push(block)
                if len(chunk):
                    yield index, chunk
        duration_s = n_samples / rate
        min_duration_s = max(config.min_duration_s for config in self.configs)
        if duration_s < min_duration_s:  # a too-short file never filled a window, so nothing was yielded
            raise TooShortAudioError(str(self.path), f"{duration_s:.2f} s < {min_duration_s:g} s")
        for index, cutter in enumerate(cutters):
            chunk = cutter.push(np.zeros(0, dtype=np.float32), last=True)
            if len(chunk):
                yield index, chunk
        self.duration_s = duration_s


def join_chunks(chunks: list[WindowChunk], window_samples: int) -> WindowChunk:
    if not chunks:
        return WindowChunk(np.zeros((0, window_samples), dtype=np.float32), np.zeros(0), np.zeros(0))
    return WindowChunk(*(np.concatenate([getattr(c, name) for c in chunks]) for name in WindowChunk.__annotations__))


def loudness_gain(levels_dbfs: np.ndarray, config: AudioConfig, name: str) -> tuple[np.ndarray, np.float32]:
    """Which windows are not silent, and the gain bringing their mean power to `config.loudness_dbfs`."""
    keep = levels_dbfs >= config.silence_dbfs
    if not keep.any():
        raise SilentAudioError(name, f"every window below {config.silence_dbfs:g} dBFS")
    loudness = 10.0 * math.log10(float(np.mean(10.0 ** (levels_dbfs[keep] / 10.0))))
    return keep, np.float32(10.0 ** ((config.loudness_dbfs - loudness) / 20.0))


def normalised(chunk: WindowChunk, config: AudioConfig, name: str, duration_s: float) -> RecordingAudio:
    """The recording's non-silent windows at the configured loudness."""
    keep, gain = loudness_gain(chunk.levels_dbfs, config, name)
    windows = chunk.windows[keep]
    windows *= gain
    return RecordingAudio(windows, chunk.starts_s[keep], duration_s, int((~keep).sum()))


def load_recording(path: str | Path, config: AudioConfig) -> RecordingAudio:
    """Decode, downmix, resample, drop silent windows and normalise the loudness of a file."""
    stream = RecordingStream(path, [config])
    chunk = join_chunks([chunk for _, chunk in stream], config.window_samples)
    assert stream.duration_s is not None, "known once the stream is read to its end"
    return normalised(chunk, config, str(path), stream.duration_s)


def window_recording(
    samples: np.ndarray, config: AudioConfig, name: str = "<array>", duration_s: float | None = None
) -> RecordingAudio:
    """Cut samples at `config.sample_rate` into non-silent, loudness-normalised windows."""
    chunk = WindowCutter(config.sample_rate, config).push(np.asarray(samples, dtype=np.float32), last=True)
    if duration_s is None:
        duration_s = len(samples) / config.sample_rate
    return normalised(chunk, config, name, duration_s)
