from __future__ import annotations

import numpy as np
import pytest

from classicfy.config import AudioConfig, AugmentConfig, FeatureConfig
from classicfy.data.manifest import content_hash
from classicfy.features.augment import DataAugmenter, copy_key
from classicfy.features.cache import FeatureCache
from classicfy.features.extraction import augment_dataset
from classicfy.workspace import Workspace
from helpers import SR, sine, write

CONFIG = AugmentConfig(copies=2, p=1.0)


@pytest.fixture(scope="module")
def augmenter() -> DataAugmenter:
    return DataAugmenter(CONFIG)


def test_a_copy_differs_from_the_original_and_records_what_was_done(augmenter):
    original = sine(3.0, 440.0)
    copy, applied = augmenter.augment(original.copy(), SR, "abc", 0)
    assert set(applied) == {"PitchShift", "TimeStretch", "AddGaussianSNR"}
    assert applied["PitchShift"]["num_semitones"] != 0
    assert len(copy) != len(original) or not np.allclose(copy, original, atol=1e-3)


def test_copies_are_reproducible_and_each_copy_is_different(augmenter):
    original = sine(3.0, 440.0)
    first, params = augmenter.augment(original.copy(), SR, "abc", 0)
    again, params_again = augmenter.augment(original.copy(), SR, "abc", 0)
    _, other = augmenter.augment(original.copy(), SR, "abc", 1)
    np.testing.assert_array_equal(first, again)
    assert params == params_again and params != other


def test_augmented_copies_are_cached_per_recording_in_order(tmp_path):
    features = FeatureConfig(audio=AudioConfig(window_s=2.0, hop_s=2.0))
    paths = [write(tmp_path / f"{i}.flac", sine(4.0, 220.0 * (i + 1))) for i in range(2)]
    items = [(p, content_hash(p), copies) for p, copies in zip(paths, (2, 1), strict=True)]
    keys = augment_dataset(items, (features,), CONFIG, Workspace(tmp_path / "cache", 1, False))
    assert keys == [
        {features: [copy_key(items[0][1], 0, CONFIG), copy_key(items[0][1], 1, CONFIG)]},
        {features: [copy_key(items[1][1], 0, CONFIG)]},
    ]
    cached = FeatureCache(tmp_path / "cache", features).get(keys[1][features][0])
    assert cached.n_windows >= 1 and cached.features.mel.shape[1] == features.n_mels


def test_a_damaged_augmented_copy_is_found_and_made_again(tmp_path):
    features = FeatureConfig(audio=AudioConfig(window_s=2.0, hop_s=2.0))
    path = write(tmp_path / "a.flac", sine(4.0, 330.0))
    digest = content_hash(path)
    cache = FeatureCache(tmp_path / "cache", features)
    augment_dataset([(path, digest, 1)], (features,), CONFIG, Workspace(tmp_path / "cache", 1, False))
    key = copy_key(digest, 0, CONFIG)
    intact = np.array(cache.get(key).features.mel)
    mel_file = next((tmp_path / "cache").rglob(f"{key}*/mel.npy"))
    data = bytearray(mel_file.read_bytes())
    data[-4:] = b"\xff\xff\xff\x7f"  # one float flipped, shape and header intact
    mel_file.write_bytes(bytes(data))
    augment_dataset([(path, digest, 1)], (features,), CONFIG, Workspace(tmp_path / "cache", 1, False))
    np.testing.assert_array_equal(cache.get(key).features.mel, intact)


def test_one_augmentation_serves_every_feature_config(tmp_path, monkeypatch):
    high = FeatureConfig(audio=AudioConfig(window_s=2.0, hop_s=2.0))
    low = FeatureConfig(audio=AudioConfig(sample_rate=16000, window_s=2.0, hop_s=2.0))
    path = write(tmp_path / "a.flac", sine(5.0, 330.0))
    rates = []
    augment = DataAugmenter.augment

    def counted(self, samples, sample_rate, *rest):
        rates.append(sample_rate)
        return augment(self, samples, sample_rate, *rest)

    monkeypatch.setattr(DataAugmenter, "augment", counted)
    digest = content_hash(path)
    keys = augment_dataset([(path, digest, 2)], (low, high), CONFIG, Workspace(tmp_path / "cache", 1, False))
    both = [copy_key(digest, 0, CONFIG), copy_key(digest, 1, CONFIG)]
    assert keys == [{low: both, high: both}]
    assert rates == [high.audio.sample_rate] * 2  # once per copy, at the higher rate, resampled for the other
    for key in both:  # the same stretched copy under both configs
        durations = [FeatureCache(tmp_path / "cache", c).get(key).duration_s for c in (low, high)]
        assert abs(durations[0] - durations[1]) < 1e-3


def test_fill_to_gives_small_classes_more_copies_up_to_the_cap():
    fill = AugmentConfig(copies=1, fill_to=600, max_copies=4)
    counts = {"bach": 93, "mozart": 173, "monteverdi": 478, "beethoven": 1578}
    assert fill.copies_per_label(counts) == {"bach": 4, "mozart": 3, "monteverdi": 1, "beethoven": 1}
    assert AugmentConfig(copies=1).copies_per_label(counts) == dict.fromkeys(counts, 1)
    assert AugmentConfig(copies=0, fill_to=600).copies_per_label(counts) == dict.fromkeys(counts, 0)  # off is off
    assert AugmentConfig(copies=6, fill_to=600).copies_per_label(counts)["beethoven"] == 6  # never fewer than asked
    # How many copies are made never changes what a copy is, so runs share cached copies.
    assert fill.key() == AugmentConfig(copies=2).key() != AugmentConfig(max_semitones=6.0).key()
