"""`EnsembleModel`: one answer from several models, by averaging their class probabilities.

By default (`EnsembleModel.balanced`) the models that answer whole recordings weigh as much, together,
as the models that answer windows; within each kind the average is plain. Optionally the weights
are fitted on the validation split (minimising its log loss over the simplex), never on test data;
with a validation split of a few works per class, fitted weights can chase its noise
(docs/experiments.md), which is why they are not the default. Stored in the run folder as
`models/ensemble.json`.
"""

from __future__ import annotations

from collections.abc import Collection
from functools import reduce
from pathlib import Path
from typing import Any

import numpy as np

from classicfy.errors import RunError

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
        self.weights_: np.ndarray | None = None
        self.fitted_on_: str | None = None  # the split the weights were fitted on; None: given or equal
        if weights is not None:
            self._set_weights(np.asarray(weights, dtype=float))

    @classmethod
    def balanced(
        cls, members: list[str], answering_recordings: Collection[str], recording_share: float = 0.5
    ) -> EnsembleModel:
        """The default ensemble: the members in `answering_recordings` share `recording_share` of the
        weight (by default half: as much as the window members together), the window members the
        rest; a plain average when all are of one kind."""
        per_recording = [name in answering_recordings for name in members]
        if all(per_recording) or not any(per_recording):
            return cls(members)
        n_recording, n_window = sum(per_recording), per_recording.count(False)
        window_share = 1 - recording_share
        return cls(members, [recording_share / n_recording if r else window_share / n_window for r in per_recording])

    @property
    def plain(self) -> bool:
        return bool(np.allclose(self.weights, self.weights[0]))

    def _set_weights(self, weights: np.ndarray) -> None:
        if (
            len(weights) != len(self.members)
            or not np.all(np.isfinite(weights))
            or np.any(weights < 0)
            or weights.sum() <= 0
        ):
            raise ValueError(f"need {len(self.members)} non-negative weights, got {weights.tolist()}")
        self.weights_ = weights / weights.sum()

    @property
    def weights(self) -> np.ndarray:
        return self.weights_ if self.weights_ is not None else np.full(len(self.members), 1.0 / len(self.members))

    def predict_proba(self, member_probs: dict[str, np.ndarray]) -> np.ndarray:
        stacked = np.stack([member_probs[name] for name in self.members])
        return np.tensordot(self.weights, stacked, axes=1)

    def part(self, members: list[str]) -> EnsembleModel | None:
        """The ensemble of those of its members in `members`, their weights renormalised (None: none is)."""
        weights = {name: w for name, w in zip(self.members, self.weights, strict=True) if name in members}
        return EnsembleModel(list(weights), list(weights.values())) if weights else None

    @property
    def fitted(self) -> bool:
        return self.fitted_on_ is not None

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

    def to_dict(self) -> dict[str, Any]:
        """What the run folder stores as `models/ensemble.json`."""
        return {"members": self.members, "weights": self.weights.tolist(), "fitted_on": self.fitted_on_}

    @classmethod
    def from_dict(cls, values: dict[str, Any], where: Path | str = "ensemble") -> EnsembleModel:
        """The ensemble `to_dict` describes; a damaged description is a `RunError` naming `where`."""
        try:
            ensemble = cls([str(name) for name in values["members"]], values["weights"])
        except (KeyError, TypeError, ValueError) as error:
            raise RunError(f"{where} is damaged: {error!r}") from None
        ensemble.fitted_on_ = values.get("fitted_on") or None
        return ensemble
