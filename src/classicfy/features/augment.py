"""`DataAugmenter`: more training data from the same music, offline, on waveforms.

Offline (before features): each training recording gets `copies` versions with a random pitch
shift, time stretch, Gaussian noise at a random SNR and, given a folder, background noise, made
with audiomentations. A copy's random parameters are drawn from a seed derived from the run seed,
the recording's content and the copy number, so a copy is reproducible and its features can be
cached like any recording's; what was done to it is recorded in its metadata. The online
augmentations of feature batches (SpecAugment, mixup) live in `classicfy.training.batch_augment`.
"""

from __future__ import annotations

import hashlib
import random
from pathlib import Path

import numpy as np

from classicfy.config import AugmentConfig
from classicfy.features.audio import AUDIO_EXTENSIONS, decode, resample


def copy_key(content_hash: str, copy: int, config: AugmentConfig) -> str:
    """Cache key of augmented copy number `copy` of a recording."""
    return f"{content_hash}.aug{copy}-{config.key()}"


class DataAugmenter:
    """Applies the waveform transforms of an `AugmentConfig` reproducibly."""

    def __init__(self, config: AugmentConfig | None = None) -> None:
        import audiomentations as am

        self.config = c = config or AugmentConfig()
        transforms = [
            am.PitchShift(min_semitones=-c.max_semitones, max_semitones=c.max_semitones, p=c.p),
            am.TimeStretch(min_rate=c.min_rate, max_rate=c.max_rate, leave_length_unchanged=False, p=c.p),
            am.AddGaussianSNR(min_snr_db=c.min_snr_db, max_snr_db=c.max_snr_db, p=c.p),
        ]
        if c.background:
            folder = Path(c.background)
            if not folder.is_dir() or not any(p.suffix.lower() in AUDIO_EXTENSIONS for p in folder.rglob("*")):
                raise ValueError(f"background must be a folder of noise recordings, got {c.background}")
            transforms.append(
                am.AddBackgroundNoise(c.background, min_snr_db=c.min_snr_db, max_snr_db=c.max_snr_db, p=c.p)
            )
        self._transforms = transforms

    def augment(self, samples: np.ndarray, sample_rate: int, content_hash: str, copy: int) -> tuple[np.ndarray, dict]:
        """One augmented copy and the parameters drawn for it (the same for the same inputs)."""
        seed = int.from_bytes(
            hashlib.sha256(f"{self.config.seed}:{content_hash}:{copy}".encode()).digest()[:4], "little"
        )
        # audiomentations draws from the global generators: seed both for this copy alone.
        random.seed(seed)
        np.random.seed(seed)
        applied = {}
        for transform in self._transforms:
            samples = transform(samples, sample_rate=sample_rate)
            applied[type(transform).__name__] = {
                k: float(v) if isinstance(v, (int, float, np.floating)) else str(v)
                for k, v in transform.parameters.items()
            }
        return samples.astype(np.float32, copy=False), applied

    def augmented_samples(
        self, path: str | Path, sample_rate: int, content_hash: str, copy: int
    ) -> tuple[np.ndarray, dict]:
        """Decode a recording at `sample_rate` and augment it: one copy, to window for any feature config."""
        path = Path(path)
        samples, rate = decode(path)
        return self.augment(resample(samples, rate, sample_rate), sample_rate, content_hash, copy)
