"""Small audio and paths shared by the tests: tones made on the spot, files written where asked."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile

SR = 22050
DATA = Path(__file__).resolve().parent / "data"  # the few real fixtures the tests ship


def sine(seconds: float, freq: float = 440.0, sr: int = SR, amplitude: float = 0.5) -> np.ndarray:
    t = np.arange(round(seconds * sr)) / sr
    return (amplitude * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def write(path: Path, samples: np.ndarray, sr: int = SR, **kwargs) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    soundfile.write(path, samples, sr, **kwargs)
    return path
