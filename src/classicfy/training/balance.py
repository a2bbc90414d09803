"""`DataBalancer`: make every class count the same in training, by oversampling or by weights.

Follows scikit-learn's conventions: hyperparameters in `__init__`, `fit` learns `classes_`,
`counts_` and `class_weights_` and returns self. Only training data is ever balanced.
"""

from __future__ import annotations

import numpy as np

STRATEGIES = ("oversample", "weights", "none")


class DataBalancer:
    """Balances classes of training windows.

    `oversample`: each epoch draws every window once, plus random repeats of the windows of smaller
    classes until each class has as many as the largest. `weights`: every window once, and
    `class_weights_` (inverse frequency, mean 1) for the loss. `none`: every window once.

    Given which windows are `augmented` copies, `oversample` draws every class with the same share
    of copies: the largest share any class has (`copy_share_`), so no class's originals are repeated
    more than its pool makes them. Without, a class's draw holds copies as its pool does, and when
    small classes get more copies than large ones "sounds processed" means "small class": a
    pretrained model trained so heard a Beethoven quartet shifted by two semitones as Mozart, and a
    Palestrina mass shifted by one as Josquin (`bench/shortcut.py` measures this). Equal shares
    weaken that cue but train the large classes mostly on processed audio (docs/training.md).
    """

    def __init__(self, strategy: str = "oversample", max_per_class: int | None = None) -> None:
        if strategy not in STRATEGIES:
            raise ValueError(f"strategy must be one of {', '.join(STRATEGIES)}, got {strategy!r}")
        if max_per_class is not None and max_per_class < 1:
            raise ValueError(f"max_per_class must be at least 1, got {max_per_class}")
        self.strategy = strategy
        self.max_per_class = max_per_class

    def fit(
        self, labels: np.ndarray, n_classes: int | None = None, augmented: np.ndarray | None = None
    ) -> DataBalancer:
        labels = np.asarray(labels, dtype=np.int64)
        n_classes = n_classes or int(labels.max()) + 1
        self.classes_ = np.arange(n_classes)
        self.counts_ = np.bincount(labels, minlength=n_classes)
        present = self.counts_ > 0
        # What an epoch really holds of each class: all of it, or the cap.
        per_epoch = np.minimum(self.counts_, self.max_per_class or self.counts_.max())
        weights = np.zeros(n_classes)
        weights[present] = 1.0 / per_epoch[present]
        self.class_weights_ = (weights * present.sum() / weights.sum()).astype(np.float32)
        self._members = [np.flatnonzero(labels == c) for c in self.classes_]
        self.copy_share_ = None
        if augmented is not None:
            copies = np.asarray(augmented, dtype=bool)
            self._strata = [_strata(members, copies) for members in self._members]
            self.copy_share_ = _copy_share(self._members, copies)
        return self

    def epoch_indices(self, rng: np.random.Generator) -> np.ndarray:
        """Shuffled indices of the windows to train on for one epoch.

        With `max_per_class`, a class with more windows contributes a fresh random subset of that
        many each epoch, which bounds epochs when a few long works dominate a class.
        """
        if self.strategy == "oversample" and self.copy_share_ is not None:
            return self._equal_copy_share_indices(rng)
        indices = [members for members in self._members if len(members)]
        cap = self.max_per_class
        if cap is not None:
            indices = [rng.choice(m, cap, replace=False) if len(m) > cap else m for m in indices]
        if self.strategy == "oversample":
            target = max(len(m) for m in indices)
            indices = [np.concatenate([m, rng.choice(m, target - len(m), replace=True)]) for m in indices]
        everything = np.concatenate(indices)
        return everything[rng.permutation(len(everything))]

    def _equal_copy_share_indices(self, rng: np.random.Generator) -> np.ndarray:
        """As oversampling, with each class's draw split between originals and copies at `copy_share_`."""
        cap = self.max_per_class
        present = [
            (members, strata) for members, strata in zip(self._members, self._strata, strict=True) if len(members)
        ]
        target = max(min(len(members), cap or len(members)) for members, _ in present)
        indices = [
            _draw(stratum, quota, rng)
            for _, strata in present
            for stratum, quota in _split(strata, target, self.copy_share_ or 0.0)
        ]
        everything = np.concatenate(indices)
        return everything[rng.permutation(len(everything))]

    def loss_weights(self) -> np.ndarray | None:
        """Per-class loss weights, or None when the classes are balanced by sampling (or not at all)."""
        return self.class_weights_ if self.strategy == "weights" else None


def _strata(members: np.ndarray, augmented: np.ndarray) -> list[np.ndarray]:
    """A class's originals and its augmented copies, leaving out whichever it has none of."""
    return [part for part in (members[~augmented[members]], members[augmented[members]]) if len(part)]


def _copy_share(classes: list[np.ndarray], augmented: np.ndarray) -> float:
    """The largest share of augmented copies among the classes that have both originals and copies."""
    shares = [augmented[members].mean() for members in classes if 0 < augmented[members].sum() < len(members)]
    return float(max(shares, default=0.0))


def _split(strata: list[np.ndarray], total: int, copy_share: float) -> list[tuple[np.ndarray, int]]:
    """`total` shared between a class's originals and copies, `copy_share` of it to the copies."""
    if len(strata) == 1:
        return [(strata[0], total)]
    copies = round(total * copy_share)
    return [(strata[0], total - copies), (strata[1], copies)]


def _draw(indices: np.ndarray, count: int, rng: np.random.Generator) -> np.ndarray:
    """`count` of `indices`: a random subset when there are enough, else all of them plus random repeats."""
    if len(indices) >= count:
        return rng.choice(indices, count, replace=False)
    return np.concatenate([indices, rng.choice(indices, count - len(indices), replace=True)])


def at_most_per_class(
    labels: np.ndarray, cap: int | None, rng: np.random.Generator, augmented: np.ndarray | None = None
) -> np.ndarray:
    """Sorted indices of at most `cap` windows of each class, drawn without replacement; all when
    `cap` is None. Given `augmented`, every class's cap is shared between originals and copies as
    `DataBalancer` shares its draws."""
    labels = np.asarray(labels)
    if cap is None:
        return np.arange(len(labels))
    copies = np.zeros(len(labels), bool) if augmented is None else np.asarray(augmented, dtype=bool)
    classes = [np.flatnonzero(labels == c) for c in np.unique(labels)]
    share = _copy_share(classes, copies)
    chosen = [
        rng.choice(stratum, quota, replace=False) if len(stratum) > quota else stratum
        for members in classes
        for stratum, quota in _split(_strata(members, copies), cap, share)
    ]
    return np.sort(np.concatenate(chosen)) if chosen else np.arange(0)
