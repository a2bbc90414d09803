from __future__ import annotations

from pathlib import Path

import pytest
import torch

from classicfy.config import AudioConfig, AugmentConfig, FeatureConfig, RunConfig, TrainConfig
from classicfy.data.synthetic import write_tone_dataset
from classicfy.models import MODELS
from classicfy.training.pipeline import train_run
from classicfy.workspace import Workspace

FEATURES = FeatureConfig(audio=AudioConfig(window_s=2.0, hop_s=2.0))


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("tones")
    write_tone_dataset(root, works_per_label=4, recordings_per_work=2, seconds=6.0)
    return root


def config_for(data: Path, models: tuple[str, ...], epochs: int, copies: int = 0, **train) -> RunConfig:
    return RunConfig(
        data=str(data),
        models=models,
        val_fraction=0.25,
        test_fraction=0.25,
        features=FEATURES,
        train=TrainConfig(epochs=epochs, batch_size=8, **train),
        augment=AugmentConfig(copies=copies),
    )


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
