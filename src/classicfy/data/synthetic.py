"""Small generated datasets with an obvious signal: each label plays its own pitch range.

Used by the tests and benchmarks (which may not download data), and handy to check an install.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

# Fundamental frequency ranges (Hz) per class index: far apart, so any model can tell them apart.
_PITCH_RANGES = ((110.0, 220.0), (330.0, 660.0), (990.0, 1980.0), (2200.0, 3500.0))


def tone_recording(
    rng: np.random.Generator, seconds: float, sample_rate: int, pitch_range: tuple[float, float]
) -> np.ndarray:
    """A sequence of one-second notes with harmonics and a little noise, peak about 0.5."""
    n = round(seconds * sample_rate)
    t = np.arange(sample_rate) / sample_rate
    envelope = np.minimum(1.0, 20 * t) * np.exp(-2.0 * t)
    notes = []
    for _ in range(int(np.ceil(seconds))):
        f0 = rng.uniform(*pitch_range)
        note = sum(np.sin(2 * np.pi * f0 * k * t + rng.uniform(0, 2 * np.pi)) / k for k in (1, 2, 3))
        notes.append(note * envelope)
    signal = np.concatenate(notes)[:n] + 0.02 * rng.standard_normal(n)
    return (0.5 * signal / np.max(np.abs(signal))).astype(np.float32)


def write_tone_dataset(
    root: str | Path,
    labels: tuple[str, ...] = ("low", "mid", "high"),
    works_per_label: int = 4,
    recordings_per_work: int = 2,
    seconds: float = 4.0,
    sample_rate: int = 22050,
    fmt: str = "flac",
    seed: int = 0,
) -> list[Path]:
    """Write `root/<label>/<work>/<n>.<fmt>`: a label-folder dataset whose works are groups."""
    root = Path(root)
    import soundfile

    if len(labels) > len(_PITCH_RANGES):
        raise ValueError(f"at most {len(_PITCH_RANGES)} labels, got {len(labels)}")
    rng = np.random.default_rng(seed)
    paths = []
    for label, pitch_range in zip(labels, _PITCH_RANGES[: len(labels)], strict=True):
        for work in range(works_per_label):
            folder = Path(root) / label / f"work{work:02d}"
            folder.mkdir(parents=True, exist_ok=True)
            for index in range(recordings_per_work):
                path = folder / f"{index:02d}.{fmt}"
                soundfile.write(path, tone_recording(rng, seconds, sample_rate, pitch_range), sample_rate)
                paths.append(path)
    return paths


CHORDS = {"single": (0,), "fifth": (0, 7), "triad": (0, 4, 7)}  # the notes sounded above each root


def chord_recording(
    rng: np.random.Generator, seconds: float, sample_rate: int, intervals: tuple[int, ...]
) -> np.ndarray:
    """One-second chords of `intervals` above random roots (MIDI 48-71), with harmonics: told apart by
    their intervals, whatever the key."""
    t = np.arange(sample_rate) / sample_rate
    envelope = np.minimum(1.0, 20 * t) * np.exp(-2.0 * t)
    chords = []
    for _ in range(int(np.ceil(seconds))):
        root = int(rng.integers(48, 72))
        f0s = [440.0 * 2 ** ((root + step - 69) / 12) for step in intervals]
        chords.append(sum(np.sin(2 * np.pi * f * k * t) / k for f in f0s for k in (1, 2)) * envelope)
    signal = np.concatenate(chords)[: round(seconds * sample_rate)]
    return (0.5 * signal / np.max(np.abs(signal))).astype(np.float32)


def write_chord_dataset(
    root: str | Path,
    works_per_label: int = 4,
    recordings_per_work: int = 2,
    seconds: float = 4.0,
    sample_rate: int = 22050,
    seed: int = 0,
) -> list[Path]:
    """`root/<single|fifth|triad>/<work>/<n>.flac`: labels a model of notes can only tell by intervals."""
    import soundfile

    rng = np.random.default_rng(seed)
    paths = []
    for label, intervals in CHORDS.items():
        for work in range(works_per_label):
            folder = Path(root) / label / f"work{work:02d}"
            folder.mkdir(parents=True, exist_ok=True)
            for index in range(recordings_per_work):
                path = folder / f"{index:02d}.flac"
                soundfile.write(path, chord_recording(rng, seconds, sample_rate, intervals), sample_rate)
                paths.append(path)
    return paths
