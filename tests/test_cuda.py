"""The device contract on a real GPU: training, prediction and weights that move between devices.
Runs wherever CUDA exists, and is skipped elsewhere (the same code paths run on the CPU in
`test_devices.py`)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from torch import nn

from classicfy.cli import main
from classicfy.config import TrainConfig
from classicfy.features.inputs import EmbeddingSet
from classicfy.models.base import ClassifierModel
from classicfy.predict import Classifier
from classicfy.rundir import ModelCard
from classicfy.training.trainer import Trainer

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")


def _train(data, run, cache, device: str, *extra: str) -> None:
    args = ["train", str(data), "--out", str(run), "--models", "cnn,gru", "--epochs", "2", "--window", "1",
            "--cache", str(cache), "--no-progress", "--device", device, *extra]  # fmt: skip
    assert main(args) == 0


def _probabilities(run, device: str, files) -> np.ndarray:
    classifier = Classifier.load(run, device=device)
    return np.array([[p for p in answer.probabilities.values()] for answer in classifier.predict(files)])


def test_a_run_trained_on_the_gpu_is_a_normal_run_that_predicts_alike_on_either_device(tone_dataset, tmp_path):
    _train(tone_dataset, tmp_path / "gpu", tmp_path / "cache", "cuda")
    card = json.loads((tmp_path / "gpu" / "models" / "cnn.json").read_text())
    assert card["training"]["precision"] in ("bf16", "fp16")
    files = sorted(tone_dataset.rglob("*.flac"))[:4]
    on_gpu, on_cpu = _probabilities(tmp_path / "gpu", "cuda", files), _probabilities(tmp_path / "gpu", "cpu", files)
    assert np.isfinite(on_gpu).all() and np.allclose(on_gpu, on_cpu, atol=1e-3)
    assert main(["evaluate", str(tmp_path / "gpu"), "--device", "cuda", "--no-progress",
                 "--cache", str(tmp_path / "cache")]) == 0  # fmt: skip


def test_a_run_trained_on_the_cpu_predicts_alike_on_the_gpu(tone_dataset, tmp_path):
    _train(tone_dataset, tmp_path / "cpu", tmp_path / "cache", "cpu")
    files = sorted(tone_dataset.rglob("*.flac"))[:4]
    assert np.allclose(_probabilities(tmp_path / "cpu", "cuda", files), _probabilities(tmp_path / "cpu", "cpu", files),
                       atol=1e-3)  # fmt: skip


class Head(ClassifierModel):
    input_kind = "embedding"

    def __init__(self) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(8, 16), nn.BatchNorm1d(16), nn.ReLU(), nn.Linear(16, 2))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


def test_a_checkpoint_written_on_the_gpu_resumes_on_the_cpu(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(160, 8)).astype(np.float32)
    y = (x[:, 0] > 0).astype(np.int64)
    train, val = EmbeddingSet(x[:120], y[:120]), EmbeddingSet(x[120:], y[120:])
    card = ModelCard("head", "embedding", (8,), ["a", "b"], config={}, features={})
    config = TrainConfig(epochs=3, batch_size=8, patience=10, precision="auto")

    def trainer(device: str) -> Trainer:
        torch.manual_seed(0)
        return Trainer("head", Head(), config, tmp_path, card, n_classes=2, device=torch.device(device))

    trainer("cuda").fit(train, val, progress=False, stop_after=1)
    on_cpu = trainer("cpu")
    assert on_cpu.resume() and on_cpu.state.epoch == 1
    state = on_cpu.fit(train, val, progress=False)
    assert state.epoch == 3 and state.history[-1]["val_accuracy"] > 0.8
