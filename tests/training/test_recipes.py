from __future__ import annotations

from classicfy.training.recipes import demo_config


def test_the_demo_gives_every_composer_as_many_augmented_copies():
    windows = {"bach": 150, "beethoven": 900}  # more copies for Bach would make "processed" a cue for him
    for quick in (False, True):
        assert demo_config(quick).augment.copies_per_label(windows) == {"bach": 1, "beethoven": 1}
