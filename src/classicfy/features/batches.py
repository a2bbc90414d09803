"""A streamed recording's windows, loudness-normalised and silence dropped, in batches for the models.

Loudness normalisation needs the level of the whole recording before any window can be featurised,
so a first pass measures the window levels; the windows themselves are kept for the second pass
while they fit in `buffer_bytes`, and a longer recording is decoded again instead. Memory thus stays
bounded whatever the length, and a short file is decoded once. `predict` and `embed` both read
recordings this way.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator

import numpy as np

from classicfy.config import AudioConfig
from classicfy.features.audio import WindowChunk, loudness_gain

BUFFER_BYTES = 256 * 2**20  # windows kept between the two passes; beyond this a file is decoded twice
BATCH_WINDOWS = 32  # windows featurised together: several times faster than one by one

ChunkSource = Callable[[], Iterable[tuple[int, WindowChunk]]]


def normalised_batches(
    name: str,
    source: ChunkSource,
    configs: list[AudioConfig],
    buffer_bytes: int = BUFFER_BYTES,
    batch_windows: int = BATCH_WINDOWS,
) -> Iterator[tuple[int, np.ndarray, np.ndarray]]:
    """`(config index, windows, start times)` of the non-silent windows of `source`'s chunks (one
    stream of chunks per config), normalised to each config's loudness; `name` names the recording
    in errors."""
    levels: list[list[np.ndarray]] = [[] for _ in configs]
    kept: list[tuple[int, WindowChunk]] | None = []
    kept_bytes = 0
    for index, chunk in source():
        levels[index].append(chunk.levels_dbfs)
        if kept is not None:
            kept.append((index, chunk))
            kept_bytes += chunk.windows.nbytes
            if kept_bytes > buffer_bytes:
                kept = None  # too long to hold: the second pass decodes the file again
    gains = [loudness_gain(np.concatenate(own), config, name) for own, config in zip(levels, configs, strict=True)]

    offsets = [0] * len(configs)
    pending: list[list[tuple[np.ndarray, np.ndarray]]] = [[] for _ in configs]
    for index, chunk in kept if kept is not None else source():
        keep, gain = gains[index]
        mask = keep[offsets[index] : offsets[index] + len(chunk)]
        offsets[index] += len(chunk)
        if mask.any():
            pending[index].append((chunk.windows[mask] * gain, chunk.starts_s[mask]))
        if sum(len(starts) for _, starts in pending[index]) >= batch_windows:
            yield index, *_joined(pending[index])
            pending[index] = []
    for index, batch in enumerate(pending):
        if batch:
            yield index, *_joined(batch)


def _joined(batch: list[tuple[np.ndarray, np.ndarray]]) -> tuple[np.ndarray, np.ndarray]:
    return np.concatenate([w for w, _ in batch]), np.concatenate([s for _, s in batch])
