from __future__ import annotations

import csv
import json
from dataclasses import replace

import numpy as np
import pytest
import torch

from classicfy.cli import main
from classicfy.config import RunConfig, TrainConfig
from classicfy.data.synthetic import write_tone_dataset
from classicfy.errors import DatasetError, RunError
from classicfy.rundir import RunFolder, load_tensors
from classicfy.training.pipeline import prepare_run, train_run
from classicfy.workspace import Workspace
from helpers import FEATURES, config_for


@pytest.mark.slow
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


@pytest.mark.slow
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


@pytest.mark.slow
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


@pytest.mark.slow
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


@pytest.mark.slow
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


@pytest.mark.slow
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


def test_a_run_without_validation_works_is_a_dataset_error_before_any_run_folder(data, tmp_path):
    from classicfy.errors import DatasetError

    config = replace(config_for(data, ("cnn", "gru"), epochs=1), val_fraction=0.0)
    with pytest.raises(DatasetError, match="the val split is empty"):
        train_run(config, tmp_path / "run", Workspace(tmp_path / "cache", 1, False))
    with pytest.raises(DatasetError, match="the val split of cnn is empty"):
        train_run(replace(config, rotate_validation=True), tmp_path / "run", Workspace(tmp_path / "cache", 1, False))
    assert not (tmp_path / "run").exists()


@pytest.mark.slow
def test_the_python_api_takes_string_paths_and_defaults_the_cache_like_the_cli(data, tmp_path, monkeypatch):
    from classicfy import RunConfig as PublicRunConfig, evaluate_run, train_run

    monkeypatch.setenv("CLASSICFY_CACHE", str(tmp_path / "cache"))
    monkeypatch.chdir(tmp_path)
    config = PublicRunConfig(data=str(data), models=("gru",), features=FEATURES, train=TrainConfig(epochs=1))
    result = train_run(config, "RUN")
    assert result.labels == ["high", "low", "mid"] and (tmp_path / "RUN" / "models" / "gru.safetensors").is_file()
    assert any((tmp_path / "cache" / "features").iterdir())  # the default cache, as the CLI's
    assert (evaluate_run("RUN", n_bootstrap=10).out_dir / "metrics.json").is_file()


@pytest.mark.slow
def test_resuming_a_finished_model_computes_no_embeddings_again(data, tmp_path, monkeypatch):
    from classicfy.training import pipeline

    config = config_for(data, ("vgg-pretrained",), epochs=1)
    work = Workspace(tmp_path / "cache", 1, False)
    first = train_run(config, tmp_path / "run", work).states["vgg-pretrained"]

    def refused(*args, **kwargs):
        raise AssertionError("a finished model's embeddings were computed again")

    monkeypatch.setattr(pipeline, "_frozen_embeddings", refused)
    again = train_run(config, tmp_path / "run", work, resume=True).states["vgg-pretrained"]
    assert again.history == first.history


@pytest.mark.slow
def test_renditions_train_beside_their_recordings_and_only_originals_are_scored(data, tmp_path):
    import soundfile

    from classicfy.evaluation.pipeline import evaluate_run
    from helpers import write

    rows = ["path,label,group,rendition_of"]
    for path in sorted(data.rglob("*.flac")):
        label, work = path.relative_to(data).parts[:2]
        samples, rate = soundfile.read(path, dtype="float32")
        rendition = write(tmp_path / "renditions" / label / work / path.name, 0.5 * samples, rate)
        rows += [f"{path},{label},{label}/{work},", f"{rendition},{label},{label}/{work},{path}"]
    (tmp_path / "varied.csv").write_text("\n".join(rows) + "\n")
    run, work = tmp_path / "run", Workspace(tmp_path / "cache", 1, False)
    train_run(replace(config_for(data, ("gru",), epochs=1), data=str(tmp_path / "varied.csv")), run, work)
    split = RunFolder(run).read_split()
    renditions = [r for r in split if r.rendition_of]
    side = {r.path: r.split for r in split}
    assert renditions and all(r.split == "train" and side[r.rendition_of] == "train" for r in renditions)
    assert {r.split for r in split if not r.rendition_of} == {"train", "val", "test"}
    evaluate_run(run, work)
    with open(run / "predictions.csv", newline="") as handle:
        scored = {row["path"] for row in csv.DictReader(handle)}
    assert scored == {str(r.path) for r in split if r.split == "test"} and not any("renditions" in p for p in scored)
