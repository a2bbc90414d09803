"""Featurise every recording of a dataset into the cache, in parallel, one recording at a time.

Workers write features straight to the cache and send back only a small status, so the parent
never holds the dataset's features in memory. An unusable file becomes a skip with a reason.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from pathlib import Path

from classicfy.cluster import map_tasks
from classicfy.config import AnyFeatureConfig, AugmentConfig
from classicfy.data.manifest import Recording, content_hash, merge_duplicates
from classicfy.errors import AudioError, skip_reason
from classicfy.features.audio import load_recording, resample, window_recording
from classicfy.features.augment import DataAugmenter, copy_key
from classicfy.features.cache import FeatureCache
from classicfy.features.spectral import AudioFeatureExtractor, MusicnnFeatureExtractor, extractor_for
from classicfy.workspace import Workspace


@dataclass(frozen=True)
class RecordingStatus:
    """What extraction found for one file: its content hash and windows, or why it was skipped."""

    path: Path
    content_hash: str | None = None
    n_windows: int = 0
    duration_s: float = 0.0
    cache_hit: bool = False
    skip_reason: str | None = None
    silent_windows: int = 0  # windows dropped as silence

    @property
    def usable(self) -> bool:
        return self.skip_reason is None


@dataclass
class ExtractionReport:
    """The dataset as the cache now holds it: usable recordings (regrouped so duplicates share a
    group), every file's status, and the sets of files with identical audio."""

    recordings: list[Recording]
    statuses: dict[Path, RecordingStatus]
    duplicates: list[list[Path]] = field(default_factory=list)

    @property
    def usable(self) -> list[RecordingStatus]:
        return [s for s in self.statuses.values() if s.usable]

    @property
    def skipped(self) -> list[RecordingStatus]:
        return [s for s in self.statuses.values() if not s.usable]

    @property
    def n_windows(self) -> int:
        return sum(s.n_windows for s in self.usable)

    def content_hashes(self) -> dict[Path, str]:
        """Each readable file's content hash: the key of its cache entry."""
        return {path: status.content_hash for path, status in self.statuses.items() if status.content_hash}

    def windows_per_recording(self) -> dict[Path, int]:
        """Each file's window count: the size a split shares out."""
        return {path: status.n_windows for path, status in self.statuses.items()}

    @property
    def silent_windows(self) -> int:
        return sum(s.silent_windows for s in self.usable)

    @property
    def seconds(self) -> float:
        return sum(s.duration_s for s in self.usable)

    @property
    def cache_hits(self) -> int:
        return sum(s.cache_hit for s in self.usable)

    def per_label(self) -> dict[str, LabelSummary]:
        """Recordings, works, minutes and windows of each label, for the dataset summary."""
        summary: dict[str, LabelSummary] = {}
        groups: dict[str, set[str]] = {}
        for recording in self.recordings:
            status = self.statuses[recording.path]
            row = summary.setdefault(recording.label, LabelSummary())
            row.recordings += 1
            row.minutes += status.duration_s / 60
            row.windows += status.n_windows
            groups.setdefault(recording.label, set()).add(recording.group)
        for label, row in summary.items():
            row.groups = len(groups[label])
        return dict(sorted(summary.items()))


@dataclass
class LabelSummary:
    recordings: int = 0
    groups: int = 0
    minutes: float = 0.0
    windows: int = 0


# One cache and one extractor per worker process and config, made on first use: a run that
# finds everything cached never builds an extractor (nor imports librosa).
@functools.cache
def _cache_for(config: AnyFeatureConfig, cache_root: Path) -> FeatureCache:
    return FeatureCache(cache_root, config)


@functools.cache
def _extractor_for(config: AnyFeatureConfig) -> AudioFeatureExtractor | MusicnnFeatureExtractor:
    return extractor_for(config)


def featurise(path: str | Path, config: AnyFeatureConfig, cache_root: str | Path) -> RecordingStatus:
    """Make sure one file's features are cached; never raises for a bad file."""
    path = Path(path)
    cache_root = Path(cache_root)
    cache = _cache_for(config, cache_root)
    try:
        digest = content_hash(path)
    except OSError as error:
        return RecordingStatus(path, skip_reason=f"unreadable ({error.strerror or error})")
    cached = cache.get(digest)
    if cached is not None:
        return RecordingStatus(
            path, digest, cached.n_windows, cached.duration_s, cache_hit=True, silent_windows=cached.silent_windows
        )
    failure = cache.get_failure(digest)
    if failure is not None:
        return RecordingStatus(path, digest, cache_hit=True, skip_reason=skip_reason(failure.kind, failure.detail))
    try:
        extractor = _extractor_for(config)
        audio = load_recording(path, config.audio)
    except AudioError as error:
        if error.cacheable:
            cache.put_failure(digest, error)
        return RecordingStatus(path, digest, skip_reason=error.reason)
    cache.put(digest, audio, extractor.arrays(audio.windows))
    return RecordingStatus(path, digest, len(audio.windows), audio.duration_s, silent_windows=audio.silent_windows)


def extract_dataset(
    recordings: list[Recording],
    config: AnyFeatureConfig,
    work: Workspace | None = None,
) -> ExtractionReport:
    """Featurise every recording (cached ones are only checked) and report what was found.

    The same audio under two labels raises `DatasetError` only after all features are cached, so
    fixing the labels loses no work.
    """
    work = work or Workspace()
    tasks = [(r.path, config, work.cache) for r in recordings]
    found = map_tasks(featurise, tasks, work, "features")
    statuses = {status.path: status for status in found}
    usable = [r for r in recordings if statuses[r.path].usable]
    hashes = {path: s.content_hash for path, s in statuses.items() if s.usable and s.content_hash}
    regrouped, duplicates = merge_duplicates(usable, hashes)
    return ExtractionReport(regrouped, statuses, duplicates)


@functools.cache
def _augmenter_for(config: AugmentConfig) -> DataAugmenter:
    return DataAugmenter(config)


def augment_copy(
    path: str | Path,
    digest: str,
    copy: int,
    configs: tuple[AnyFeatureConfig, ...],
    augment: AugmentConfig,
    cache_root: str | Path,
) -> tuple[str | None, ...]:
    """Make sure augmented copy `copy` of a recording is cached under every feature config.

    The recording is augmented once, at the highest sample rate of the configs (whatever the cache
    already holds, so a copy's content never depends on it), and resampled for the others: the
    transforms, not the features, are the costly part. Returns a key per config, None where the
    copy is unusable.
    """
    path = Path(path)
    cache_root = Path(cache_root)
    key = copy_key(digest, copy, augment)
    caches = [_cache_for(config, cache_root) for config in configs]
    missing = [i for i, cache in enumerate(caches) if cache.get(key) is None]  # checked once here, as originals are
    keys: list[str | None] = [key] * len(configs)
    if not missing:
        return tuple(keys)
    rate = max(config.audio.sample_rate for config in configs)
    try:
        samples, applied = _augmenter_for(augment).augmented_samples(path, rate, digest, copy)
    except AudioError:
        return tuple(None if i in missing else key for i in range(len(configs)))
    for i in missing:
        config = configs[i]
        try:  # e.g. noise made a near-silent recording unusable: train without this copy
            audio = window_recording(resample(samples, rate, config.audio.sample_rate), config.audio, str(path))
        except AudioError:
            keys[i] = None
            continue
        caches[i].put(key, audio, _extractor_for(config).arrays(audio.windows), extra={"augmentation": applied})
    return tuple(keys)


def augment_dataset(
    recordings: list[tuple[Path, str, int]],
    configs: tuple[AnyFeatureConfig, ...],
    augment: AugmentConfig,
    work: Workspace | None = None,
) -> list[dict[AnyFeatureConfig, list[str]]]:
    """Per (path, content hash, number of copies), in order: each feature config's cache keys of its
    usable copies."""
    work = work or Workspace()
    tasks = [
        (path, digest, copy, configs, augment, work.cache)
        for path, digest, copies in recordings
        for copy in range(copies)
    ]
    keys = iter(map_tasks(augment_copy, tasks, work, "augmenting"))
    per_recording = [[next(keys) for _ in range(copies)] for _, _, copies in recordings]
    return [
        {config: [k[c] for k in copies if k[c] is not None] for c, config in enumerate(configs)}
        for copies in per_recording
    ]
