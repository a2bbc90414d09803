"""`vgg-probe`, the model that answers whole recordings: fitted in closed form, scored per recording
only, and answering `predict`, `crossval` and `export` as it is scored."""

from __future__ import annotations

import contextlib
import csv
import io
import json

import numpy as np
import onnxruntime
import pytest
import torch

from classicfy.cli import main
from classicfy.evaluation.metrics import ModelEvaluator
from classicfy.export import onnx_inputs
from classicfy.models.probe import VGGProbe
from classicfy.models.trained import load_model
from classicfy.predict import Classifier
from classicfy.rundir import load_arrays
from classicfy.training.recording_fit import C_GRID, fit_recording_classifier

FEATURES = 2 * 1280  # what vgg-probe describes a recording with: mean and spread of vgg-mtt's pooled layers
COMMON = ["--epochs", "1", "--window", "3", "--augment-copies", "0", "--no-progress", "--jobs", "1"]


@pytest.fixture(scope="module")
def probe_run(data, tmp_path_factory):
    """`classicfy train DATA --models vgg-probe,vgg-pretrained` (3 s windows: two per 6 s recording)."""
    root = tmp_path_factory.mktemp("probe")
    cache = str(root / "cache")
    run = root / "RUN"
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        assert main(["train", str(data), "--out", str(run), "--models", "vgg-probe,vgg-pretrained", "--cache", cache,
                     *COMMON]) == 0  # fmt: skip
    return run, cache, printed.getvalue()


def _blobs(n_classes: int, rng: np.random.Generator, per_class: int = 12) -> tuple[np.ndarray, np.ndarray]:
    labels = np.repeat(np.arange(n_classes), per_class)
    return rng.normal(size=(len(labels), FEATURES)) + 0.2 * labels[:, None], labels


@pytest.mark.parametrize("n_classes", [2, 4])
def test_the_fit_keeps_the_strength_with_the_lowest_validation_loss_and_the_module_answers_as_it(n_classes):
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    rng = np.random.default_rng(0)
    train, val = _blobs(n_classes, rng), _blobs(n_classes, rng, per_class=5)
    fit = fit_recording_classifier(train, val, n_classes)
    scaler = StandardScaler().fit(train[0])
    standard, val_standard = scaler.transform(train[0]), scaler.transform(val[0])
    losses, references = {}, {}
    for c in C_GRID:
        references[c] = LogisticRegression(C=c, max_iter=2000, class_weight="balanced").fit(standard, train[1])
        probs = references[c].predict_proba(val_standard)
        losses[c] = -np.mean(np.log(probs[np.arange(len(val[1])), val[1]]))
    assert fit.c == min(losses, key=losses.__getitem__)
    assert fit.val_log_loss == pytest.approx(losses[fit.c], rel=1e-4)
    probe = VGGProbe((3, 187, 96), n_classes)
    probe.set_fit(fit.center, fit.scale, fit.weight, fit.bias)
    with torch.no_grad():
        answered = torch.softmax(probe.classify(torch.from_numpy(val[0]).float()), dim=1).numpy()
    np.testing.assert_allclose(answered, references[fit.c].predict_proba(val_standard), atol=1e-4)


def test_a_recording_is_described_by_the_mean_and_spread_of_its_windows():
    embeddings = torch.tensor([[1.0, 0.0], [3.0, 4.0]])
    assert VGGProbe.describe(embeddings).tolist() == [2.0, 2.0, 1.0, 2.0]


def test_a_model_that_answers_recordings_has_no_window_figures():
    probs = np.array([[0.9, 0.1], [0.9, 0.1], [0.2, 0.8]])
    metrics = ModelEvaluator(["a", "b"], n_bootstrap=10).evaluate(probs, np.array([0, 0, 1]), np.array([0, 0, 1]),
                                                                   per_window=False)  # fmt: skip
    assert metrics.segment is None and metrics.recording.n == 2 and metrics.recording.accuracy == 1.0
    assert metrics.to_dict()["segment"] is None


@pytest.mark.slow
def test_the_probe_is_fitted_once_and_scored_per_recording_only(probe_run):
    run, _, printed = probe_run
    card = json.loads((run / "models" / "vgg-probe.json").read_text())
    assert card["training"]["kept"] == "closed form" and card["training"]["c"] in C_GRID
    assert not (run / "checkpoints" / "vgg-probe.safetensors").exists()  # no epochs, nothing to resume
    assert f"vgg-probe validation macro-F1 {card['training']['val_macro_f1']:.3f} per recording" in printed
    metrics = json.loads((run / "metrics.json").read_text())["models"]
    assert metrics["vgg-probe"]["segment"] is None and metrics["vgg-probe"]["recording"]["n"] > 0
    assert metrics["vgg-pretrained"]["segment"]["n"] > 0
    # The ensemble's windows carry the probe's recording answers: per window it is scored by its
    # window members' mix, here vgg-pretrained alone.
    ensemble, pretrained = metrics["ensemble"]["segment"], metrics["vgg-pretrained"]["segment"]
    assert ensemble["confusion_matrix"] == pretrained["confusion_matrix"]
    assert ensemble["log_loss"] == pytest.approx(pretrained["log_loss"], rel=1e-6)
    assert metrics["ensemble"]["recording"] != metrics["vgg-pretrained"]["recording"]
    arrays, meta = load_arrays(run / "windows.safetensors")
    assert meta["recording_only"] == ["vgg-probe", "ensemble"]
    np.testing.assert_allclose(arrays["ensemble/window_probs"], arrays["vgg-pretrained/probs"], rtol=1e-6)
    probs, recording = arrays["vgg-probe/probs"], arrays["vgg-probe/recording"]
    for index in np.unique(recording):  # every window of a recording carries the recording's one answer
        assert len(np.unique(probs[recording == index], axis=0)) == 1
    assert "| vgg-probe | - |" in (run / "README.md").read_text()


@pytest.mark.slow
def test_predict_answers_a_file_as_the_evaluation_scored_it(probe_run, monkeypatch):
    run, cache, _ = probe_run
    monkeypatch.setenv("CLASSICFY_CACHE", cache)
    with open(run / "predictions.csv", newline="") as handle:
        row = next(r for r in csv.DictReader(handle) if r["model"] == "vgg-probe")
    prediction = Classifier.load(run, "vgg-probe").predict_one(row["path"])
    for label, probability in prediction.probabilities.items():
        assert probability == pytest.approx(float(row[f"p_{label}"]), abs=1e-4)
    assert len(prediction.segments) == 2
    assert prediction.segments[0]["probabilities"] == prediction.segments[1]["probabilities"]
    # The ensemble answers the recording with the probe, and each window with its window members.
    ensemble = Classifier.load(run).predict_one(row["path"])
    pretrained = Classifier.load(run, "vgg-pretrained").predict_one(row["path"])
    assert [s["label"] for s in ensemble.segments] == [s["label"] for s in pretrained.segments]
    for mixed, alone in zip(ensemble.segments, pretrained.segments, strict=True):
        assert mixed["probabilities"] == pytest.approx(alone["probabilities"], abs=1e-6)
    assert ensemble.probabilities != pretrained.probabilities


@pytest.mark.slow
def test_export_takes_a_recording_model_and_a_pretrained_backbone(probe_run, data, tmp_path):
    """Before, a musicnn backbone was exported with its patch loop traced at the example's length:
    onnxruntime then refused any other batch, and `classicfy export` of a vgg-pretrained run failed."""
    run, _, _ = probe_run
    out = tmp_path / "E"
    assert main(["export", str(run), "--out", str(out)]) == 0
    recording = data / "high" / "work00" / "00.flac"
    for name, answers in (("vgg-probe", "recording"), ("vgg-pretrained", "window")):
        sidecar = json.loads((out / f"{name}.json").read_text())
        assert sidecar["answers"] == answers
        features = onnx_inputs(out / f"{name}.json", recording)
        got = onnxruntime.InferenceSession(str(out / f"{name}.onnx")).run(None, {"features": features})[0]
        with torch.no_grad():
            expected = torch.softmax(load_model(run, name).module(torch.from_numpy(features)), dim=1).numpy()
        assert got.shape == ((1 if answers == "recording" else len(features)), 3)
        np.testing.assert_allclose(got, expected, atol=1e-4)


@pytest.mark.slow
def test_crossval_scores_a_recording_model_per_recording_and_compares_it(data, tmp_path, capsys):
    out = tmp_path / "CV"
    assert main(["crossval", str(data), "--out", str(out), "--folds", "2", "--models", "vgg-probe,gru", *COMMON]) == 0
    summary = json.loads((out / "summary.json").read_text())
    probe = summary["models"]["vgg-probe"]
    assert probe["segment"] is None and 0 <= probe["recording"]["macro_f1"]["mean"] <= 1
    assert summary["runs"][0]["models"]["vgg-probe"]["per_fold_macro_f1"]["segment"] == []
    # Beside a window model, the ensemble is scored per window by that model's answers alone.
    ensemble, gru = summary["models"]["ensemble"]["segment"], summary["models"]["gru"]["segment"]
    assert ensemble["macro_f1"]["mean"] == pytest.approx(gru["macro_f1"]["mean"], abs=1e-9)
    printed = capsys.readouterr().out
    row = next(line.split() for line in printed.splitlines() if line.strip().startswith("vgg-probe"))
    assert row[1] == "-"  # no window figure in the table
    assert main(["crossval", "compare", str(out), str(out)]) == 0
    assert "vgg-probe" in capsys.readouterr().out
