"""The reference every figure is read against: logistic regression on summary statistics.

Each window becomes the mean and standard deviation over time of its MFCC and chroma (64 numbers);
a standardised, class-balanced logistic regression (scikit-learn) classifies them, its
regularisation chosen on the validation side as the deep models' epochs are. Stored as JSON
(scaler and coefficients), never pickled.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from classicfy.errors import RunError
from classicfy.features.inputs import WindowSet, iter_batches


def summary_statistics(windows: WindowSet) -> np.ndarray:
    """(n_windows, 2 * (n_mfcc + n_chroma)): mean and std over time of each coefficient."""
    parts = [  # batch by batch: a large set's frames never sit in memory at once
        np.concatenate([batch.mean(axis=1), batch.std(axis=1)], axis=1) for batch in iter_batches(windows, 256)
    ]
    return np.concatenate(parts)


# Inverse regularisation strengths tried on the validation side, as the deep models' epochs are chosen.
C_GRID = (0.001, 0.01, 0.1, 1.0, 10.0)


class SummaryBaseline:
    """Standard scaling and logistic regression over summary statistics of `sequence` windows."""

    def __init__(self, n_classes: int, c: float = 1.0) -> None:
        self.n_classes = n_classes
        self.c = c

    def fit(self, windows: WindowSet, validation: WindowSet | None = None) -> SummaryBaseline:
        """Fit on `windows`; given a `validation` set, first choose `c` from `C_GRID` by its window macro-F1."""
        from sklearn.linear_model import LogisticRegression
        from sklearn.preprocessing import StandardScaler

        features = summary_statistics(windows)
        self.scaler_ = StandardScaler().fit(features)
        scaled = self.scaler_.transform(features)
        if validation is not None:
            self.c = self._best_c(scaled, windows.labels, validation)
        self.model_ = LogisticRegression(C=self.c, max_iter=2000, class_weight="balanced")
        self.model_.fit(scaled, windows.labels)
        return self

    def _best_c(self, scaled: np.ndarray, labels: np.ndarray, validation: WindowSet) -> float:
        """The grid's value with the best validation macro-F1 (the smallest of equals: the most regularised)."""
        from sklearn.linear_model import LogisticRegression

        from classicfy.evaluation.metrics import macro_f1

        held_out = self.scaler_.transform(summary_statistics(validation))
        scores = []
        for c in C_GRID:
            model = LogisticRegression(C=c, max_iter=2000, class_weight="balanced").fit(scaled, labels)
            scores.append(macro_f1(validation.labels, model.predict(held_out), self.n_classes))
        return C_GRID[int(np.argmax(scores))]

    def predict_proba(self, windows: WindowSet) -> np.ndarray:
        """Probabilities over all classes (zero for a class absent from training)."""
        scores = self.model_.predict_proba(self.scaler_.transform(summary_statistics(windows)))
        probs = np.zeros((len(scores), self.n_classes))
        probs[:, self.model_.classes_] = scores
        return probs

    def to_dict(self) -> dict[str, Any]:
        """What the run folder stores as `models/baseline.json`."""
        return {
            "family": "baseline",
            "n_classes": self.n_classes,
            "c": self.c,
            "scaler_mean": self.scaler_.mean_.tolist(),
            "scaler_scale": self.scaler_.scale_.tolist(),
            "classes": self.model_.classes_.tolist(),
            "coef": self.model_.coef_.tolist(),
            "intercept": self.model_.intercept_.tolist(),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any], where: Path | str = "baseline") -> SummaryBaseline:
        """The baseline `to_dict` describes; a damaged description is a `RunError` naming `where`."""
        try:
            return cls._from_dict(data)
        except (KeyError, TypeError, ValueError) as error:
            raise RunError(f"{where} is damaged: {error!r}") from None

    @classmethod
    def _from_dict(cls, data: dict[str, Any]) -> SummaryBaseline:
        from sklearn.linear_model import LogisticRegression
        from sklearn.preprocessing import StandardScaler

        baseline = cls(data["n_classes"], data["c"])
        baseline.scaler_ = StandardScaler()
        baseline.scaler_.mean_ = np.asarray(data["scaler_mean"])
        baseline.scaler_.scale_ = np.asarray(data["scaler_scale"])
        baseline.scaler_.var_ = baseline.scaler_.scale_**2
        baseline.scaler_.n_features_in_ = len(baseline.scaler_.mean_)
        baseline.model_ = LogisticRegression()
        baseline.model_.classes_ = np.asarray(data["classes"])
        baseline.model_.coef_ = np.asarray(data["coef"])
        baseline.model_.intercept_ = np.asarray(data["intercept"])
        return baseline
