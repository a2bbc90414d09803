from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from classicfy.config import TrainConfig
from classicfy.devices import training_precision
from classicfy.features.inputs import EmbeddingSet
from classicfy.models import MODELS
from classicfy.models.base import ClassifierModel
from classicfy.models.trained import predict_logits
from classicfy.rundir import ModelCard, load_tensors
from classicfy.training.pipeline import train_run
from classicfy.training.trainer import Trainer
from classicfy.workspace import Workspace
from helpers import config_for

HEAD_CARD = ModelCard("head", "embedding", (8,), ["a", "b"], config={}, features={})


class Head(ClassifierModel):
    """A small classifier of 8-number embeddings, for trainer tests."""

    input_kind = "embedding"

    def __init__(self, *layers: nn.Module) -> None:
        super().__init__()
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


@pytest.mark.parametrize("name", ["cnn", "gru"])
def test_bfloat16_training_learns_too_and_the_model_says_so(data, tmp_path, name):
    run = tmp_path / "run"
    result = train_run(
        config_for(data, (name,), epochs=6, precision="bf16"), run, Workspace(tmp_path / "cache", 1, False)
    )
    assert max(row["val_accuracy"] for row in result.states[name].history) >= 0.8
    assert json.loads((run / "models" / f"{name}.json").read_text())["training"]["precision"] == "bf16"
    with pytest.raises(ValueError, match="precision must be one of"):
        TrainConfig(precision="fp16")


def test_auto_precision_keeps_a_gru_in_float32_on_a_cpu():
    cpu = torch.device("cpu")
    gru, cnn = MODELS["gru"]((87, 108), 3), MODELS["cnn"]((1, 96, 87), 3)  # bfloat16 slows a recurrence on any CPU
    assert training_precision("auto", cpu, gru.prefers_bf16).name == "fp32"
    assert training_precision("bf16", cpu, gru.prefers_bf16).name == "bf16"
    assert training_precision("fp32", cpu, cnn.prefers_bf16).name == "fp32"
    assert not training_precision("bf16", cpu, True).scales_gradients


def test_with_weight_averaging_the_saved_model_is_the_average_that_was_scored(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(160, 8)).astype(np.float32)
    y = (x[:, 0] + 0.5 * rng.normal(size=160) > 0).astype(np.int64)
    train, val = EmbeddingSet(x[:120], y[:120]), EmbeddingSet(x[120:], y[120:])

    def head() -> Head:
        torch.manual_seed(0)
        return Head(nn.Linear(8, 16), nn.BatchNorm1d(16), nn.ReLU(), nn.Linear(16, 2))

    model = head()
    config = TrainConfig(epochs=4, batch_size=8, patience=10, ema_epochs=2.0)
    state = Trainer("head", model, config, tmp_path, HEAD_CARD, n_classes=2).fit(train, val, progress=False)

    saved, _ = load_tensors(tmp_path / "models" / "head.safetensors")
    assert not torch.equal(
        saved["net.0.weight"], model.state_dict()["net.0.weight"]
    )  # not the optimizer's last weights
    reloaded = head()
    reloaded.load_state_dict(saved)
    val_loss = nn.functional.cross_entropy(
        torch.from_numpy(predict_logits(reloaded, val)), torch.from_numpy(val.labels)
    )
    assert float(val_loss) == pytest.approx(state.history[state.best_epoch - 1]["val_loss"], rel=1e-5)
    with pytest.raises(ValueError, match="ema_epochs"):
        TrainConfig(ema_epochs=-1)


def test_keep_last_runs_every_epoch_and_saves_the_final_weights(tmp_path):
    rng = np.random.default_rng(1)
    x = rng.normal(size=(160, 8)).astype(np.float32)
    y = (x[:, 0] + 0.5 * rng.normal(size=160) > 0).astype(np.int64)
    train, val = EmbeddingSet(x[:120], y[:120]), EmbeddingSet(x[120:], 1 - y[120:])  # a validation side to get worse on

    def fit(keep: str, out: Path) -> tuple[nn.Module, object]:
        torch.manual_seed(0)
        model = Head(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 2))
        config = TrainConfig(epochs=5, batch_size=8, patience=1, keep=keep)
        return model, Trainer("head", model, config, out, HEAD_CARD, n_classes=2).fit(train, val, progress=False)

    model, state = fit("last", tmp_path / "last")
    assert state.epoch == 5 and not state.stopped_early and state.best_epoch < 5
    saved, _ = load_tensors(tmp_path / "last" / "models" / "head.safetensors")
    for name, tensor in model.state_dict().items():
        torch.testing.assert_close(saved[name], tensor, rtol=0, atol=0)
    summary = json.loads((tmp_path / "last" / "models" / "head.json").read_text())["training"]
    assert (summary["kept"], summary["epoch"]) == ("last", 5)

    _, state = fit("best", tmp_path / "best")
    assert state.stopped_early and state.epoch < 5  # the same fit, stopped by patience
    with pytest.raises(ValueError, match="keep"):
        TrainConfig(keep="middle")


def test_a_model_whose_loss_diverges_is_stopped_and_never_saved_as_best(data, tmp_path, capsys):
    """Issue 23, defect 3: `train --lr 1e9` kept a NaN epoch as the best and saved it."""
    from classicfy.cli import main

    run = tmp_path / "run"
    args = ["train", str(data), "--out", str(run), "--models", "gru", "--epochs", "3", "--lr", "1e9",
            "--window", "2", "--augment-copies", "0", "--cache", str(tmp_path / "c"), "--no-progress"]  # fmt: skip
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "gru diverged in epoch" in err and "lower --lr" in err and err.count("\n") == 1
    saved = run / "models" / "gru.safetensors"
    if saved.exists():  # an epoch before the divergence was finite: only it may have been kept
        tensors, _ = load_tensors(saved)
        assert all(t.isfinite().all() for t in tensors.values() if t.is_floating_point())
