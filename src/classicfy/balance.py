"""`DataBalancer`: make every class count the same in training, by oversampling or by weights.

Follows scikit-learn's conventions: hyperparameters in `__init__`, `fit` learns `classes_`,
`counts_` and `class_weights_` and returns self. Only training data is ever balanced.
"""

from __future__ import annotations

import numpy as np

STRATEGIES = ("oversample", "weights", "none")


class DataBalancer:
    """Balances classes of training windows.

    `oversample`: each epoch draws every original window once, plus random repeats of the windows
    of smaller classes until each class has as many as the largest. `weights`: every window once,
    and `class_weights_` (inverse frequency, mean 1) for the loss. `none`: every window once.
    """

    def __init__(self, strategy: str = "oversample", max_per_class: int | None = None) -> None:
        if strategy not in STRATEGIES:
            raise ValueError(f"strategy must be one of {', '.join(STRATEGIES)}, got {strategy!r}")
        if max_per_class is not None and max_per_class < 1:
            raise ValueError(f"max_per_class must be at least 1, got {max_per_class}")
        self.strategy = strategy
        self.max_per_class = max_per_class

    def fit(self, labels: np.ndarray, n_classes: int | None = None) -> DataBalancer:
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
        return self

    def epoch_indices(self, rng: np.random.Generator) -> np.ndarray:
        """Shuffled indices of the windows to train on for one epoch.

        With `max_per_class`, a class with more windows contributes a fresh random subset of that
        many each epoch, which bounds epochs when a few long works dominate a class.
        """
        indices = [members for members in self._members if len(members)]
        cap = self.max_per_class
        if cap is not None:
            indices = [rng.choice(m, cap, replace=False) if len(m) > cap else m for m in indices]
        if self.strategy == "oversample":
            target = max(len(m) for m in indices)
            indices = [np.concatenate([m, rng.choice(m, target - len(m), replace=True)]) for m in indices]
        everything = np.concatenate(indices)
        return everything[rng.permutation(len(everything))]

    def loss_weights(self) -> np.ndarray | None:
        """Per-class loss weights, or None when the classes are balanced by sampling (or not at all)."""
        return self.class_weights_ if self.strategy == "weights" else None


def at_most_per_class(labels: np.ndarray, cap: int | None, rng: np.random.Generator) -> np.ndarray:
    """Sorted indices of at most `cap` windows of each class, drawn without replacement; all when `cap` is None."""
    labels = np.asarray(labels)
    if cap is None:
        return np.arange(len(labels))
    members = [np.flatnonzero(labels == c) for c in np.unique(labels)]
    chosen = [rng.choice(m, cap, replace=False) if len(m) > cap else m for m in members]
    return np.sort(np.concatenate(chosen)) if chosen else np.arange(0)
