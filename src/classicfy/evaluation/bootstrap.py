"""Bootstrap intervals that respect how the data hang together: whole works, resampled within each class.

The movements of one work are not independent, so a resample draws works, not recordings; and it
draws them within each class, so no class vanishes from a resample and macro-F1 always averages
over the same classes. A paired interval resamples the same works for both sides of a comparison.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

Statistic = Callable[[np.ndarray], float]  # a figure of the items at the given indices


def work_resamples(labels: np.ndarray, works: np.ndarray, n: int, seed: int) -> list[np.ndarray]:
    """`n` resamples of item indices: each class's works drawn with replacement, as many as it has."""
    rng = np.random.default_rng(seed)
    members = {
        (label, work): np.flatnonzero((labels == label) & (works == work))
        for label, work in dict.fromkeys(zip(labels.tolist(), works.tolist(), strict=True))
    }
    by_label: dict[object, list[np.ndarray]] = {}
    for (label, _), indices in members.items():
        by_label.setdefault(label, []).append(indices)
    resamples = []
    for _ in range(n):
        drawn = [groups[i] for groups in by_label.values() for i in rng.integers(0, len(groups), len(groups))]
        resamples.append(np.concatenate(drawn))
    return resamples


def interval(values: list[float]) -> tuple[float, float]:
    """The central 95% of bootstrap values."""
    return float(np.percentile(values, 2.5)), float(np.percentile(values, 97.5))


def paired_difference(
    statistic_a: Statistic, statistic_b: Statistic, labels: np.ndarray, works: np.ndarray, n: int = 1000, seed: int = 0
) -> tuple[float, tuple[float, float]]:
    """A's figure minus B's on every item, and its 95% interval over work resamples shared by both."""
    everything = np.arange(len(labels))
    difference = statistic_a(everything) - statistic_b(everything)
    resamples = work_resamples(labels, works, n, seed)
    return difference, interval([statistic_a(sample) - statistic_b(sample) for sample in resamples])
