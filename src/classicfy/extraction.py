"""Featurise every recording of a dataset into the cache, in parallel, one recording at a time.

Workers write features straight to the cache and send back only a small status, so the parent
never holds the dataset's features in memory. An unusable file becomes a skip with a reason.
"""

from __future__ import annotations

import functools
import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path

from classicfy.cache import FeatureCache
from classicfy.data.manifest import Recording, content_hash, merge_duplicates
from classicfy.errors import AudioError
from classicfy.features import AudioFeatureExtractor, FeatureConfig


@dataclass(frozen=True)
class RecordingStatus:
    """What extraction found for one file: its content hash and windows, or why it was skipped."""

    path: Path
    content_hash: str | None = None
    n_windows: int = 0
    duration_s: float = 0.0
    cache_hit: bool = False
    skip_reason: str | None = None

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

    @property
    def seconds(self) -> float:
        return sum(s.duration_s for s in self.usable)

    @property
    def cache_hits(self) -> int:
        return sum(s.cache_hit for s in self.usable)


# One cache and one extractor per worker process and config, made on first use: a run that
# finds everything cached never builds an extractor (nor imports librosa).
@functools.cache
def _cache_for(config: FeatureConfig, cache_root: Path) -> FeatureCache:
    return FeatureCache(cache_root, config)


@functools.cache
def _extractor_for(config: FeatureConfig) -> AudioFeatureExtractor:
    return AudioFeatureExtractor(config)


def featurise(path: Path, config: FeatureConfig, cache_root: Path) -> RecordingStatus:
    """Make sure one file's features are cached; never raises for a bad file."""
    cache = _cache_for(config, cache_root)
    try:
        digest = content_hash(path)
    except OSError as error:
        return RecordingStatus(path, skip_reason=f"unreadable ({error.strerror or error})")
    cached = cache.get(digest)
    if cached is not None:
        return RecordingStatus(path, digest, cached.n_windows, cached.duration_s, cache_hit=True)
    failure = cache.get_failure(digest)
    if failure is not None:
        reason = f"{failure.kind} ({failure.detail})" if failure.detail else failure.kind
        return RecordingStatus(path, digest, cache_hit=True, skip_reason=reason)
    try:
        audio, features = _extractor_for(config).extract(path)
    except AudioError as error:
        cache.put_failure(digest, error)
        return RecordingStatus(path, digest, skip_reason=error.reason)
    cache.put(digest, audio, features)
    return RecordingStatus(path, digest, len(features), audio.duration_s)


def _init_worker() -> None:
    # Each worker is one of `jobs` processes: let it use one core, not all of them.
    from threadpoolctl import threadpool_limits

    threadpool_limits(1)


def extract_dataset(
    recordings: list[Recording],
    config: FeatureConfig,
    cache_root: Path,
    jobs: int | None = None,
    progress: bool = True,
) -> ExtractionReport:
    """Featurise every recording (cached ones are only checked) and report what was found.

    The same audio under two labels raises `DatasetError` only after all features are cached, so
    fixing the labels loses no work.
    """
    from tqdm import tqdm

    jobs = max(1, jobs or os.cpu_count() or 1)
    paths = [r.path for r in recordings]
    statuses: dict[Path, RecordingStatus] = {}
    bar = tqdm(total=len(paths), desc="features", unit="rec", disable=not progress, leave=False)
    if jobs == 1 or len(paths) == 1:
        for path in paths:
            statuses[path] = featurise(path, config, cache_root)
            bar.update()
    else:
        context = multiprocessing.get_context("forkserver")
        with ProcessPoolExecutor(jobs, mp_context=context, initializer=_init_worker) as pool:
            futures = {pool.submit(featurise, path, config, cache_root): path for path in paths}
            for future in as_completed(futures):
                statuses[futures[future]] = future.result()
                bar.update()
    bar.close()
    statuses = {path: statuses[path] for path in paths}
    usable = [r for r in recordings if statuses[r.path].usable]
    hashes = {path: s.content_hash for path, s in statuses.items() if s.usable and s.content_hash}
    regrouped, duplicates = merge_duplicates(usable, hashes)
    return ExtractionReport(regrouped, statuses, duplicates)
