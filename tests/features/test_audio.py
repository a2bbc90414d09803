from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import pytest

from classicfy.config import AudioConfig
from classicfy.errors import (
    CorruptAudioError,
    EmptyAudioError,
    NotAudioError,
    SilentAudioError,
    TooShortAudioError,
)
from classicfy.features import audio as audio_module
from classicfy.features.audio import (
    RecordingStream,
    WindowCutter,
    decode,
    decode_blocks,
    join_chunks,
    load_recording,
    normalised,
    resample,
    window_recording,
)
from helpers import SR, sine, write

CONFIG = AudioConfig(sample_rate=SR, window_s=2.0, hop_s=2.0)


def dominant_frequency(samples: np.ndarray, sr: int) -> float:
    spectrum = np.abs(np.fft.rfft(samples))
    return float(np.argmax(spectrum) * sr / len(samples))


def write_m4a(path: Path, samples: np.ndarray, sr: int) -> Path:
    with av.open(str(path), "w") as container:
        stream = container.add_stream("aac", rate=sr, layout="mono")
        frame = av.AudioFrame.from_ndarray(samples[None, :], format="fltp", layout="mono")
        frame.sample_rate = sr
        for packet in stream.encode(frame):
            container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    return path


def cut(samples: np.ndarray, config: AudioConfig):
    chunk = WindowCutter(SR, config).push(samples, last=True)
    return chunk.windows, np.round(chunk.starts_s * SR).astype(int)


@pytest.mark.parametrize(
    ("name", "sr", "options"),
    [
        ("a.wav", 44100, {}),
        ("a.flac", 22050, {}),
        ("a.ogg", 44100, {"format": "OGG", "subtype": "VORBIS"}),
        ("a.opus", 48000, {"format": "OGG", "subtype": "OPUS"}),
        ("a.mp3", 44100, {"format": "MP3", "subtype": "MPEG_LAYER_III"}),
    ],
)
def test_every_common_format_decodes_to_the_same_tone(tmp_path, name, sr, options):
    path = write(tmp_path / name, sine(3.0, 440.0, sr), sr, **options)
    audio = load_recording(path, CONFIG)
    assert audio.windows.shape == (1, 2 * SR)
    assert abs(audio.duration_s - 3.0) < 0.1
    assert abs(dominant_frequency(audio.windows[0], SR) - 440.0) < 2.0


def test_m4a_is_decoded_through_ffmpeg(tmp_path):
    path = write_m4a(tmp_path / "a.m4a", sine(3.0, 440.0, 44100), 44100)
    samples, rate = decode(path)
    assert rate == 44100
    assert abs(len(samples) / rate - 3.0) < 0.1
    assert abs(dominant_frequency(samples, rate) - 440.0) < 2.0


def test_stereo_is_downmixed_to_the_mean_of_its_channels(tmp_path):
    left = sine(2.0, 440.0)
    path = write(tmp_path / "s.wav", np.stack([left, np.zeros_like(left)], axis=1), subtype="FLOAT")
    samples, _ = decode(path)
    np.testing.assert_allclose(samples, left / 2, atol=1e-6)


def test_last_partial_window_is_dropped_and_overlap_follows_the_hop():
    samples = sine(25.0)
    windows, starts = cut(samples, AudioConfig(window_s=10.0, hop_s=10.0))
    assert windows.shape == (2, 10 * SR)
    np.testing.assert_array_equal(starts, [0, 10 * SR])
    np.testing.assert_array_equal(windows[1], samples[10 * SR : 20 * SR])
    _, starts = cut(samples, AudioConfig(window_s=10.0, hop_s=5.0))
    np.testing.assert_array_equal(starts / SR, [0, 5, 10, 15])


def test_a_recording_shorter_than_one_window_is_zero_padded():
    samples = sine(4.0)
    windows, starts = cut(samples, AudioConfig(window_s=10.0))
    assert windows.shape == (1, 10 * SR)
    np.testing.assert_array_equal(windows[0, : len(samples)], samples)
    assert not windows[0, len(samples) :].any()
    assert starts.tolist() == [0]


@pytest.mark.parametrize("hop_s", [3.0, 10.0, 14.0])
@pytest.mark.parametrize("block", [997, 44100 * 7])
def test_windows_cut_block_by_block_equal_windows_cut_at_once(hop_s, block):
    """Streaming decoding must not change a single sample, whatever the block and hop sizes."""
    rng = np.random.default_rng(0)
    samples = rng.uniform(-0.5, 0.5, 44100 * 41).astype(np.float32)
    config = AudioConfig(sample_rate=SR, window_s=10.0, hop_s=hop_s)
    whole = WindowCutter(44100, config).push(samples, last=True)
    cutter = WindowCutter(44100, config)
    pieces = [cutter.push(samples[i : i + block]) for i in range(0, len(samples), block)]
    streamed = join_chunks([*pieces, cutter.push(np.zeros(0, np.float32), last=True)], config.window_samples)
    assert len(whole) == len(streamed) == len(np.arange(0, 41 - 10 + 1e-9, hop_s))
    np.testing.assert_array_equal(streamed.starts_s, whole.starts_s)
    np.testing.assert_allclose(streamed.windows, whole.windows, atol=1e-6)
    np.testing.assert_allclose(streamed.levels_dbfs, whole.levels_dbfs, atol=1e-4)


def test_a_file_is_decoded_in_bounded_blocks_and_one_pass_serves_several_rates(tmp_path, monkeypatch):
    monkeypatch.setattr(audio_module, "_BLOCK_FRAMES", 4096)
    path = write(tmp_path / "long.flac", sine(30.0, 440.0, sr=44100), sr=44100)
    rate, blocks = decode_blocks(path)
    assert rate == 44100 and max(len(b) for b in blocks) <= 4096
    configs = [AudioConfig(sample_rate=22050), AudioConfig(sample_rate=16000, window_s=5.0, hop_s=5.0)]
    stream = RecordingStream(path, configs)
    chunks = {0: [], 1: []}
    for index, chunk in stream:
        chunks[index].append(chunk)
    assert abs(stream.duration_s - 30.0) < 1e-6
    assert [len(join_chunks(c, 1)) for c in chunks.values()] == [3, 6]
    samples, rate = decode(path)
    for config, own in zip(configs, chunks.values(), strict=True):
        at_once = window_recording(resample(samples, rate, config.sample_rate), config)
        streamed = normalised(join_chunks(own, config.window_samples), config, "long", stream.duration_s)
        np.testing.assert_allclose(streamed.windows, at_once.windows, atol=1e-6)


def test_loudness_is_normalised_whatever_the_recording_level():
    quiet = window_recording(sine(4.0, amplitude=0.01), CONFIG)
    loud = window_recording(sine(4.0, amplitude=0.9), CONFIG)
    np.testing.assert_allclose(quiet.windows, loud.windows, atol=1e-4)
    rms_db = 10 * np.log10(np.mean(loud.windows.astype(np.float64) ** 2))
    assert abs(rms_db - CONFIG.loudness_dbfs) < 0.01


def test_silent_windows_are_dropped_and_counted():
    samples = np.concatenate([sine(2.0), np.zeros(2 * SR, np.float32), sine(2.0)])
    audio = window_recording(samples, CONFIG)
    assert len(audio.windows) == 2
    assert audio.silent_windows == 1
    np.testing.assert_array_equal(audio.starts_s, [0.0, 4.0])


def test_empty_file_is_rejected(tmp_path):
    path = tmp_path / "empty.flac"
    path.touch()
    with pytest.raises(EmptyAudioError):
        load_recording(path, CONFIG)


def test_header_without_frames_is_rejected_as_empty(tmp_path):
    path = write(tmp_path / "noframes.wav", np.zeros(0, np.float32))
    with pytest.raises(EmptyAudioError):
        load_recording(path, CONFIG)


def test_corrupt_audio_file_is_rejected(tmp_path):
    path = tmp_path / "broken.wav"
    path.write_bytes(b"RIFF\x00\x01garbage" + bytes(range(256)) * 4)
    with pytest.raises(CorruptAudioError) as caught:
        load_recording(path, CONFIG)
    assert caught.value.kind == "corrupt"
    assert str(path) in str(caught.value)


def test_non_audio_file_is_rejected(tmp_path):
    path = tmp_path / "notes.txt"
    path.write_text("liner notes, not music\n" * 50)
    with pytest.raises(NotAudioError):
        load_recording(path, CONFIG)


def test_too_short_recording_is_rejected(tmp_path):
    path = write(tmp_path / "blip.wav", sine(0.5))
    with pytest.raises(TooShortAudioError) as caught:
        load_recording(path, CONFIG)
    assert "0.50 s" in caught.value.reason


def test_silent_recording_is_rejected(tmp_path):
    path = write(tmp_path / "silence.flac", np.zeros(3 * SR, np.float32))
    with pytest.raises(SilentAudioError):
        load_recording(path, CONFIG)


def test_config_refuses_a_window_shorter_than_the_minimum_duration():
    with pytest.raises(ValueError, match="window_s"):
        AudioConfig(window_s=0.5)


def test_a_headerless_raw_file_is_rejected_not_raised(tmp_path):
    path = tmp_path / "take.raw"
    path.write_bytes(bytes(range(256)) * 100)
    with pytest.raises((CorruptAudioError, NotAudioError)):
        load_recording(path, CONFIG)


def test_damage_found_part_way_through_a_streamed_file_is_a_corrupt_audio_error(tmp_path, monkeypatch):
    monkeypatch.setattr(audio_module, "_BLOCK_FRAMES", 4096)
    path = write(tmp_path / "whole.flac", np.random.default_rng(0).uniform(-0.5, 0.5, SR * 5).astype(np.float32))
    data = path.read_bytes()
    middle = len(data) // 2
    damaged = tmp_path / "damaged.flac"
    damaged.write_bytes(data[:middle] + bytes(1000) + data[middle + 1000 :])
    _, blocks = decode_blocks(damaged)
    with pytest.raises(CorruptAudioError, match="unreadable after"):
        sum(len(block) for block in blocks)


@pytest.mark.parametrize("suffix", ["mp3", "flac", "m4a", "wav"])
def test_a_truncated_file_is_corrupt_not_a_shorter_or_padded_recording(tmp_path, suffix):
    """Issue 23, defect 9: a third of a 14 s MP3 decoded as 14 s (silence and made-up audio)."""
    if suffix == "m4a":
        whole = write_m4a(tmp_path / "whole.m4a", sine(14.0, 440.0, 44100), 44100)
    else:
        whole = write(tmp_path / f"whole.{suffix}", sine(14.0))
    data = whole.read_bytes()
    cut = tmp_path / f"cut.{suffix}"
    cut.write_bytes(data[: len(data) // 3])
    samples, rate = decode(whole)
    assert abs(len(samples) / rate - 14.0) < 0.1
    with pytest.raises(CorruptAudioError, match="truncated"):
        decode(cut)
