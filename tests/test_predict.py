from __future__ import annotations

import json

import numpy as np
from conftest import write

from classicfy.cache import FeatureCache
from classicfy.cli import main
from classicfy.data.manifest import content_hash
from classicfy.inference import load_model, window_probabilities
from classicfy.predict import Classifier
from classicfy.run import read_split
from classicfy.windows import WindowSet


def test_prediction_walks_the_training_road(trained):
    """The same recording scored from the training cache and from a fresh prediction agrees."""
    _, run, cache = trained
    recording = next(r for r in read_split(run / "split.csv") if r.split == "test")
    model = load_model(run, "cnn")
    cached = FeatureCache(cache, model.feature_config).get(content_hash(recording.path))
    expected = window_probabilities(model.module, WindowSet([cached], [0], "mel"))
    prediction = Classifier.load(run, "cnn").predict_one(recording.path)
    got = np.array([[s["probabilities"][label] for label in sorted(s["probabilities"])] for s in prediction.segments])
    np.testing.assert_allclose(got, expected, atol=1e-5)
    assert [s["start_s"] for s in prediction.segments] == list(cached.starts_s)


def test_predict_json_follows_the_contract(trained, capsys):
    data, run, _ = trained
    path = data / "low" / "work00" / "00.flac"
    assert main(["predict", str(run), str(path), "--format", "json"]) == 0
    [answer] = json.loads(capsys.readouterr().out)
    assert set(answer) == {"path", "label", "probabilities", "segments"}
    assert answer["label"] in {"high", "low", "mid"}
    assert abs(sum(answer["probabilities"].values()) - 1) < 1e-4
    assert len(answer["segments"]) == 4 and answer["segments"][1]["start_s"] == 2.0


def test_predict_skips_bad_files_and_fails_when_none_is_usable(trained, tmp_path, capsys):
    data, run, _ = trained
    silent = write(tmp_path / "silent.wav", np.zeros(44100, np.float32))
    assert main(["predict", str(run), str(silent), str(data / "mid" / "work01" / "01.flac")]) == 0
    captured = capsys.readouterr()
    assert "silent.wav: silent" in captured.err and "01.flac: " in captured.out
    assert main(["predict", str(run), str(silent)]) == 2


def test_predict_names_an_unknown_model(trained, capsys):
    data, run, _ = trained
    assert main(["predict", str(run), str(data), "--model", "transformer"]) == 2
    assert "has no model 'transformer'" in capsys.readouterr().err


def test_a_run_still_predicts_after_its_background_folder_is_gone(trained, tmp_path, capsys):
    import shutil

    data, run, _ = trained
    copy = tmp_path / "RUN"
    shutil.copytree(run, copy)
    config = (copy / "config.toml").read_text()
    (copy / "config.toml").write_text(config.replace("[augment]\n", '[augment]\nbackground = "/gone/noise"\n'))
    assert main(["predict", str(copy), str(data / "low" / "work00" / "00.flac")]) == 0
