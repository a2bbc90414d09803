from __future__ import annotations

import librosa
import numpy as np
import pytest

from classicfy.config import AudioConfig, FeatureConfig
from classicfy.features.spectral import AudioFeatureExtractor
from helpers import SR, sine

CONFIG = FeatureConfig(audio=AudioConfig(sample_rate=SR, window_s=2.0, hop_s=2.0))


@pytest.fixture(scope="module")
def extractor() -> AudioFeatureExtractor:
    return AudioFeatureExtractor(CONFIG)


def test_shapes_and_dtype_follow_the_config(extractor):
    windows = np.stack([sine(2.0, 220.0), sine(2.0, 440.0), sine(2.0, 880.0)])
    features = extractor.transform(windows)
    frames = CONFIG.frames_per_window
    assert features.mel.shape == (3, CONFIG.n_mels, frames)
    assert features.mfcc.shape == (3, CONFIG.n_mfcc, frames)
    assert features.chroma.shape == (3, CONFIG.n_chroma, frames)
    assert {features.mel.dtype, features.mfcc.dtype, features.chroma.dtype} == {np.dtype(np.float32)}


def test_one_stft_gives_what_librosa_computes_from_the_signal(extractor):
    rng = np.random.default_rng(0)
    window = (sine(2.0, 330.0) + 0.05 * rng.standard_normal(2 * SR)).astype(np.float32)
    features = extractor.transform(window[None, :])
    mel = librosa.power_to_db(librosa.feature.melspectrogram(y=window, sr=SR, n_mels=CONFIG.n_mels), top_db=80)
    mfcc = librosa.feature.mfcc(S=mel, n_mfcc=CONFIG.n_mfcc)
    chroma = librosa.feature.chroma_stft(y=window, sr=SR, tuning=0.0)
    np.testing.assert_allclose(features.mel[0], mel, atol=1e-3)
    np.testing.assert_allclose(features.mfcc[0], mfcc, atol=1e-2)
    np.testing.assert_allclose(features.chroma[0], chroma, atol=1e-4)


def test_chroma_of_an_a_is_highest_in_the_a_bin(extractor):
    features = extractor.transform(sine(2.0, 440.0)[None, :])
    assert int(np.argmax(features.chroma[0].mean(axis=1))) == 9  # C C# D D# E F F# G G# A A# B


def test_features_do_not_depend_on_how_windows_are_batched(extractor):
    rng = np.random.default_rng(1)
    windows = rng.standard_normal((11, 2 * SR)).astype(np.float32) * np.linspace(0.01, 1, 11)[:, None]
    together = extractor.transform(windows)
    alone = [extractor.transform(w[None, :]) for w in windows]
    np.testing.assert_allclose(together.mel, np.concatenate([a.mel for a in alone]), atol=1e-4)


def test_config_key_changes_with_any_parameter_and_round_trips():
    assert CONFIG.key() == FeatureConfig.from_dict(CONFIG.to_dict()).key()
    assert CONFIG.key() != FeatureConfig(audio=CONFIG.audio, n_mels=64).key()
    assert CONFIG.key() != FeatureConfig(audio=AudioConfig(sample_rate=SR, window_s=2.0, hop_s=1.0)).key()


def test_extract_reads_a_file_through_the_same_path(tmp_path, extractor):
    from helpers import write

    path = write(tmp_path / "a.wav", sine(5.0, 440.0))
    audio, features = extractor.extract(path)
    np.testing.assert_allclose(features.mel, extractor.transform(audio.windows).mel)
    assert len(features) == 2
