"""Training on two CPU ranks with gloo, launched by torchrun as users launch it."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

from classicfy.cli import main

TORCHRUN = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2"]

# Each rank trains the same small head; after every optimizer step the ranks compare their weights,
# and the follower records every file it would have written (it must write none).
RANK_SCRIPT = textwrap.dedent(
    """
    import json, sys
    import numpy as np, torch, torch.distributed as dist
    from torch import nn
    from classicfy import atomic
    from classicfy.config import TrainConfig
    from classicfy.features.inputs import EmbeddingSet
    from classicfy.models.base import ClassifierModel
    from classicfy.rundir import ModelCard
    from classicfy.training.trainer import Trainer

    dist.init_process_group("gloo")
    rank, out = dist.get_rank(), sys.argv[1]
    written = []
    if rank:
        atomic.write_bytes = lambda path, data: written.append(str(path))
        atomic.write_text = lambda path, text: written.append(str(path))

    class Head(ClassifierModel):
        input_kind = "embedding"
        def __init__(self):
            super().__init__()
            torch.manual_seed(rank)  # different starting weights: DDP must replace them with the leader's
            self.net = nn.Sequential(nn.Linear(8, 16), nn.BatchNorm1d(16), nn.ReLU(), nn.Linear(16, 2))
        def forward(self, x):
            return self.net(x)

    differences = []
    step = Trainer._step
    def checked_step(self, *args):
        result = step(self, *args)
        flat = torch.cat([p.detach().flatten() for p in self.model.parameters()])
        everyone = [torch.zeros_like(flat) for _ in range(dist.get_world_size())]
        dist.all_gather(everyone, flat)
        differences.append(float((everyone[0] - everyone[1]).abs().max()))
        return result
    Trainer._step = checked_step

    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 8)).astype(np.float32)
    y = (x[:, 0] > 0).astype(np.int64)
    card = ModelCard("head", "embedding", (8,), ["a", "b"], config={}, features={})
    config = TrainConfig(epochs=3, batch_size=16, patience=10, learning_rate=0.02)
    trainer = Trainer("head", Head(), config, out, card, n_classes=2)
    state = trainer.fit(EmbeddingSet(x[:160], y[:160]), EmbeddingSet(x[160:], y[160:]), progress=False)
    with open(f"{out}/rank{rank}.json", "w") as f:
        json.dump({"differences": differences, "written": written, "history": state.history}, f)
    dist.destroy_process_group()
    """
)


def test_two_ranks_hold_identical_weights_after_every_step_and_the_leader_alone_writes(tmp_path):
    script = tmp_path / "rank.py"
    script.write_text(RANK_SCRIPT)
    done = subprocess.run([*TORCHRUN, str(script), str(tmp_path)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    leader, follower = (json.loads((tmp_path / f"rank{r}.json").read_text()) for r in (0, 1))
    steps = leader["differences"]  # three epochs of at least 160 balanced examples, 16 a step
    assert len(steps) >= 3 * 10 and len(follower["differences"]) == len(steps)
    assert max(steps + follower["differences"]) == 0.0
    untimed = [[{k: v for k, v in row.items() if k not in ("windows_per_s", "seconds")} for row in side["history"]]
               for side in (leader, follower)]  # fmt: skip
    assert follower["written"] == [] and untimed[0] == untimed[1]
    assert leader["history"][-1]["val_accuracy"] > 0.8
    history = (tmp_path / "history" / "head.csv").read_text().splitlines()
    assert len(history) == 1 + 3  # a header and each epoch once
    assert all((tmp_path / folder / "head.safetensors").exists() for folder in ("models", "checkpoints"))


@pytest.mark.slow
def test_torchrun_trains_a_normal_run_that_evaluates_and_predicts(data, tmp_path, capsys):
    run, cache = tmp_path / "RUN2", tmp_path / "cache"
    command = [*TORCHRUN, "-m", "classicfy", "train", str(data), "--out", str(run), "--models", "cnn", "--epochs",
               "2", "--window", "2", "--cache", str(cache), "--no-progress"]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.count("best validation macro-F1") == 1  # the leader alone reports
    assert len((run / "history" / "cnn.csv").read_text().splitlines()) == 3
    assert not list(run.rglob("*.tmp*"))
    assert main(["evaluate", str(run), "--cache", str(cache), "--no-progress"]) == 0
    assert main(["predict", str(run), str(data), "--no-progress", "--jobs", "1"]) == 0
    assert "windows" in capsys.readouterr().out


def test_nproc_relaunches_the_same_command_through_torchrun(tmp_path, monkeypatch):
    import torch.distributed.run as torchrun

    launched: list[list[str]] = []
    monkeypatch.setattr(torchrun, "main", lambda args: launched.append(args))
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    args = ["train", str(tmp_path), "--out", str(tmp_path / "run"), "--nproc", "2", "--epochs", "1"]
    assert main(args) == 0
    assert launched == [["--nproc-per-node", "2", "--standalone", "-m", "classicfy", "train", str(tmp_path),
                         "--out", str(tmp_path / "run"), "--epochs", "1"]]  # fmt: skip
