"""Windows of cached recordings as model inputs, read from memory maps a batch at a time.

Input kinds: `mel`, (1, n_mels, frames) images for the convolutional models; `mel_chroma`,
(frames, n_mels + n_chroma) for the recurrent one; `sequence`, (frames, n_mfcc + n_chroma) for the
baseline's statistics; `musicnn`, (patches, 187, 96) for the pretrained backbones; `notes`, (2, 88,
frames) note and onset activations, keys low to high, for the models that read notes. Training and
prediction read them alike.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Protocol

import numpy as np

from classicfy.config import INPUT_KINDS
from classicfy.features.cache import CachedRecording
from classicfy.features.spectral import musicnn_patches

KEY_STRIDE = 10**9  # window keys: recording index * KEY_STRIDE + window position


class ModelInputs(Protocol):
    """A set of windows as model inputs: what scoring, prediction and export read."""

    kind: str

    def __len__(self) -> int: ...

    @property
    def input_shape(self) -> tuple[int, ...]: ...

    def inputs(self, indices: np.ndarray) -> np.ndarray: ...


class LabelledInputs(ModelInputs, Protocol):
    """Model inputs with each window's label index and whether it is an augmented copy: what training reads."""

    labels: np.ndarray
    augmented: np.ndarray


def window_input(arrays: Mapping[str, np.ndarray], window: int, kind: str) -> np.ndarray:
    """One window of a recording's feature arrays as the model input of `kind`."""
    if kind == "mel":
        return np.asarray(arrays["mel"][window])[None]
    if kind == "mel_chroma":
        return np.concatenate([arrays["mel"][window], arrays["chroma"][window]]).T
    if kind == "sequence":
        return np.concatenate([arrays["mfcc"][window], arrays["chroma"][window]]).T
    if kind == "musicnn":
        return musicnn_patches(np.asarray(arrays["musicnn"][window]))
    if kind == "notes":
        return np.stack([arrays["note"][window], arrays["onset"][window]]).transpose(0, 2, 1).astype(np.float32)
    raise ValueError(f"input kind must be one of {', '.join(INPUT_KINDS)}, got {kind!r}")


class WindowSet:
    """Every window of some recordings, with each recording's label index and whether it is an
    augmented copy (which the training balancer needs)."""

    def __init__(
        self, recordings: list[CachedRecording], labels: list[int], kind: str, augmented: list[bool] | None = None
    ) -> None:
        if not recordings:
            raise ValueError("a window set needs at least one recording")
        self.recordings = recordings
        self.kind = kind
        counts = [r.n_windows for r in recordings]
        self.recording_of = np.repeat(np.arange(len(recordings)), counts)
        self.window_of = np.concatenate([np.arange(n) for n in counts])
        self.labels = np.repeat(np.asarray(labels, dtype=np.int64), counts)
        self.augmented = np.repeat(np.asarray(augmented or [False] * len(recordings), dtype=bool), counts)

    def __len__(self) -> int:
        return len(self.recording_of)

    @property
    def input_shape(self) -> tuple[int, ...]:
        return window_input(self.recordings[0].arrays, 0, self.kind).shape

    def inputs(self, indices: np.ndarray) -> np.ndarray:
        """A float32 batch of the windows at `indices`."""
        return np.stack(
            [window_input(self.recordings[self.recording_of[i]].arrays, self.window_of[i], self.kind) for i in indices]
        ).astype(np.float32, copy=False)

    def window_keys(self, hop_s: float) -> np.ndarray:
        """An id per window (recording index and position on the hop grid), to line up the windows of
        feature kinds made at other sample rates, whose start times differ by a sample's rounding."""
        starts = np.concatenate([np.asarray(r.starts_s) for r in self.recordings])
        return self.recording_of.astype(np.int64) * KEY_STRIDE + np.round(starts / hop_s).astype(np.int64)

    def channel_statistics(self, rng: np.random.Generator, max_windows: int = 2000) -> tuple[np.ndarray, np.ndarray]:
        """Mean and std per mel band (mel) or per feature (sequence), over a sample of windows."""
        sample = rng.choice(len(self), min(len(self), max_windows), replace=False)
        batch = self.inputs(np.sort(sample)).astype(np.float64)
        axes = (0, 1, 3) if self.kind == "mel" else (0, 1)
        return batch.mean(axis=axes).astype(np.float32), batch.std(axis=axes).astype(np.float32)


class EmbeddingSet:
    """Fixed vectors per window (a frozen backbone's output), with the interface of `WindowSet`."""

    kind = "embedding"

    def __init__(self, embeddings: np.ndarray, labels: np.ndarray, augmented: np.ndarray | None = None) -> None:
        self.embeddings = np.asarray(embeddings, dtype=np.float32)
        self.labels = np.asarray(labels, dtype=np.int64)
        self.augmented = np.zeros(len(self.labels), bool) if augmented is None else np.asarray(augmented, dtype=bool)

    def __len__(self) -> int:
        return len(self.labels)

    @property
    def input_shape(self) -> tuple[int, ...]:
        return self.embeddings.shape[1:]

    def inputs(self, indices: np.ndarray) -> np.ndarray:
        return self.embeddings[indices]


class FeatureWindows:
    """The windows of one recording's feature arrays held in memory (prediction, export), as model inputs."""

    def __init__(self, arrays: Mapping[str, np.ndarray], starts_s: np.ndarray, kind: str) -> None:
        self.arrays, self.starts_s, self.kind = arrays, np.asarray(starts_s), kind

    def __len__(self) -> int:
        return len(self.starts_s)

    @property
    def input_shape(self) -> tuple[int, ...]:
        return window_input(self.arrays, 0, self.kind).shape

    def inputs(self, indices: np.ndarray) -> np.ndarray:
        return np.stack([window_input(self.arrays, i, self.kind) for i in indices]).astype(np.float32, copy=False)

    def window_keys(self, hop_s: float) -> np.ndarray:
        """Window ids as `WindowSet.window_keys` makes them, for a recording at index 0."""
        return np.round(self.starts_s / hop_s).astype(np.int64)


def iter_batches(windows: ModelInputs, batch_size: int, indices: np.ndarray | None = None) -> Iterator[np.ndarray]:
    """The inputs of every window (or of those at `indices`), in order, `batch_size` at a time (never
    the whole set at once)."""
    indices = np.arange(len(windows)) if indices is None else np.asarray(indices)
    for start in range(0, len(indices), batch_size):
        yield windows.inputs(indices[start : start + batch_size])
