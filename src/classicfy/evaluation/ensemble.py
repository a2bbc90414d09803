"""`EnsembleModel`: one answer from several models, by averaging their class probabilities.

By default the average is plain. Optionally the weights are fitted on the validation split
(minimising its log loss over the simplex), never on test data; with a validation split of a few
works per class, fitted weights can chase its noise (see the README's demo figures), which is why
they are not the default. Stored in the run folder as `models/ensemble.json`.
"""

from __future__ import annotations

import json
from functools import reduce
from pathlib import Path

import numpy as np

from classicfy import atomic

EPS = 1e-7


def shared_windows(keys: dict[str, np.ndarray]) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """The window keys every member scored, and where each member has them.

    Members built on different feature kinds (sample rates) can differ by a window at the end of a
    recording; the ensemble answers on the windows they share.
    """
    common = reduce(np.intersect1d, keys.values())
    return common, {name: np.intersect1d(common, own, return_indices=True)[2] for name, own in keys.items()}


class EnsembleModel:
    """Weighted mean of member probabilities; scikit-learn style (`fit` returns self, `weights_`)."""

    def __init__(self, members: list[str], weights: list[float] | None = None) -> None:
        if not members:
            raise ValueError("an ensemble needs at least one member")
        self.members = list(members)
        if weights is not None:
            self._set_weights(np.asarray(weights, dtype=float))

    def _set_weights(self, weights: np.ndarray) -> None:
        if len(weights) != len(self.members) or np.any(weights < 0) or weights.sum() <= 0:
            raise ValueError(f"need {len(self.members)} non-negative weights, got {weights.tolist()}")
        self.weights_ = weights / weights.sum()

    @property
    def weights(self) -> np.ndarray:
        return getattr(self, "weights_", np.full(len(self.members), 1.0 / len(self.members)))

    def predict_proba(self, member_probs: dict[str, np.ndarray]) -> np.ndarray:
        stacked = np.stack([member_probs[name] for name in self.members])
        return np.tensordot(self.weights, stacked, axes=1)

    @property
    def fitted(self) -> bool:
        return hasattr(self, "fitted_on_")

    def fit(self, member_probs: dict[str, np.ndarray], y: np.ndarray) -> EnsembleModel:
        """Weights that minimise the log loss of the weighted mean on (validation) data."""
        from scipy.optimize import minimize

        stacked = np.stack([member_probs[name] for name in self.members])
        y = np.asarray(y)

        def loss(logits: np.ndarray) -> float:
            weights = np.exp(logits - logits.max())
            weights /= weights.sum()
            mixed = np.tensordot(weights, stacked, axes=1)
            return -float(np.mean(np.log(np.clip(mixed[np.arange(len(y)), y], EPS, 1.0))))

        start = np.zeros(len(self.members))
        best = minimize(loss, start, method="Nelder-Mead", options={"xatol": 1e-4, "fatol": 1e-6, "maxiter": 2000})
        weights = np.exp(best.x - best.x.max())
        self._set_weights(weights if best.fun <= loss(start) else np.ones(len(self.members)))
        self.fitted_on_ = "val"
        return self

    def save(self, path: Path) -> None:
        data = {
            "members": self.members,
            "weights": self.weights.tolist(),
            "fitted_on": getattr(self, "fitted_on_", None),
        }
        atomic.write_text(path, json.dumps(data, indent=2))

    @classmethod
    def load(cls, path: Path) -> EnsembleModel:
        data = json.loads(Path(path).read_text())
        ensemble = cls(data["members"], data["weights"])
        if data.get("fitted_on"):
            ensemble.fitted_on_ = data["fitted_on"]
        return ensemble
