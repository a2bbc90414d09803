from __future__ import annotations

import pytest
import torch

from classicfy.models import MODELS
from classicfy.training.pipeline import train_run
from classicfy.workspace import Workspace
from helpers import config_for


@pytest.mark.parametrize("name", sorted(MODELS))
def test_model_maps_its_input_to_class_logits(name):
    family = MODELS[name]
    shape = {"mel": (1, 96, 87), "mel_chroma": (87, 108), "musicnn": (3, 187, 96)}[family.input_kind]
    model = family(shape, n_classes=5).eval()
    assert model(torch.randn(3, *shape)).shape == (3, 5)


@pytest.mark.parametrize("name", sorted(MODELS))
@pytest.mark.slow
def test_each_model_learns_an_obvious_signal(data, tmp_path, name):
    result = train_run(config_for(data, (name,), epochs=6), tmp_path / "run", Workspace(tmp_path / "cache", 1, False))
    best = max(row["val_accuracy"] for row in result.states[name].history)
    assert best >= 0.8, f"{name} reached only {best:.2f} validation accuracy (chance is 0.33)"
