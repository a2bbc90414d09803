"""What a model said about a set of windows: the record every figure of an evaluation is drawn from."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class ScoredSet:
    """Window probabilities of one model on a set of windows, with what is needed to score them.

    A model that answers whole recordings gives each window its recording's answer: its recording
    figures stand, and it has no window figures (`per_window` False). Nor has an ensemble it joins,
    but for `window_members`: the mix of its members that answer windows, scored per window instead.
    """

    probs: np.ndarray
    labels: np.ndarray
    recording_of: np.ndarray
    keys: np.ndarray
    per_window: bool = True
    window_members: ScoredSet | None = None

    @property
    def window_figures(self) -> ScoredSet | None:
        """The windows its window figures are scored on: its own, its window members' mix, or none."""
        return self if self.per_window else self.window_members
