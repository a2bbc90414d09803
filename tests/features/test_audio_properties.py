"""The window cutter, for any length, rate, hop and block size hypothesis can think of."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings, strategies as st

from classicfy.config import AudioConfig
from classicfy.features.audio import WindowCutter

RATES = st.sampled_from([8000, 11025, 16000, 22050])


@settings(max_examples=150, deadline=None)
@given(
    rate=RATES,
    window_s=st.floats(1.0, 4.0),
    hop_ratio=st.floats(0.25, 2.0),
    seconds=st.floats(0.0, 12.0),
    block=st.integers(1, 20000),
)
def test_windows_cover_the_audio_as_documented_and_never_leave_it(rate, window_s, hop_ratio, seconds, block):
    config = AudioConfig(sample_rate=rate, window_s=window_s, hop_s=window_s * hop_ratio)
    samples = np.random.default_rng(0).uniform(-0.5, 0.5, int(seconds * rate)).astype(np.float32)
    cutter = WindowCutter(rate, config)
    pieces = [cutter.push(samples[i : i + block]) for i in range(0, len(samples), block)]
    pieces.append(cutter.push(np.zeros(0, np.float32), last=True))
    windows = np.concatenate([p.windows for p in pieces])
    starts = np.concatenate([p.starts_s for p in pieces])
    size, hop = config.window_samples, config.hop_samples
    assert windows.shape[1:] == (size,)
    if len(samples) >= size:  # every full window, a hop apart; the last partial one dropped
        expected = np.arange(0, len(samples) - size + 1, hop)
        assert np.array_equal(np.round(starts * rate).astype(int), expected)
        for start, window in zip(expected, windows, strict=True):
            assert np.array_equal(window, samples[start : start + size])
    elif len(samples):  # shorter than a window: one window, zero-padded
        assert len(windows) == 1 and np.array_equal(windows[0, : len(samples)], samples)
        assert not windows[0, len(samples) :].any()
    else:
        assert len(windows) == 0
