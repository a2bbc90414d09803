"""`classicfy embed`: one row per window (or per recording) of a run's model or a pretrained tagger."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
import torch

from classicfy.cli import main
from classicfy.embedding import Embeddings, read_embeddings
from classicfy.errors import RunError
from classicfy.models.trained import load_model
from classicfy.predict import Classifier
from helpers import sine, write

COLUMNS = ["path", "start_s", "end_s", "label", "embedding"]


def test_a_run_embeds_every_window_that_predict_scores(trained, tmp_path, capsys):
    """The acceptance command: one row per window, its start where predict's window starts, and the
    model's own head turns the vector into predict's probabilities."""
    data, run, _ = trained
    recording = data / "low" / "work00" / "00.flac"
    out = tmp_path / "e.parquet"
    assert main(["embed", str(run), str(recording), "--out", str(out), "--no-progress"]) == 0
    table = pq.read_table(out)
    assert table.column_names == COLUMNS
    assert table.schema.metadata[b"source"] == f"{run}:cnn".encode()
    prediction = Classifier.load(run, "cnn").predict_one(recording)
    assert table.num_rows == len(prediction.segments)
    assert table["start_s"].to_pylist() == [s["start_s"] for s in prediction.segments]
    assert table["end_s"].to_pylist() == [s["end_s"] for s in prediction.segments]
    assert set(table["path"].to_pylist()) == {str(recording)} and table["label"].null_count == table.num_rows
    vectors = torch.tensor(table["embedding"].to_pylist())
    head = load_model(run, "cnn").module.head.eval()
    labels = sorted(prediction.probabilities)
    expected = [[s["probabilities"][label] for label in labels] for s in prediction.segments]
    np.testing.assert_allclose(torch.softmax(head(vectors), dim=1).detach().numpy(), expected, atol=1e-4)
    assert "row(s) of 128 values from 1 recording(s)" in capsys.readouterr().err


def test_recording_level_is_the_mean_of_the_windows_with_labels_from_the_dataset(trained, tmp_path):
    data, run, _ = trained
    windows, recordings = tmp_path / "w.npz", tmp_path / "r.npz"
    for out, level in ((windows, "window"), (recordings, "recording")):
        args = ["embed", str(run), str(data), "--labelled", "--model", "gru", "--out", str(out), "--level", level]
        assert main([*args, "--no-progress"]) == 0
    per_window, per_recording = read_embeddings(windows), read_embeddings(recordings)
    files = sorted(str(p) for p in data.rglob("*.flac"))
    assert list(per_recording["path"]) == files  # one row per file, in the dataset's order
    assert {str(p.parent.parent.name) for p in data.rglob("*.flac")} == set(per_recording["label"])
    first = per_window["path"] == files[0]
    np.testing.assert_allclose(per_recording["embedding"][0], per_window["embedding"][first].mean(axis=0), rtol=1e-5)
    assert per_recording["windows"][0] == first.sum()
    assert per_recording["label"][0] == per_window["label"][first][0] == "high"


@pytest.mark.slow
def test_a_pretrained_tagger_embeds_three_second_windows(tmp_path):
    recording = write(tmp_path / "a.wav", sine(10.0, 330.0))
    out = tmp_path / "e.parquet"
    assert main(["embed", "--model", "vgg-mtt", str(recording), "--out", str(out), "--no-progress"]) == 0
    table = pq.read_table(out)
    assert table.column_names == COLUMNS and table.num_rows == 3  # 10 s: three 2.992 s windows side by side
    assert table["start_s"].to_pylist() == [0.0, 2.992, 5.984]
    assert len(table["embedding"][0]) == 256
    assert main(["embed", "--model", "vgg-mtt", str(recording), "--out", str(out), "--overlap", "1.5",
                 "--no-progress"]) == 0  # fmt: skip
    assert pq.read_table(out).num_rows == 5  # a window every 1.504 s


def test_a_file_not_written_by_embed_is_never_overwritten(trained, tmp_path, capsys):
    data, run, _ = trained
    recording = str(data / "low" / "work00" / "00.flac")
    foreign = tmp_path / "notes.npz"
    np.savez(foreign, mine=np.arange(3))
    assert main(["embed", run.as_posix(), recording, "--out", str(foreign), "--no-progress"]) == 2
    assert "was not written by classicfy embed" in capsys.readouterr().err
    assert list(np.load(foreign).files) == ["mine"]
    ours = tmp_path / "ours.npz"
    for _ in range(2):  # its own file is replaced
        assert main(["embed", str(run), recording, "--out", str(ours), "--no-progress"]) == 0


@pytest.mark.parametrize(
    ("args", "culprit"),
    [
        (["{data}", "{recording}", "--out", "{tmp}/e.npz"], "is not a run folder"),
        (["{run}", "--out", "{tmp}/e.npz"], "no recordings to embed"),
        (["{run}", "{recording}", "--out", "{tmp}/e.csv"], "must end in .parquet or .npz"),
        (["{run}", "{recording}", "--model", "svm", "--out", "{tmp}/e.npz"], "no model 'svm'"),
        (["{run}", "{recording}", "--model", "ensemble", "--out", "{tmp}/e.npz"], "ensemble has none"),
    ],
)
def test_bad_requests_are_one_line_and_exit_2(trained, tmp_path, capsys, args, culprit):
    data, run, _ = trained
    values = {"data": data, "run": run, "recording": data / "low" / "work00" / "00.flac", "tmp": tmp_path}
    assert main(["embed", *(a.format(**values) for a in args)]) == 2
    err = capsys.readouterr().err
    assert culprit in err and err.count("\n") == 1


def test_vectors_that_are_not_finite_are_refused_by_name():
    rows = [(Path("a.flac"), None, np.zeros(2), np.array([[0.5], [np.nan]], dtype=np.float32))]
    with pytest.raises(RunError, match=r"RUN:cnn embeds a\.flac with numbers that are not finite"):
        Embeddings.of_windows("RUN:cnn", 1.0, rows)


def test_a_run_without_trained_models_is_one_line(trained, tmp_path, capsys):
    data, run, _ = trained
    bare = tmp_path / "RUN"
    shutil.copytree(run, bare, ignore=shutil.ignore_patterns("*.safetensors"))
    assert main(["embed", str(bare), str(data / "low"), "--out", str(tmp_path / "e.npz")]) == 2
    assert capsys.readouterr().err == f"classicfy: error: {bare} holds no trained model yet\n"
