"""Named training recipes: the demo's, full and quick, as `RunConfig`s.

A recipe change is adopted only on cross-validation (docs/experiments.md keeps each trial).
"""

from __future__ import annotations

from dataclasses import dataclass

from classicfy.config import AugmentConfig, RunConfig, TrainConfig

DEMO_MODELS = ("cnn", "gru", "vgg", "vgg-pretrained")
# A work is in one key and a composer writes in all of them: shifts of up to a tritone either way can
# put a training window in any key, so no model learns a composer from the keys of his training works.
DEMO_PITCH_SHIFT = 6.0


@dataclass(frozen=True)
class DemoRecipe:
    data: str
    epochs: int
    max_windows_per_class: int
    patience: int = 5


# --quick trades accuracy for a run of a few minutes on a small corpus.
DEMO_RECIPES = {
    "full": DemoRecipe("builtin:composers", epochs=15, max_windows_per_class=300),
    "quick": DemoRecipe("builtin:composers-quick", epochs=8, max_windows_per_class=100),
}


def demo_config(quick: bool = False, models: tuple[str, ...] | None = None, epochs: int | None = None) -> RunConfig:
    """The demo's run configuration (also what cross-validation of the demo recipe trains)."""
    recipe = DEMO_RECIPES["quick" if quick else "full"]
    return RunConfig(
        data=recipe.data,
        models=DEMO_MODELS if models is None else models,  # an empty list is refused, not replaced
        train=TrainConfig(
            epochs=epochs or recipe.epochs,
            patience=recipe.patience,
            max_windows_per_class=recipe.max_windows_per_class,
            seed=0,
        ),
        # One copy of every recording, whatever its class: were the small classes given more, their
        # windows would be processed more often and "sounds processed" would name a composer.
        augment=AugmentConfig(copies=1, max_semitones=DEMO_PITCH_SHIFT),
    )
