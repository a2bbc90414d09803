from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest
import torch

from classicfy.cli import main
from classicfy.config import RunConfig
from classicfy.rundir import load_tensors


def test_train_refuses_fitted_weights_with_rotated_validation_before_training(tmp_path, capsys):
    args = ["train", str(tmp_path), "--out", str(tmp_path / "run"), "--rotate-validation", "--fit-ensemble"]
    assert main(args) == 2
    assert "--fit-ensemble needs a validation side shared by every model" in capsys.readouterr().err
    assert not (tmp_path / "run").exists()

    from classicfy.config import RunConfig

    rotated = tmp_path / "rotated"  # a run begun with rotated validation, resumed without the flag
    rotated.mkdir()
    (rotated / "config.toml").write_text(RunConfig(data=str(tmp_path.resolve()), rotate_validation=True).to_toml())
    (rotated / "labels.json").write_text("[]")
    (rotated / "split.csv").write_text("path,label,group,split\n")
    assert main(["train", str(tmp_path), "--out", str(rotated), "--resume", "--fit-ensemble"]) == 2
    assert "--fit-ensemble needs a validation side shared by every model" in capsys.readouterr().err


@pytest.mark.slow
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


@pytest.mark.slow
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


@pytest.mark.parametrize(
    ("option", "value", "message"),
    [("--seed", "-1", "at least 0"), ("--batch-size", "1", "at least 2"), ("--precision", "fp16", "invalid choice")],
)
def test_options_that_cannot_work_are_refused_up_front(tmp_path, capsys, option, value, message):
    with pytest.raises(SystemExit) as stopped:
        main(["train", str(tmp_path), "--out", str(tmp_path / "r"), option, value])
    assert stopped.value.code == 2 and message in capsys.readouterr().err


@pytest.mark.slow
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


@pytest.mark.slow
def test_augment_fill_gives_each_recording_of_a_small_class_more_copies(data, tmp_path, caplog):
    caplog.set_level("INFO", logger="classicfy")
    run = tmp_path / "r"
    args = ["train", str(data), "--out", str(run), "--models", "gru", "--epochs", "1", "--augment-fill", "30",
            "--cache", str(tmp_path / "cache"), "--no-progress", "--window", "2", "--hop", "2"]  # fmt: skip
    assert main(args) == 0
    # Each class trains on 4 recordings of three 2 s windows: two copies each make 36 windows, past 30.
    assert "augmented copies per recording: high 2, low 2, mid 2" in caplog.text
    assert RunConfig.from_toml((run / "config.toml").read_text()).augment.fill_to == 30
