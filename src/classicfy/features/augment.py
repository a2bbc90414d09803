"""`DataAugmenter`: more training data from the same music, offline on waveforms, online on features.

Offline (before features): each training recording gets `copies` versions with a random pitch
shift, time stretch, Gaussian noise at a random SNR and, given a folder, background noise, made
with audiomentations. A copy's random parameters are drawn from a seed derived from the run seed,
the recording's content and the copy number, so a copy is reproducible and its features can be
cached like any recording's; what was done to it is recorded in its metadata.

Online (per batch, on feature tensors): SpecAugment-style time and frequency masking, and mixup.
"""

from __future__ import annotations

import hashlib
import json
import math
import random
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from classicfy.features.audio import AUDIO_EXTENSIONS, decode, resample


@dataclass(frozen=True)
class AugmentConfig:
    """How many copies, and the ranges of the waveform transforms; each is applied with probability `p`.

    With `fill_to`, the recordings of a class with fewer windows than that get more copies (up to
    `max_copies`), so a small class is oversampled with new versions of its music, not repeats.
    """

    copies: int = 1
    fill_to: int | None = None
    max_copies: int = 4  # the most `fill_to` gives a recording; never fewer than `copies`
    max_semitones: float = 2.0
    min_rate: float = 0.9
    max_rate: float = 1.1
    min_snr_db: float = 15.0
    max_snr_db: float = 40.0
    background: str | None = None  # folder of noise recordings
    p: float = 0.8
    seed: int = 0

    def __post_init__(self) -> None:
        if self.copies < 0:
            raise ValueError(f"copies must be 0 or more, got {self.copies}")
        if not 0 < self.min_rate <= self.max_rate:
            raise ValueError(f"need 0 < min_rate <= max_rate, got {self.min_rate}, {self.max_rate}")

    def key(self) -> str:
        """A hash of what shapes a copy (ranges, background, seed), not of how many copies are made."""
        shaping = {k: v for k, v in asdict(self).items() if k not in ("copies", "fill_to", "max_copies")}
        return hashlib.sha256(json.dumps(shaping, sort_keys=True).encode()).hexdigest()[:12]

    def copies_per_label(self, windows_per_label: dict[str, int]) -> dict[str, int]:
        """Copies of each recording of a label: `copies`, or with `fill_to` enough for the label to
        hold that many windows (originals and copies together), at most `max_copies`."""
        if not self.copies or self.fill_to is None:
            return dict.fromkeys(windows_per_label, self.copies)
        most = max(self.copies, self.max_copies)
        return {
            label: min(most, max(self.copies, math.ceil(self.fill_to / max(n, 1)) - 1))
            for label, n in windows_per_label.items()
        }


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

    def augmented_samples(self, path: Path, sample_rate: int, content_hash: str, copy: int) -> tuple[np.ndarray, dict]:
        """Decode a recording at `sample_rate` and augment it: one copy, to window for any feature config."""
        samples, rate = decode(path)
        return self.augment(resample(samples, rate, sample_rate), sample_rate, content_hash, copy)


def spec_augment(batch, generator, max_time_fraction: float = 0.1, max_freq_fraction: float = 0.15, masks: int = 2):
    """Mask random bands of frequency and spans of time in a batch of (B, C, F, T) features, in place.

    Masked cells get the batch mean, not zero, so standardised and raw inputs both stay in range.
    """
    import torch

    _, _, n_freq, n_time = batch.shape
    fill = batch.mean()
    for axis, size, fraction in ((2, n_freq, max_freq_fraction), (3, n_time, max_time_fraction)):
        for _ in range(masks):
            width = torch.randint(0, max(1, int(size * fraction)) + 1, (batch.shape[0],), generator=generator)
            start = (torch.rand(batch.shape[0], generator=generator) * (size - width)).long()
            positions = torch.arange(size).view(1, -1)
            mask = (positions >= start.view(-1, 1)) & (positions < (start + width).view(-1, 1))
            shape = [batch.shape[0], 1, 1, 1]
            shape[axis] = size
            batch.masked_fill_(mask.view(shape), fill)
    return batch


def mixup(inputs, targets, alpha: float, generator):
    """Blend each example with another of the batch (Zhang et al., 2018); targets are one-hot."""
    import torch

    if alpha <= 0:
        return inputs, targets
    lam = float(np.random.default_rng(int(torch.randint(0, 2**31, (1,), generator=generator))).beta(alpha, alpha))
    order = torch.randperm(inputs.shape[0], generator=generator)
    return lam * inputs + (1 - lam) * inputs[order], lam * targets + (1 - lam) * targets[order]
