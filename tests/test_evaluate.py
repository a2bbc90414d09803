from __future__ import annotations

import csv
import json
import re
import shutil
from pathlib import Path

import numpy as np
import pytest

from classicfy.cli import main
from classicfy.data.synthetic import write_tone_dataset
from classicfy.evaluation.baseline import SummaryBaseline
from classicfy.evaluation.ensemble import EnsembleModel
from classicfy.evaluation.metrics import ModelEvaluator, recording_probabilities
from classicfy.evaluation.report import _misnamed
from classicfy.rundir import RunFolder
from classicfy.workspace import Workspace

REQUIRED = ("accuracy", "balanced_accuracy", "macro_f1", "weighted_f1", "macro_precision", "macro_recall",
            "roc_auc_ovr_macro", "n")  # fmt: skip


def test_metrics_match_a_hand_computed_case():
    # true 0 0 1 1 2 2, predicted 0 1 1 1 2 0
    probs = np.array(
        [[0.8, 0.1, 0.1], [0.3, 0.6, 0.1], [0.1, 0.8, 0.1], [0.2, 0.7, 0.1], [0.1, 0.1, 0.8], [0.5, 0.2, 0.3]]
    )
    m = ModelEvaluator(["a", "b", "c"]).metrics(np.array([0, 0, 1, 1, 2, 2]), probs)
    assert m.accuracy == pytest.approx(4 / 6)
    assert m.balanced_accuracy == pytest.approx((0.5 + 1 + 0.5) / 3)
    # precision a 1/2, b 2/3, c 1; recall a 1/2, b 1, c 1/2; F1 a 1/2, b 4/5, c 2/3
    assert m.macro_precision == pytest.approx((1 / 2 + 2 / 3 + 1) / 3)
    assert m.macro_recall == pytest.approx((1 / 2 + 1 + 1 / 2) / 3)
    assert m.macro_f1 == pytest.approx((1 / 2 + 4 / 5 + 2 / 3) / 3)
    assert m.weighted_f1 == pytest.approx(m.macro_f1)  # equal supports
    assert m.confusion_matrix == [[1, 1, 0], [0, 2, 0], [1, 0, 1]]
    assert m.log_loss == pytest.approx(-np.mean(np.log([0.8, 0.3, 0.8, 0.7, 0.8, 0.3])), rel=1e-4)
    assert m.per_class["a"].f1 == pytest.approx(0.5)
    assert m.n == 6


def test_macro_averages_skip_classes_absent_from_the_scored_set():
    """Perfect answers on 2 of 5 labels (e.g. `evaluate --data` on a subset) are a macro-F1 of 1."""
    probs = np.eye(5)[[0, 0, 3, 3]] * 0.9 + 0.02
    m = ModelEvaluator(list("abcde")).metrics(np.array([0, 0, 3, 3]), probs)
    assert m.accuracy == 1.0
    assert m.macro_f1 == m.macro_precision == m.macro_recall == 1.0
    wrong = ModelEvaluator(list("abcde")).metrics(np.array([0, 0, 3, 3]), np.eye(5)[[0, 1, 3, 3]])
    assert wrong.macro_f1 == pytest.approx((2 / 3 + 0 + 1) / 3)  # a wrongly predicted class does count


def test_binary_problems_are_scored_too():
    probs = np.array([[0.9, 0.1], [0.4, 0.6], [0.3, 0.7], [0.6, 0.4]])
    m = ModelEvaluator(["x", "y"]).metrics(np.array([0, 0, 1, 1]), probs)
    assert m.accuracy == pytest.approx(0.5)
    assert m.roc_auc_ovr_macro == pytest.approx(0.75)  # y scores: pos .7,.4 vs neg .1,.6 -> 3 of 4 pairs


def test_recording_probabilities_are_a_renormalised_geometric_mean():
    probs, ids = recording_probabilities(np.array([[0.9, 0.1], [0.2, 0.8], [0.5, 0.5]]), np.array([7, 7, 3]))
    assert ids.tolist() == [3, 7]
    np.testing.assert_allclose(probs[1], np.array([np.sqrt(0.18), np.sqrt(0.08)]) / (np.sqrt(0.18) + np.sqrt(0.08)))
    np.testing.assert_allclose(probs[0], [0.5, 0.5])


def test_bootstrap_interval_contains_the_estimate_and_is_seeded():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 3, 60)
    probs = np.eye(3)[np.where(rng.random(60) < 0.7, y, (y + 1) % 3)]
    evaluator = ModelEvaluator(["a", "b", "c"], n_bootstrap=300, seed=1)
    ci = evaluator.bootstrap(y, probs)
    accuracy = np.mean(probs.argmax(1) == y)
    assert ci["accuracy_ci"][0] <= accuracy <= ci["accuracy_ci"][1]
    assert ci == ModelEvaluator(["a", "b", "c"], n_bootstrap=300, seed=1).bootstrap(y, probs)


def test_ensemble_weights_favour_the_better_member_and_round_trip(tmp_path):
    y = np.array([0, 1, 0, 1, 1, 0])
    good = np.eye(2)[y] * 0.8 + 0.1
    bad = np.full((6, 2), 0.5)
    ensemble = EnsembleModel(["good", "bad"]).fit({"good": good, "bad": bad}, y)
    assert ensemble.weights[0] > 0.9
    loaded = EnsembleModel.from_dict(json.loads(json.dumps(ensemble.to_dict())))
    np.testing.assert_allclose(
        loaded.predict_proba({"good": good, "bad": bad}), ensemble.predict_proba({"good": good, "bad": bad})
    )
    assert EnsembleModel(["a", "b"]).predict_proba({"a": good, "b": bad}) == pytest.approx((good + bad) / 2)


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


def test_the_report_lists_the_recordings_the_ensemble_names_wrong():
    def answer(path, model, label, predicted, p_high):
        return {"path": path, "label": label, "model": model, "predicted": predicted,
                "p_high": p_high, "p_low": round(1 - p_high, 6)}  # fmt: skip

    answers = [
        answer("a.flac", "ensemble", "high", "high", 0.9),
        answer("a.flac", "cnn", "high", "low", 0.4),
        answer("b.flac", "ensemble", "low", "high", 0.55),
    ]
    table = _misnamed(answers)
    assert "<td>b.flac</td><td>low</td><td>high</td><td>0.55</td><td>0.45</td>" in table
    assert "a.flac" not in table  # right for the ensemble; the CNN's miss is in predictions.csv only
    assert "names all 1 recordings right" in _misnamed(answers[:2])


def test_report_references_only_images_that_exist(trained):
    _, run, _ = trained
    page = (run / "report.html").read_text()
    images = re.findall(r"<img src='([^']+)'", page)
    assert len(images) >= 10
    assert all((run / image).is_file() for image in images)
    assert "http" not in page  # opens from disk, no network
    assert page.index("Summary") < page.index("<img")


def test_evaluate_exits_0_and_reuses_the_saved_ensemble(trained, capsys):
    _, run, cache = trained
    before = json.loads((run / "models" / "ensemble.json").read_text())
    assert before["weights"] == pytest.approx([0.5, 0.5]) and before["fitted_on"] is None  # plain average
    assert main(["evaluate", str(run), "--cache", str(cache), "--no-progress"]) == 0
    assert "a plain average" in capsys.readouterr().out
    assert json.loads((run / "models" / "ensemble.json").read_text()) == before


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


def test_baseline_round_trips_through_json(trained, tmp_path):
    from classicfy.evaluation.pipeline import _Features

    _, run, cache = trained
    config = RunFolder(run).read_config()
    recordings = [r for r in RunFolder(run).read_split() if r.split == "test"]
    windows = _Features(recordings, {config.features}, Workspace(cache, 1, False)).windows(
        config.features, "sequence", {"high": 0, "low": 1, "mid": 2}
    )
    baseline = SummaryBaseline.from_dict(json.loads((run / "models" / "baseline.json").read_text()))
    probs = baseline.predict_proba(windows)
    assert probs.shape == (len(windows), 3)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0)


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
