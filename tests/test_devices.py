"""Devices and cores: `--device` on every command that runs models, `--jobs` from the CPUs a process
may use. Everything here runs on a CPU; `test_cuda.py` repeats the device checks where CUDA exists."""

from __future__ import annotations

import hashlib
import os

import numpy as np
import pytest
import torch

from classicfy import workspace
from classicfy.cli import main
from classicfy.devices import Precision, device_of, resolve_device, to_device, training_precision
from classicfy.errors import ClassicfyError
from classicfy.workspace import Workspace, default_jobs

NO_CUDA = not torch.cuda.is_available()


def test_auto_is_the_cpu_on_a_machine_without_accelerators():
    if NO_CUDA and not torch.backends.mps.is_available():
        assert resolve_device("auto") == torch.device("cpu")
    assert resolve_device("cpu") == torch.device("cpu")


@pytest.mark.parametrize("name", ["gpu", "cuda:x", "tpu", ""])
def test_a_name_that_is_no_device_is_one_line_naming_it(name):
    with pytest.raises(ClassicfyError, match="--device"):
        resolve_device(name)


@pytest.mark.skipif(not NO_CUDA, reason="this machine has CUDA")
@pytest.mark.parametrize("name", ["cuda", "cuda:1"])
def test_cuda_where_there_is_none_is_refused(name):
    with pytest.raises(ClassicfyError, match="no CUDA device"):
        resolve_device(name)


@pytest.mark.skipif(not NO_CUDA, reason="this machine has CUDA")
@pytest.mark.parametrize("command", ["train", "evaluate", "predict", "tag", "crossval"])
def test_every_command_refuses_an_absent_device_with_one_line_and_exit_2(command, tone_dataset, tmp_path, capsys):
    args = {
        "train": ["train", str(tone_dataset), "--out", str(tmp_path / "run")],
        "evaluate": ["evaluate", str(tmp_path / "run")],
        "predict": ["predict", str(tmp_path / "run"), str(tone_dataset)],
        "tag": ["tag", str(tone_dataset)],
        "crossval": ["crossval", str(tone_dataset), "--out", str(tmp_path / "cv")],
    }[command]
    if command in ("evaluate", "predict"):
        _train_tiny(tone_dataset, tmp_path / "run", tmp_path / "cache", "cpu")
    cache = ["--cache", str(tmp_path / "cache")] if command in ("train", "evaluate", "crossval") else []
    assert main([*args, *cache, "--device", "cuda", "--no-progress"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--device cuda" in err[0] and "Traceback" not in err[0]


def _train_tiny(data, run, cache, device: str) -> None:
    args = ["train", str(data), "--out", str(run), "--models", "cnn", "--epochs", "1", "--window", "1",
            "--cache", str(cache), "--no-progress", "--device", device, "--jobs", "1"]  # fmt: skip
    assert main(args) == 0


def _digest(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_device_auto_and_cpu_train_the_same_weights_here(tone_dataset, tmp_path):
    if not (NO_CUDA and not torch.backends.mps.is_available()):
        pytest.skip("auto picks an accelerator on this machine")
    for device in ("cpu", "auto"):
        _train_tiny(tone_dataset, tmp_path / device, tmp_path / "cache", device)
    weights = [_digest(tmp_path / device / "models" / "cnn.safetensors") for device in ("cpu", "auto")]
    assert weights[0] == weights[1]


def test_batches_follow_the_model_and_come_back_as_numpy():
    model = torch.nn.Linear(3, 2)
    assert device_of(model) == torch.device("cpu") and device_of(torch.nn.ReLU()) == torch.device("cpu")
    batch = to_device(np.ones((2, 3), np.float32), device_of(model))
    assert batch.device == torch.device("cpu") and tuple(model(batch).shape) == (2, 2)


def test_cuda_precision_is_bf16_or_fp16_with_a_scaler_and_fp32_on_request():
    cuda = torch.device("cuda")
    assert training_precision("fp32", cuda, True) == Precision("cuda")
    chosen = training_precision("auto", cuda, False) if not NO_CUDA else Precision("cuda", torch.float16)
    assert chosen.dtype in (torch.bfloat16, torch.float16)
    assert chosen.scales_gradients == (chosen.dtype == torch.float16)
    assert Precision("cuda", torch.float16).name == "fp16" and Precision("cpu").name == "fp32"


def test_jobs_default_to_the_cpus_this_process_may_use(monkeypatch):
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1, 2, 3}, raising=False)
    monkeypatch.setattr(workspace, "_cgroup_cpu_quota", lambda: None)
    assert default_jobs() == 4
    monkeypatch.setattr(workspace, "_cgroup_cpu_quota", lambda: 2)  # a container's quota of 2 CPUs
    assert default_jobs() == 2


def test_cgroup_quota_is_read_in_whole_cpus_rounded_up(monkeypatch, tmp_path):
    cpu_max = tmp_path / "cpu.max"
    monkeypatch.setattr(workspace, "CGROUP_CPU_MAX", cpu_max)
    for text, expected in (("max 100000\n", None), ("150000 100000\n", 2), ("50000 100000", 1), ("junk", None)):
        cpu_max.write_text(text)
        assert workspace._cgroup_cpu_quota() == expected
    cpu_max.unlink()
    assert workspace._cgroup_cpu_quota() is None


def test_jobs_minus_one_means_every_cpu_and_zero_is_refused(tone_dataset, tmp_path, capsys):
    assert main(["features", str(tone_dataset), "--jobs", "-1", "--window", "1", "--cache", str(tmp_path / "c"),
                 "--no-progress"]) == 0  # fmt: skip
    with pytest.raises(SystemExit) as stopped:
        main(["features", str(tone_dataset), "--jobs", "0"])
    assert stopped.value.code == 2 and "-1 for every CPU" in capsys.readouterr().err


def test_a_workspace_names_its_device_and_it_resolves_when_asked():
    work = Workspace.create(device="cpu")
    assert work.device == "cpu" and resolve_device(work.device) == torch.device("cpu")
    with pytest.raises(ClassicfyError):
        resolve_device(Workspace.create(device="abacus").device)
