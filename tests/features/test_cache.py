from __future__ import annotations

import numpy as np
import pytest

from classicfy import atomic
from classicfy.config import AudioConfig, FeatureConfig
from classicfy.errors import SilentAudioError
from classicfy.features.audio import window_recording
from classicfy.features.cache import FeatureCache
from classicfy.features.spectral import AudioFeatureExtractor
from helpers import SR, sine

CONFIG = FeatureConfig(audio=AudioConfig(sample_rate=SR, window_s=2.0, hop_s=2.0))


@pytest.fixture
def stored(tmp_path):
    audio = window_recording(sine(4.5), CONFIG.audio)
    features = AudioFeatureExtractor(CONFIG).transform(audio.windows)
    cache = FeatureCache(tmp_path / "cache", CONFIG)
    cache.put("ab" * 16, audio, features.as_arrays())
    return cache, features


def test_entry_round_trips_as_memory_maps(stored):
    cache, features = stored
    cached = cache.get("ab" * 16)
    assert isinstance(cached.features.mel, np.memmap)
    np.testing.assert_array_equal(cached.features.mel, features.mel)
    np.testing.assert_array_equal(cached.features.chroma, features.chroma)
    assert cached.n_windows == 2
    assert cached.duration_s == pytest.approx(4.5)


def test_absent_entry_is_none(stored):
    cache, _ = stored
    assert cache.get("cd" * 16) is None


def test_entries_of_another_config_are_separate(stored, tmp_path):
    other = FeatureCache(tmp_path / "cache", FeatureConfig(audio=CONFIG.audio, n_mels=32))
    assert other.get("ab" * 16) is None


def test_flipped_byte_is_detected_and_the_entry_removed(stored):
    cache, _ = stored
    entry = cache._entry("ab" * 16)
    data = bytearray((entry / "mel.npy").read_bytes())
    data[-10] ^= 0xFF
    (entry / "mel.npy").write_bytes(bytes(data))
    assert cache.get("ab" * 16) is None
    assert not entry.exists()


def test_truncated_array_is_detected(stored):
    cache, _ = stored
    path = cache._entry("ab" * 16) / "chroma.npy"
    path.write_bytes(path.read_bytes()[:100])
    assert cache.get("ab" * 16) is None


def test_missing_metadata_is_detected(stored):
    cache, _ = stored
    (cache._entry("ab" * 16) / "meta.json").unlink()
    assert cache.get("ab" * 16) is None


def test_interrupted_write_leaves_no_entry_and_no_temporary_folder(tmp_path):
    target = tmp_path / "entry"
    with pytest.raises(KeyboardInterrupt), atomic.new_directory(target) as tmp:
        (tmp / "mel.npy").write_bytes(b"half")
        raise KeyboardInterrupt
    assert list(tmp_path.iterdir()) == []


def test_failures_are_remembered(stored):
    cache, _ = stored
    cache.put_failure("ef" * 16, SilentAudioError("x.wav", "every window below -60 dBFS"))
    failure = cache.get_failure("ef" * 16)
    assert (failure.kind, failure.detail) == ("silent", "every window below -60 dBFS")
    assert cache.get_failure("ab" * 16) is None


def test_a_read_that_fails_part_way_for_the_disk_is_skipped_now_and_tried_again_next_run(tmp_path, monkeypatch):
    from classicfy.data.manifest import content_hash
    from classicfy.features import audio
    from classicfy.features.extraction import featurise
    from helpers import write

    monkeypatch.setattr(audio, "_BLOCK_FRAMES", 4096)
    path = write(tmp_path / "take.flac", sine(6.0))
    config = FeatureConfig(audio=AudioConfig(window_s=2.0, hop_s=2.0))
    real_blocks = audio._soundfile_blocks

    def failing_disk(path):
        rate, blocks = real_blocks(path)

        def first_then_eio():
            yield next(blocks)
            raise OSError(5, "Input/output error")

        return rate, first_then_eio()

    monkeypatch.setattr(audio, "_soundfile_blocks", failing_disk)
    status = featurise(path, config, tmp_path / "cache")
    assert status.skip_reason == "unreadable (OSError part-way through)"
    assert FeatureCache(tmp_path / "cache", config).get_failure(content_hash(path)) is None
    monkeypatch.setattr(audio, "_soundfile_blocks", real_blocks)  # the disk is back
    assert featurise(path, config, tmp_path / "cache").n_windows == 3


def test_a_momentary_read_failure_is_not_cached_as_corrupt(tmp_path, monkeypatch):
    """Issue 23, defect 1: a file that hashed fine but could not be opened (permission flipped, EIO,
    too many open files) was cached as `corrupt` and skipped on every later run."""
    import builtins

    from classicfy.data.manifest import content_hash
    from classicfy.features import audio
    from classicfy.features.extraction import featurise
    from helpers import write

    path = write(tmp_path / "take.flac", sine(6.0))
    config = FeatureConfig(audio=AudioConfig(window_s=2.0, hop_s=2.0))
    real_open, real_blocks = builtins.open, audio._soundfile_blocks

    real_pyav = audio._pyav_blocks
    opened = []

    def refused_after_hashing(file, *args, **kwargs):
        if str(file) == str(path) and opened:  # the hash reads it first; then the permission flips
            raise PermissionError(13, "Permission denied", str(file))
        opened.append(str(file) == str(path))
        return real_open(file, *args, **kwargs)

    def system_error(file):
        raise RuntimeError("Error opening 'take.flac': System error.")  # libsndfile's words for it

    def ffmpeg_refused(file):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(builtins, "open", refused_after_hashing)
    monkeypatch.setattr(audio, "_soundfile_blocks", system_error)
    monkeypatch.setattr(audio, "_pyav_blocks", ffmpeg_refused)
    status = featurise(path, config, tmp_path / "cache")
    assert status.skip_reason == "unreadable (Permission denied)"
    monkeypatch.setattr(builtins, "open", real_open)
    monkeypatch.setattr(audio, "_soundfile_blocks", real_blocks)
    monkeypatch.setattr(audio, "_pyav_blocks", real_pyav)
    assert FeatureCache(tmp_path / "cache", config).get_failure(content_hash(path)) is None
    assert featurise(path, config, tmp_path / "cache").n_windows == 3  # the next run reads it
