"""Cross-validation folds: the works of each label dealt into K folds, each fold once the test side.

Folds are stratified by label and grouped by work (scikit-learn's `StratifiedGroupKFold`), so every
recording is tested once, by models that never heard its work. Each fold's validation side is drawn
from the other folds' works by share of audio, as `split_by_group` draws it for a single run.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np

from classicfy.data.manifest import Recording, originals_and_renditions, split_by_group
from classicfy.errors import DatasetError


def fold_splits(
    recordings: list[Recording],
    windows: dict[Path, int],
    folds: int,
    val_fraction: float,
    fold_seed: int,
    validation_draws: int = 1,
) -> list[list[Recording]]:
    """Each fold's recordings with train/val/test sides; the fold's works are its test side.

    `val_fraction` is the share of all audio a single run would validate on; here it is taken from
    the other folds, which hold (K-1)/K of the audio. Folds are dealt over original recordings;
    renditions train beside their recordings and are never tested.
    """
    from sklearn.model_selection import StratifiedGroupKFold

    recordings, renditions = originals_and_renditions(recordings)
    labels = [r.label for r in recordings]
    works = {r.group for r in recordings}
    per_label = {label: len({r.group for r in recordings if r.label == label}) for label in set(labels)}
    thin = sorted(label for label, n in per_label.items() if n < folds)
    if thin:
        raise DatasetError(f"{folds} folds need at least {folds} works of every label; too few of {', '.join(thin)}")
    if len(works) < folds:
        raise DatasetError(f"{folds} folds need at least {folds} works, found {len(works)}")
    splitter = StratifiedGroupKFold(n_splits=folds, shuffle=True, random_state=fold_seed)
    rest_fraction = val_fraction / (1 - 1 / folds)
    splits = []
    for rest, held_out in splitter.split(np.zeros(len(recordings)), labels, [r.group for r in recordings]):
        others = [recordings[i] for i in rest]
        heard = {r.path for r in others}
        others += [r for r in renditions if r.rendition_of in heard]
        sides = split_by_group(others, rest_fraction, 0.0, fold_seed, windows, validation_draws)
        splits.append(sides + [replace(recordings[i], split="test") for i in held_out])
    return splits
