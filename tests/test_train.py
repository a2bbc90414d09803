from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from classicfy.cli import main
from classicfy.config import AudioConfig, AugmentConfig, FeatureConfig, RunConfig, TrainConfig
from classicfy.data.synthetic import write_tone_dataset
from classicfy.errors import DatasetError, RunError
from classicfy.features.inputs import EmbeddingSet
from classicfy.models import MODELS
from classicfy.models.base import ClassifierModel
from classicfy.models.trained import predict_logits
from classicfy.rundir import ModelCard, RunFolder, load_tensors
from classicfy.training.pipeline import prepare_run, train_run
from classicfy.training.trainer import Trainer, uses_bf16
from classicfy.workspace import Workspace

FEATURES = FeatureConfig(audio=AudioConfig(window_s=2.0, hop_s=2.0))
HEAD_CARD = ModelCard("head", "embedding", (8,), ["a", "b"], config={}, features={})


class Head(ClassifierModel):
    """A small classifier of 8-number embeddings, for trainer tests."""

    input_kind = "embedding"

    def __init__(self, *layers: nn.Module) -> None:
        super().__init__()
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


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
def test_each_model_learns_an_obvious_signal(data, tmp_path, name):
    result = train_run(config_for(data, (name,), epochs=6), tmp_path / "run", Workspace(tmp_path / "cache", 1, False))
    best = max(row["val_accuracy"] for row in result.states[name].history)
    assert best >= 0.8, f"{name} reached only {best:.2f} validation accuracy (chance is 0.33)"


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


def test_a_cnn_file_from_before_max_pooling_still_loads(tmp_path):
    """Its JSON has no `pooling` key: its head reads each channel's mean and maximum."""
    from dataclasses import asdict

    from classicfy.models.cnn import CNNConfig
    from classicfy.models.trained import load_model
    from classicfy.rundir import MODEL_FORMAT, save_tensors

    old = MODELS["cnn"]((1, 96, 87), 2, CNNConfig(pooling="mean_max")).eval()
    assert old.head[1].in_features == 256 and MODELS["cnn"]((1, 96, 87), 2).head[1].in_features == 128
    (tmp_path / "models").mkdir()
    save_tensors(tmp_path / "models" / "cnn.safetensors", old.state_dict())
    config = {k: v for k, v in asdict(old.config).items() if k != "pooling"}
    description = {"format": MODEL_FORMAT, "family": "cnn", "input_shape": [1, 96, 87], "labels": ["a", "b"]}
    description |= {"input_kind": "mel", "features": asdict(FEATURES)}
    (tmp_path / "models" / "cnn.json").write_text(json.dumps(description | {"config": config}))
    loaded = load_model(tmp_path, "cnn").module
    assert loaded.config.pooling == "mean_max"
    windows = torch.randn(2, 1, 96, 87)
    with torch.no_grad():
        torch.testing.assert_close(loaded(windows), old(windows))
    with pytest.raises(ValueError, match="pooling must be one of"):
        CNNConfig(pooling="mean")


def test_auto_precision_keeps_a_gru_in_float32():
    gru = MODELS["gru"]((87, 108), 3)  # bfloat16 makes its recurrence slower, on any CPU
    assert (
        not uses_bf16("auto", gru) and uses_bf16("bf16", gru) and not uses_bf16("fp32", MODELS["cnn"]((1, 96, 87), 3))
    )


def test_run_folder_holds_what_design_md_promises(data, tmp_path):
    run = tmp_path / "run"
    train_run(config_for(data, ("cnn", "gru"), epochs=1, copies=1), run, Workspace(tmp_path / "cache", 2, False))
    for name in ("cnn", "gru"):
        assert (run / "models" / f"{name}.safetensors").is_file()
        described = json.loads((run / "models" / f"{name}.json").read_text())
        assert described["family"] == name and described["labels"] == ["high", "low", "mid"]
        assert len((run / "history" / f"{name}.csv").read_text().splitlines()) == 2  # header + one epoch
    assert json.loads((run / "labels.json").read_text()) == ["high", "low", "mid"]
    assert RunConfig.from_toml((run / "config.toml").read_text()) == config_for(data, ("cnn", "gru"), 1, copies=1)
    sides: dict[str, set[str]] = {}
    for row in csv.DictReader((run / "split.csv").read_text().splitlines()):
        sides.setdefault(row["group"], set()).add(row["split"])
    assert all(len(s) == 1 for s in sides.values())
    assert {s for v in sides.values() for s in v} == {"train", "val", "test"}
    weights, _ = load_tensors(run / "models" / "cnn.safetensors")
    assert "standardize.mean" in weights  # the model carries its input statistics


def test_with_rotated_validation_each_model_validates_on_works_it_does_not_train_on(data, tmp_path, monkeypatch):
    from classicfy.evaluation.pipeline import evaluate_run
    from classicfy.training import pipeline as run_module

    seen = {}
    real_window_sets = run_module._window_sets

    def spy(kind, feature_config, training, validation, *rest):
        seen[kind] = ({r.group for r, _ in training}, {r.group for r in validation})
        return real_window_sets(kind, feature_config, training, validation, *rest)

    monkeypatch.setattr(run_module, "_window_sets", spy)
    run = tmp_path / "run"
    config = replace(config_for(data, ("cnn", "gru"), epochs=1), rotate_validation=True)
    train_run(config, run, Workspace(tmp_path / "cache", 2, False))
    (cnn_train, cnn_val), (gru_train, gru_val) = seen["mel"], seen["mel_chroma"]
    assert cnn_train.isdisjoint(cnn_val) and gru_train.isdisjoint(gru_val)
    assert cnn_val.isdisjoint(gru_val) and len(cnn_val) == len(gru_val) == 3  # one work per class each
    split = RunFolder(run).read_split()  # the draws survive the run folder, for --resume
    assert {r.group for r in split if 0 in r.val_draws} == cnn_val
    assert {r.group for r in split if 1 in r.val_draws} == gru_val
    assert cnn_train | cnn_val == gru_train | gru_val == {r.group for r in split if r.split == "train"}
    _, resumed, _ = prepare_run(config, run, Workspace(tmp_path / "cache", 1, False), resume=True)
    assert sorted(resumed, key=lambda r: r.path) == sorted(split, key=lambda r: r.path)
    with pytest.raises(RunError, match="validated on its own works"):
        evaluate_run(run, Workspace(tmp_path / "cache", 1, False), n_bootstrap=10, fitted_ensemble=True)


def test_the_balancer_is_told_which_training_windows_are_augmented_copies(data, tmp_path, monkeypatch):
    from classicfy.training import trainer as train

    seen = {}
    real_fit = train.DataBalancer.fit

    def spy(self, labels, n_classes=None, augmented=None):
        seen["labels"], seen["augmented"] = labels, augmented
        return real_fit(self, labels, n_classes, augmented)

    monkeypatch.setattr(train.DataBalancer, "fit", spy)
    train_run(
        config_for(data, ("cnn",), epochs=1, copies=2), tmp_path / "plain", Workspace(tmp_path / "cache", 2, False)
    )
    assert seen["augmented"] is None  # off by default: the pool's own share of copies
    config = config_for(data, ("cnn",), epochs=1, copies=2, balance_copies=True)
    train_run(config, tmp_path / "run", Workspace(tmp_path / "cache", 2, False))
    for label in np.unique(seen["labels"]):
        share = seen["augmented"][seen["labels"] == label].mean()
        assert 0.55 < share < 0.75, share  # two copies per original (time stretch moves a window or two)


def test_an_existing_run_is_not_overwritten(data, tmp_path):
    config = config_for(data, ("gru",), epochs=1)
    train_run(config, tmp_path / "run", Workspace(tmp_path / "cache", 1, False))
    with pytest.raises(RunError, match="--resume"):
        train_run(config, tmp_path / "run", Workspace(tmp_path / "cache", 1, False))


def test_resume_after_a_stop_reaches_the_same_weights(data, tmp_path, monkeypatch):
    from classicfy.training import trainer as train

    config = config_for(data, ("cnn",), epochs=3, mixup=0.2, ema_epochs=0.5)
    train_run(config, tmp_path / "whole", Workspace(tmp_path / "cache", 1, False))

    real_fit = train.Trainer.fit
    monkeypatch.setattr(train.Trainer, "fit", lambda self, *a, **k: real_fit(self, *a, **k, stop_after=1))
    train_run(config, tmp_path / "parts", Workspace(tmp_path / "cache", 1, False))
    monkeypatch.setattr(train.Trainer, "fit", real_fit)
    state = train_run(config, tmp_path / "parts", Workspace(tmp_path / "cache", 1, False), resume=True).states["cnn"]
    assert [row["epoch"] for row in state.history] == [1, 2, 3]

    whole, _ = load_tensors(tmp_path / "whole" / "checkpoints" / "cnn.safetensors")
    parts, _ = load_tensors(tmp_path / "parts" / "checkpoints" / "cnn.safetensors")
    assert whole.keys() == parts.keys() and "average.n_averaged" in whole  # the weight average resumes too
    for name in whole:
        torch.testing.assert_close(whole[name], parts[name], rtol=0, atol=0, msg=name)


def test_resume_refuses_a_damaged_checkpoint_and_labels_that_changed(tmp_path):
    import shutil

    data = tmp_path / "data"
    write_tone_dataset(data, works_per_label=4, recordings_per_work=1, seconds=3.0)
    config = config_for(data, ("cnn",), epochs=1)
    run, cache = tmp_path / "run", tmp_path / "cache"
    train_run(config, run, Workspace(cache, 1, False))
    checkpoint = run / "checkpoints" / "cnn.safetensors"
    intact = checkpoint.read_bytes()
    checkpoint.write_bytes(intact[: len(intact) // 2])
    with pytest.raises(RunError, match=r"cnn\.safetensors is damaged or from another model"):
        train_run(config, run, Workspace(cache, 1, False), resume=True)
    checkpoint.write_bytes(intact)
    shutil.rmtree(data / "mid")  # the checkpoint's output layer still has a place for it
    with pytest.raises(DatasetError, match=r"began with \['high', 'low', 'mid'\]"):
        train_run(config, run, Workspace(cache, 1, False), resume=True)
    assert json.loads((run / "labels.json").read_text()) == ["high", "low", "mid"]


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


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ({"epochs": 0}, "epochs must be at least 1"),
        ({"batch_size": 1}, "batch_size must be at least 2"),
        ({"patience": 0}, "patience must be at least 1"),
        ({"learning_rate": -1.0}, "learning_rate must be above 0"),
        ({"mixup": -0.2}, "mixup 0 or more"),
        ({"max_windows_per_class": 0}, "max_windows_per_class must be at least 1"),
        ({"balance": "smote"}, "balance must be one of oversample, weights, none"),
    ],
)
def test_a_train_config_that_cannot_train_is_refused_when_made(bad, message):
    with pytest.raises(ValueError, match=message):
        TrainConfig(**bad)


def test_train_survives_kill_9_and_resumes_to_the_same_weights(data, tmp_path):
    command = [
        sys.executable,
        "-m",
        "classicfy.cli",
        "train",
        str(data),
        "--models",
        "gru",
        "--epochs",
        "4",
        "--window",
        "2",
        "--augment-copies",
        "0",
        "--batch-size",
        "8",
        "--val-fraction",
        "0.25",
        "--test-fraction",
        "0.25",
        "--jobs",
        "1",
        "--cache",
        str(tmp_path / "cache"),
        "--no-progress",
    ]
    subprocess.run([*command, "--out", str(tmp_path / "whole")], check=True, capture_output=True)

    killed = subprocess.Popen([*command, "--out", str(tmp_path / "killed")], stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    for line in killed.stderr:  # the log line of an epoch is written after its checkpoint
        if "gru epoch 2/4" in line or time.monotonic() > deadline:
            break
    os.kill(killed.pid, signal.SIGKILL)
    killed.wait()
    _, state = load_tensors(tmp_path / "killed" / "checkpoints" / "gru.safetensors")
    assert 1 <= state["train"]["epoch"] < 4
    subprocess.run([*command, "--out", str(tmp_path / "killed"), "--resume"], check=True, capture_output=True)

    whole, _ = load_tensors(tmp_path / "whole" / "models" / "gru.safetensors")
    resumed, _ = load_tensors(tmp_path / "killed" / "models" / "gru.safetensors")
    for name in whole:
        torch.testing.assert_close(whole[name], resumed[name], rtol=0, atol=0, msg=name)


def test_train_cli_acceptance(data, tmp_path, capsys):
    run = tmp_path / "RUN"
    args = [
        "train",
        str(data),
        "--out",
        str(run),
        "--models",
        "cnn,gru,vgg",
        "--epochs",
        "2",
        "--seed",
        "0",
        "--pitch-shift",
        "6",
        "--keep",
        "last",
        "--cache",
        str(tmp_path / "cache"),
        "--no-progress",
    ]
    assert main(args) == 0
    config = RunConfig.from_toml((run / "config.toml").read_text())
    assert (config.augment.max_semitones, config.train.keep) == (6.0, "last")
    assert {p.name for p in (run / "models").glob("*.safetensors")} == {
        "cnn.safetensors",
        "gru.safetensors",
        "vgg.safetensors",
    }
    assert "kept epoch 2" in capsys.readouterr().out
    assert main(args) == 2  # the run exists: refuse to overwrite it


def test_unknown_model_is_a_clear_error(data, tmp_path, capsys):
    args = [
        "train",
        str(data),
        "--out",
        str(tmp_path / "r"),
        "--models",
        "cnn,transformer",
        "--cache",
        str(tmp_path / "c"),
        "--no-progress",
    ]
    assert main(args) == 2
    assert "unknown model(s): transformer" in capsys.readouterr().err


def test_seeded_runs_are_reproducible(data, tmp_path):
    config = config_for(data, ("gru",), epochs=1)
    first = train_run(config, tmp_path / "a", Workspace(tmp_path / "cache", 1, False)).states["gru"].history
    second = train_run(config, tmp_path / "b", Workspace(tmp_path / "cache", 1, False)).states["gru"].history
    assert [r["val_loss"] for r in first] == [r["val_loss"] for r in second]
    assert np.isfinite(first[0]["train_loss"])


def test_a_dataset_problem_leaves_no_half_made_run(tmp_path, capsys):
    one_class = tmp_path / "one"
    write_tone_dataset(one_class, labels=("low",), works_per_label=3, recordings_per_work=1, seconds=3.0)
    args = ["train", str(one_class), "--out", str(tmp_path / "run"), "--cache", str(tmp_path / "c"), "--no-progress"]
    assert main(args) == 2
    assert "at least two labels" in capsys.readouterr().err
    assert not (tmp_path / "run" / "config.toml").exists()  # fixing the data and running again needs no --resume
    bad = ["train", str(one_class), "--out", str(tmp_path / "r2"), "--val-fraction", "0.6", "--test-fraction", "0.5"]
    assert main(bad) == 2
    assert "leave room for training" in capsys.readouterr().err and not (tmp_path / "r2").exists()


@pytest.mark.parametrize(
    ("option", "value", "message"),
    [("--seed", "-1", "at least 0"), ("--batch-size", "1", "at least 2"), ("--precision", "fp16", "invalid choice")],
)
def test_options_that_cannot_work_are_refused_up_front(tmp_path, capsys, option, value, message):
    with pytest.raises(SystemExit) as stopped:
        main(["train", str(tmp_path), "--out", str(tmp_path / "r"), option, value])
    assert stopped.value.code == 2 and message in capsys.readouterr().err


def test_windows_too_short_for_a_model_are_a_clear_error(data, tmp_path, capsys):
    args = ["train", str(data), "--out", str(tmp_path / "r"), "--models", "gru,cnn", "--sr", "8000", "--window", "1",
            "--augment-copies", "0", "--cache", str(tmp_path / "c"), "--no-progress"]  # fmt: skip
    assert main(args) == 2
    assert "use longer windows" in capsys.readouterr().err
    assert not (tmp_path / "r" / "models").exists()  # found before the GRU spent time training


def test_an_empty_background_folder_is_refused_before_any_work(data, tmp_path, capsys):
    (tmp_path / "noise").mkdir()
    args = ["train", str(data), "--out", str(tmp_path / "r"), "--background", str(tmp_path / "noise"),
            "--cache", str(tmp_path / "c"), "--no-progress"]  # fmt: skip
    assert main(args) == 2
    assert "background must be a folder of noise recordings" in capsys.readouterr().err
    assert not (tmp_path / "r").exists()


def test_a_csv_split_without_test_side_trains_and_skips_evaluation(data, tmp_path, capsys):
    rows = ["path,label,group,split"]
    for path in sorted(data.rglob("*.flac")):
        work = path.parent.name
        rows.append(
            f"{path},{path.parent.parent.name},{path.parent.parent.name}/{work},"
            f"{'val' if work == 'work00' else 'train'}"
        )
    (tmp_path / "set.csv").write_text("\n".join(rows) + "\n")
    args = ["train", str(tmp_path / "set.csv"), "--out", str(tmp_path / "r"), "--models", "gru", "--epochs", "1",
            "--window", "2", "--augment-copies", "0", "--cache", str(tmp_path / "c"), "--no-progress"]  # fmt: skip
    assert main(args) == 0
    assert "report:" not in capsys.readouterr().out


def test_a_csv_split_that_trains_no_recording_of_a_label_is_refused(data, tmp_path, capsys):
    rows = ["path,label,group,split"]
    for path in sorted(data.rglob("*.flac")):
        label, work = path.parent.parent.name, path.parent.name
        side = "val" if work == "work00" or label == "high" else "train"
        rows.append(f"{path},{label},{label}/{work},{side}")
    (tmp_path / "set.csv").write_text("\n".join(rows) + "\n")
    args = ["train", str(tmp_path / "set.csv"), "--out", str(tmp_path / "r"), "--models", "gru", "--epochs", "1",
            "--window", "2", "--cache", str(tmp_path / "c"), "--no-progress"]  # fmt: skip
    assert main(args) == 2
    assert "the train split has no recording of high" in capsys.readouterr().err
    assert not (tmp_path / "r").exists()


def test_augment_fill_gives_each_recording_of_a_small_class_more_copies(data, tmp_path, caplog):
    caplog.set_level("INFO", logger="classicfy")
    run = tmp_path / "r"
    args = ["train", str(data), "--out", str(run), "--models", "gru", "--epochs", "1", "--augment-fill", "30",
            "--cache", str(tmp_path / "cache"), "--no-progress", "--window", "2", "--hop", "2"]  # fmt: skip
    assert main(args) == 0
    # Each class trains on 4 recordings of three 2 s windows: two copies each make 36 windows, past 30.
    assert "augmented copies per recording: high 2, low 2, mid 2" in caplog.text
    assert RunConfig.from_toml((run / "config.toml").read_text()).augment.fill_to == 30


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


def test_a_run_without_validation_works_is_a_dataset_error_before_any_run_folder(data, tmp_path):
    from classicfy.errors import DatasetError

    config = replace(config_for(data, ("cnn", "gru"), epochs=1), val_fraction=0.0)
    with pytest.raises(DatasetError, match="the val split is empty"):
        train_run(config, tmp_path / "run", Workspace(tmp_path / "cache", 1, False))
    with pytest.raises(DatasetError, match="the val split of cnn is empty"):
        train_run(replace(config, rotate_validation=True), tmp_path / "run", Workspace(tmp_path / "cache", 1, False))
    assert not (tmp_path / "run").exists()
