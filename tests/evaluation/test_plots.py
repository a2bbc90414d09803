from __future__ import annotations

import numpy as np
from PIL import Image

from classicfy.evaluation.plots import plot_timeline


def test_a_timeline_with_notes_draws_the_roll_under_the_probabilities(tmp_path):
    starts, probs = np.array([0.0, 10.0]), np.array([[0.7, 0.3], [0.2, 0.8]])
    alone = plot_timeline(starts, 10.0, probs, ["a", "b"], "t", tmp_path / "alone.png")
    notes = [(0.5, 1.0, 60, 0.8), (12.0, 13.5, 67, 0.4)]
    with_roll = plot_timeline(starts, 10.0, probs, ["a", "b"], "t", tmp_path / "roll.png", notes)
    assert Image.open(with_roll).height > 1.5 * Image.open(alone).height  # a second panel
    empty = plot_timeline(starts, 10.0, probs, ["a", "b"], "t", tmp_path / "none.png", [])  # nothing heard
    assert empty.is_file()
