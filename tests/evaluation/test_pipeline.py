from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from classicfy.cli import main
from classicfy.config import AudioConfig
from classicfy.data.manifest import Recording
from classicfy.data.synthetic import write_tone_dataset
from classicfy.evaluation.figures import draw_timelines
from classicfy.evaluation.scored import ScoredSet
from classicfy.rundir import RunFolder

REQUIRED = ("accuracy", "balanced_accuracy", "macro_f1", "weighted_f1", "macro_precision", "macro_recall",
            "roc_auc_ovr_macro", "n")  # fmt: skip


def test_metrics_json_holds_every_model_at_both_levels(trained):
    _, run, _ = trained
    document = json.loads((run / "metrics.json").read_text())
    assert document["labels"] == ["high", "low", "mid"]
    assert set(document["models"]) == {"cnn", "gru", "ensemble", "baseline"}
    for metrics in document["models"].values():
        for level in ("segment", "recording"):
            assert all(key in metrics[level] for key in REQUIRED)
        assert metrics["recording"]["n"] == 6  # one test work of two recordings per class
        assert len(metrics["recording"]["accuracy_ci"]) == 2


def test_predictions_csv_holds_each_models_answer_for_every_test_recording_as_scored(trained):
    _, run, _ = trained
    document = json.loads((run / "metrics.json").read_text())
    labels = document["labels"]
    with open(run / "predictions.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    test = {str(r.path): r for r in RunFolder(run).read_split() if r.split == "test"}
    assert {row["path"] for row in rows} == set(test)
    assert all(row["label"] == test[row["path"]].label and row["group"] == test[row["path"]].group for row in rows)
    for name, metrics in document["models"].items():
        own = [row for row in rows if row["model"] == name]
        assert len(own) == metrics["recording"]["n"]
        assert sum(int(row["windows"]) for row in own) == metrics["segment"]["n"]
        confusion = np.zeros((len(labels), len(labels)), dtype=int)
        for row in own:
            probs = np.array([float(row[f"p_{label}"]) for label in labels])
            assert probs.sum() == pytest.approx(1.0, abs=1e-5)
            assert row["predicted"] == labels[int(probs.argmax())]
            confusion[labels.index(row["label"]), labels.index(row["predicted"])] += 1
        assert confusion.tolist() == metrics["recording"]["confusion_matrix"]  # the answers the metrics count
    assert "<h2>Recordings the ensemble names wrong</h2>" in (run / "report.html").read_text()


@pytest.mark.slow
def test_evaluate_exits_0_and_reuses_the_saved_ensemble(trained, capsys):
    _, run, cache = trained
    before = json.loads((run / "models" / "ensemble.json").read_text())
    assert before["weights"] == pytest.approx([0.5, 0.5]) and before["fitted_on"] is None  # plain average
    assert main(["evaluate", str(run), "--cache", str(cache), "--no-progress"]) == 0
    assert "a plain average" in capsys.readouterr().out
    assert json.loads((run / "models" / "ensemble.json").read_text()) == before


@pytest.mark.slow
def test_test_data_never_changes_ensemble_weights_or_baseline(trained, tmp_path):
    _, run, cache = trained
    copy = tmp_path / "RUN"
    shutil.copytree(run, copy)
    for fitted in ("ensemble.json", "baseline.json"):
        (copy / "models" / fitted).unlink()
    # Swap the audio of every test recording for another class's: the test set changes completely.
    rows = [line.split(",") for line in (copy / "split.csv").read_text().splitlines()[1:]]
    test = [Path(r[0]) for r in rows if r[3] == "test"]
    saved = {p: p.read_bytes() for p in test}
    try:
        for path, other in zip(test, test[2:] + test[:2], strict=True):
            path.write_bytes(saved[other])
        assert main(["evaluate", str(copy), "--cache", str(cache), "--no-progress", "--fit-ensemble"]) == 0
    finally:
        for path, content in saved.items():
            path.write_bytes(content)
    (copy / "models" / "ensemble.json").rename(copy / "swapped.json")
    assert main(["evaluate", str(copy), "--cache", str(cache), "--no-progress", "--fit-ensemble"]) == 0
    original = json.loads((copy / "models" / "ensemble.json").read_text())
    swapped = json.loads((copy / "swapped.json").read_text())
    assert swapped["fitted_on"] == original["fitted_on"] == "val"
    np.testing.assert_allclose(swapped["weights"], original["weights"], atol=1e-6)
    assert (copy / "models" / "baseline.json").read_text() == (run / "models" / "baseline.json").read_text()


@pytest.mark.slow
def test_evaluating_without_fit_ensemble_keeps_the_runs_fitted_weights(trained, tmp_path):
    _, run, cache = trained
    copy = tmp_path / "RUN"
    shutil.copytree(run, copy)
    assert main(["evaluate", str(copy), "--cache", str(cache), "--no-progress", "--fit-ensemble"]) == 0
    fitted = (copy / "models" / "ensemble.json").read_text()
    assert json.loads(fitted)["fitted_on"] == "val"
    again = tmp_path / "again"
    assert main(["evaluate", str(copy), "--cache", str(cache), "--no-progress", "--out", str(again)]) == 0
    assert (copy / "models" / "ensemble.json").read_text() == fitted  # what predict answers with
    assert json.loads((again / "metrics.json").read_text())["ensemble"]["fitted_on"] == "val"
    data = RunFolder(copy).read_split()[0].path.parents[2]
    assert main(["train", str(data), "--out", str(copy), "--resume", "--cache", str(cache), "--no-progress"]) == 0
    assert (copy / "models" / "ensemble.json").read_text() == fitted  # resuming keeps it too


@pytest.mark.slow
def test_evaluate_on_another_dataset_skips_unknown_labels(trained, tmp_path, capsys):
    _, run, cache = trained
    other = tmp_path / "other"
    write_tone_dataset(
        other, labels=("low", "mid", "high", "alien"), works_per_label=1, recordings_per_work=1, seconds=4.0, seed=5
    )
    assert main(["evaluate", str(run), "--data", str(other), "--cache", str(cache), "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "1 recording(s) with labels the run does not know were skipped: alien" in out
    document = json.loads((run / "evaluation-other" / "metrics.json").read_text())
    assert document["models"]["cnn"]["recording"]["n"] == 3
    assert f"\n{other}:\n" in out and "test split" not in out  # what was scored, not the run's test split
    assert f"<h2>Summary ({other})</h2>" in (run / "evaluation-other" / "report.html").read_text()


@pytest.mark.slow
def test_evaluate_on_other_data_leaves_out_what_the_run_trained_on(trained, tmp_path, capsys):
    _, run, cache = trained
    split = RunFolder(run).read_split()
    other = tmp_path / "other"
    for recording in split:  # the run's whole dataset, renamed: content, not paths, says what it heard
        copy = other / recording.label / f"{recording.split}-{recording.path.parent.name}-{recording.path.name}"
        copy.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(recording.path, copy)
    assert main(["evaluate", str(run), "--data", str(other), "--cache", str(cache), "--no-progress"]) == 0
    heard = sum(r.split != "test" for r in split)
    assert f"{heard} recording(s) the run trained or validated on were left out" in capsys.readouterr().out
    with open(run / "evaluation-other" / "predictions.csv", newline="") as handle:
        scored = {Path(row["path"]).name for row in csv.DictReader(handle)}
    assert scored == {f"test-{r.path.parent.name}-{r.path.name}" for r in split if r.split == "test"}

    only_heard = tmp_path / "heard"
    for path in other.rglob("train-*"):
        (only_heard / path.parent.name).mkdir(parents=True, exist_ok=True)
        shutil.copy(path, only_heard / path.parent.name / path.name)
    assert main(["evaluate", str(run), "--data", str(only_heard), "--cache", str(cache), "--no-progress"]) == 2
    assert "nothing is held out" in capsys.readouterr().err


def test_fitting_the_baseline_after_a_labels_training_files_moved_is_a_clear_error(trained, tmp_path, capsys):
    _, run, cache = trained
    copy = tmp_path / "RUN"
    shutil.copytree(run, copy)
    (copy / "models" / "baseline.json").unlink()
    with open(copy / "split.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    for row in rows:
        if row["split"] == "train" and row["label"] == "low":
            row["path"] = str(tmp_path / "moved" / Path(row["path"]).name)
    with open(copy / "split.csv", "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    assert main(["evaluate", str(copy), "--cache", str(cache), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "fitting the baseline needs every label of the run's train split" in err
    assert "no train recording of low can be read now" in err and "Traceback" not in err


def test_evaluate_refuses_a_folder_that_is_no_run(tmp_path, capsys):
    assert main(["evaluate", str(tmp_path)]) == 2
    assert "not a complete classicfy run" in capsys.readouterr().err


def test_windows_of_two_sample_rates_line_up():
    """Start times at 16 kHz and 22.05 kHz differ by rounding; their window keys must not."""
    from classicfy.config import AudioConfig
    from classicfy.features.audio import window_recording
    from classicfy.features.cache import CachedRecording
    from classicfy.features.inputs import WindowSet

    keys = []
    for rate in (16000, 22050):
        t = np.arange(60 * rate) / rate
        audio = window_recording(
            (0.3 * np.sin(2 * np.pi * 220 * t)).astype(np.float32),
            AudioConfig(sample_rate=rate, window_s=3.0, hop_s=0.75),
        )
        entry = CachedRecording({"mel": np.zeros((len(audio.windows), 1, 1))}, audio.starts_s, 60.0, 0)
        keys.append(WindowSet([entry], [0], "mel").window_keys(0.75))
    assert len(np.intersect1d(*keys)) == min(len(k) for k in keys) >= 76  # the grids may differ by a last window


def test_a_damaged_run_folder_is_a_one_line_error(trained, tmp_path, capsys):
    _, run, cache = trained
    copy = tmp_path / "RUN"
    shutil.copytree(run, copy)
    (copy / "labels.json").unlink()
    assert main(["evaluate", str(copy), "--cache", str(cache), "--no-progress"]) == 2
    assert "labels.json missing" in capsys.readouterr().err
    shutil.copy(run / "labels.json", copy / "labels.json")
    (copy / "config.toml").write_text("data = [unclosed")
    assert main(["predict", str(copy), str(run)]) == 2
    assert "config.toml cannot be read" in capsys.readouterr().err
    shutil.copy(run / "config.toml", copy / "config.toml")
    for damaged in (copy / "labels.json", copy / "models" / "baseline.json", copy / "models" / "ensemble.json"):
        intact = damaged.read_text()
        damaged.write_text(intact[: len(intact) // 2])
        assert main(["evaluate", str(copy), "--cache", str(cache), "--no-progress"]) == 2
        err = capsys.readouterr().err
        assert f"{damaged} is damaged" in err and err.count("\n") == 1 and "Traceback" not in err
        damaged.write_text(intact)


def test_timelines_are_drawn_for_the_wrong_answers_and_an_earlier_evaluations_are_removed(tmp_path):
    recordings = [Recording(Path(f"/music/{name}.flac"), label, name) for name, label in (("a", "x"), ("b", "y"))]
    answers = [
        {"path": "/music/a.flac", "label": "x", "model": "ensemble", "predicted": "y"},
        {"path": "/music/a.flac", "label": "x", "model": "cnn", "predicted": "x"},
        {"path": "/music/b.flac", "label": "y", "model": "ensemble", "predicted": "y"},
    ]
    ensemble = ScoredSet(np.full((4, 2), 0.5), np.array([0, 0, 1, 1]), np.array([0, 0, 1, 1]), np.array([0, 1, 0, 1]))
    folder = tmp_path / "plots" / "timelines"
    folder.mkdir(parents=True)
    (folder / "02-old.png").write_bytes(b"an earlier evaluation's")
    (folder / "notes.txt").write_text("not ours")
    drawn = draw_timelines(tmp_path, ensemble, answers, recordings, ["x", "y"], AudioConfig(window_s=2.0, hop_s=2.0))
    assert drawn == {"/music/a.flac": folder / "01-a.png"}  # the ensemble's one wrong answer; the CNN's is not
    assert sorted(p.name for p in folder.iterdir()) == ["01-a.png", "notes.txt"]
