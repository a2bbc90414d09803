"""`--tensorboard`: training curves and confusion matrices that TensorBoard's own reader lists."""

from __future__ import annotations

import sys

import numpy as np
import tomllib
import torch
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from torch import nn

from classicfy.cli import main
from classicfy.config import TrainConfig
from classicfy.features.inputs import EmbeddingSet
from classicfy.models.base import ClassifierModel
from classicfy.rundir import ModelCard
from classicfy.training.trainer import Trainer

HEAD_CARD = ModelCard("head", "embedding", (8,), ["a", "b"], config={}, features={})

SCALARS = {"loss/train", "loss/val", "accuracy/train", "accuracy/val", "macro-F1/train", "macro-F1/val",
           "learning rate", "windows per second"}  # fmt: skip


class Head(ClassifierModel):
    input_kind = "embedding"

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.net = nn.Linear(8, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


def _events(folder) -> EventAccumulator:
    events = EventAccumulator(str(folder))
    events.Reload()
    return events


def test_train_with_tensorboard_logs_every_epoch_of_every_model(data, tmp_path):
    """The acceptance command's equivalent: event files under RUN/tb, one run per model, that
    TensorBoard's reader opens; the CSV history is still written."""
    run = tmp_path / "RUN"
    args = ["train", str(data), "--out", str(run), "--models", "cnn,gru", "--epochs", "2", "--window", "2",
            "--cache", str(tmp_path / "cache"), "--tensorboard", "--no-progress"]  # fmt: skip
    assert main(args) == 0
    assert tomllib.loads((run / "config.toml").read_text())["train"]["tensorboard"] is True
    for model in ("cnn", "gru"):
        events = _events(run / "tb" / model)
        assert set(events.Tags()["scalars"]) == SCALARS
        assert [e.step for e in events.Scalars("macro-F1/val")] == [1, 2]
        history = (run / "history" / f"{model}.csv").read_text().splitlines()
        val_loss = [float(line.split(",")[5]) for line in history[1:]]
        np.testing.assert_allclose([e.value for e in events.Scalars("loss/val")], val_loss, rtol=1e-6)
        images = events.Images("confusion matrix/val")
        assert [i.step for i in images] == [1, 2] and images[0].encoded_image_string.startswith(b"\x89PNG")


def test_a_resumed_model_drops_the_events_after_its_checkpoint(tmp_path):
    """A run killed after an epoch's events but before its checkpoint logs that epoch again on
    resume: TensorBoard must show it once."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(96, 8)).astype(np.float32)
    y = (x[:, 0] > 0).astype(np.int64)
    train, val = EmbeddingSet(x[:64], y[:64]), EmbeddingSet(x[64:], y[64:])
    config = TrainConfig(epochs=3, batch_size=8, tensorboard=True)
    first = Trainer("head", Head(), config, tmp_path, HEAD_CARD, n_classes=2)
    first.fit(train, val, progress=False, stop_after=2)
    again = Trainer("head", Head(), config, tmp_path, HEAD_CARD, n_classes=2)
    assert again.resume()
    again.state.epoch, again.state.history = 1, again.state.history[:1]  # as if epoch 2's checkpoint never came
    again.fit(train, val, progress=False)
    assert [e.step for e in _events(tmp_path / "tb" / "head").Scalars("loss/train")] == [1, 2, 3]


def test_without_tensorboard_installed_the_flag_is_one_line_before_any_work(data, tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", None)  # import fails, as when not installed
    args = ["train", str(data), "--out", str(tmp_path / "RUN"), "--models", "cnn", "--tensorboard"]
    assert main([*args, "--cache", str(tmp_path / "cache")]) == 2
    assert "pip install 'classicfy[tensorboard]'" in capsys.readouterr().err
    assert not (tmp_path / "RUN").exists()
