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

    def __init__(self, strategy: str = "oversample") -> None:
        if strategy not in STRATEGIES:
            raise ValueError(f"strategy must be one of {', '.join(STRATEGIES)}, got {strategy!r}")
        self.strategy = strategy

    def fit(self, labels: np.ndarray, n_classes: int | None = None) -> DataBalancer:
        labels = np.asarray(labels, dtype=np.int64)
        n_classes = n_classes or int(labels.max()) + 1
        self.classes_ = np.arange(n_classes)
        self.counts_ = np.bincount(labels, minlength=n_classes)
        present = self.counts_ > 0
        weights = np.zeros(n_classes)
        weights[present] = 1.0 / self.counts_[present]
        self.class_weights_ = (weights * present.sum() / weights.sum()).astype(np.float32)
        self._members = [np.flatnonzero(labels == c) for c in self.classes_]
        return self

    def epoch_indices(self, rng: np.random.Generator) -> np.ndarray:
        """Shuffled indices of the windows to train on for one epoch."""
        indices = [members for members in self._members if len(members)]
        if self.strategy == "oversample":
            target = max(len(m) for m in indices)
            indices = [np.concatenate([m, rng.choice(m, target - len(m), replace=True)]) for m in indices]
        everything = np.concatenate(indices)
        return everything[rng.permutation(len(everything))]

    def loss_weights(self) -> np.ndarray | None:
        """Per-class loss weights, or None when the classes are balanced by sampling (or not at all)."""
        return self.class_weights_ if self.strategy == "weights" else None
