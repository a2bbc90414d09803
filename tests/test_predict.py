from __future__ import annotations

import json

import numpy as np
import pytest

from classicfy.cli import main
from classicfy.data.manifest import content_hash
from classicfy.errors import TooShortAudioError
from classicfy.features.cache import FeatureCache
from classicfy.features.inputs import WindowSet
from classicfy.models.trained import load_model, window_probabilities
from classicfy.predict import Classifier
from classicfy.rundir import RunFolder
from helpers import edit_json, flip_a_byte, sine, write


def _poison_weights(path) -> None:
    """One weight of a model made NaN, its card's checksum matching (as an older diverged save left it)."""
    from classicfy.rundir import load_tensors, save_tensors

    tensors, state = load_tensors(path)
    name = next(k for k, t in tensors.items() if t.is_floating_point())
    tensors[name].view(-1)[0] = float("nan")
    edit_json(path.with_suffix(".json"), weights_sha256=save_tensors(path, tensors, state))


def _edit_card_config(path, **changes) -> None:
    card = json.loads(path.read_text())
    edit_json(path, config=card["config"] | changes)


def test_prediction_walks_the_training_road(trained):
    """The same recording scored from the training cache and from a fresh prediction agrees."""
    _, run, cache = trained
    recording = next(r for r in RunFolder(run).read_split() if r.split == "test")
    model = load_model(run, "cnn")
    cached = FeatureCache(cache, model.feature_config).get(content_hash(recording.path))
    expected = window_probabilities(model.module, WindowSet([cached], [0], "mel"))
    prediction = Classifier.load(run, "cnn").predict_one(recording.path)
    got = np.array([[s["probabilities"][label] for label in sorted(s["probabilities"])] for s in prediction.segments])
    np.testing.assert_allclose(got, expected, atol=1e-5)
    assert [s["start_s"] for s in prediction.segments] == list(cached.starts_s)


@pytest.mark.slow
def test_predict_json_follows_the_contract(trained, tmp_path, capsys):
    """The acceptance command: files and folders, one JSON object per readable recording."""
    data, run, _ = trained
    file1 = data / "low" / "work00" / "00.flac"
    dir2 = data / "mid"
    write(dir2 / "broken.wav", np.zeros(0, np.float32))  # an unreadable file among them is skipped
    try:
        assert main(["predict", str(run), str(file1), str(dir2), "--format", "json", "--no-progress"]) == 0
    finally:
        (dir2 / "broken.wav").unlink()
    captured = capsys.readouterr()
    answers = json.loads(captured.out)
    assert [a["path"] for a in answers] == [str(file1), *(str(p) for p in sorted(dir2.rglob("*.flac")))]
    assert "broken.wav: empty" in captured.err
    labels = json.loads((run / "labels.json").read_text())
    for answer in answers:
        assert {"path", "label", "probabilities", "segments"} <= set(answer)
        assert list(answer["probabilities"]) == labels
        assert abs(sum(answer["probabilities"].values()) - 1) < 1e-4
        assert answer["label"] == max(answer["probabilities"], key=answer["probabilities"].get)
        assert answer["windows"] == len(answer["segments"]) == 4
        assert [s["start_s"] for s in answer["segments"]] == [0.0, 2.0, 4.0, 6.0]
        assert answer["top_k"][0]["label"] == answer["label"] and len(answer["top_k"]) == 3


@pytest.mark.slow
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


@pytest.mark.slow
def test_long_recordings_are_streamed_in_bounded_memory(trained, tmp_path, monkeypatch):
    """Peak memory does not grow with the length of the recording (decoded twice, never held whole)."""
    import tracemalloc

    from classicfy.features import audio

    _, run, _ = trained
    monkeypatch.setattr(audio, "_BLOCK_FRAMES", 8192)
    classifier = Classifier.load(run)
    classifier.buffer_bytes = 0  # as for a recording too long to keep between the passes

    def peak_bytes(seconds: float) -> int:
        path = write(tmp_path / f"{seconds}.flac", sine(seconds, 330.0) + sine(seconds, 800.0, amplitude=0.1))
        tracemalloc.start()
        prediction = classifier.predict_one(path)
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        assert len(prediction.segments) == seconds // 2
        return peak

    # Both are longer than a batch of windows; the long file's samples alone are 28 MB.
    short, long = peak_bytes(80.0), peak_bytes(320.0)
    assert long < 1.3 * short


def test_streaming_twice_and_buffering_once_give_the_same_answer(trained):
    data, run, _ = trained
    path = data / "high" / "work02" / "01.flac"
    buffered = Classifier.load(run).predict_one(path)
    classifier = Classifier.load(run)
    classifier.buffer_bytes = 0
    assert classifier.predict_one(path) == buffered


def test_predict_proba_on_a_waveform_matches_the_file(trained):
    import soundfile

    data, run, _ = trained
    path = data / "mid" / "work03" / "00.flac"
    classifier = Classifier.load(run)
    samples, rate = soundfile.read(path, dtype="float32")
    from_file = classifier.predict(str(path))
    probs = classifier.predict_proba(samples, rate)
    np.testing.assert_allclose(probs, [from_file.probabilities[label] for label in classifier.labels], atol=1e-6)
    assert classifier.predict([path, path]) == [from_file, from_file]
    with pytest.raises(TooShortAudioError):  # refused as a file this short would be
        classifier.predict_proba(samples[: rate // 2], rate)


@pytest.mark.slow
def test_predict_csv_and_timelines(trained, tmp_path, capsys):
    import csv
    import io

    data, run, _ = trained
    paths = [data / "low" / "work00" / "00.flac", data / "high" / "work00" / "00.flac"]  # same stem twice
    timelines = tmp_path / "timelines"
    args = ["predict", str(run), *map(str, paths), "--format", "csv", "--timeline", str(timelines), "--top-k", "2"]
    assert main([*args, "--no-progress"]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert [r["path"] for r in rows] == [str(p) for p in paths]
    for row in rows:
        probs = {k[2:]: float(v) for k, v in row.items() if k.startswith("p_")}
        assert set(probs) == {"high", "low", "mid"} and abs(sum(probs.values()) - 1) < 1e-4
        assert row["label"] == max(probs, key=probs.get) and row["windows"] == "4"
        assert len(row["top_k"].split(";")) == 2
    assert sorted(p.name for p in timelines.iterdir()) == ["00-2.png", "00.png"]
    assert all(p.read_bytes().startswith(b"\x89PNG") for p in timelines.iterdir())


@pytest.mark.slow
def test_parallel_prediction_gives_the_same_answers_in_the_same_order(trained, capsys):
    data, run, _ = trained
    args = ["predict", str(run), str(data / "low"), str(data / "high" / "work01"), "--format", "json", "--no-progress"]
    assert main([*args, "--jobs", "1"]) == 0
    serial = json.loads(capsys.readouterr().out)
    assert main([*args, "--jobs", "2"]) == 0
    parallel = json.loads(capsys.readouterr().out)
    assert len(serial) == 12 and [a["path"] for a in parallel] == [a["path"] for a in serial]
    for one, other in zip(serial, parallel, strict=True):  # one thread per worker: float sums may differ
        assert one["label"] == other["label"]
        assert one["probabilities"] == pytest.approx(other["probabilities"], abs=1e-5)


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda models: (models / "cnn.safetensors").write_bytes(b"\x00" * 100), "cnn.safetensors is damaged"),
        (lambda models: (models / "cnn.safetensors").unlink(), "cnn.safetensors is missing"),
        (lambda models: (models / "gru.json").write_text("{"), "gru.json is damaged"),
        (lambda models: (models / "ensemble.json").write_text("{"), "ensemble.json is damaged"),
        (lambda models: edit_json(models / "ensemble.json", members=None), "ensemble.json is damaged"),
        (lambda models: edit_json(models / "gru.json", format=99), "gru.json has model format 99"),
        (lambda models: edit_json(models / "gru.json", labels=["a", "b", "c"]), "other labels"),
        (lambda models: edit_json(models / "cnn.json", family="transformer"), "does not describe a model"),
        (lambda models: edit_json(models / "ensemble.json", weights=[float("nan"), 1.0]), "ensemble.json is damaged"),
        (lambda models: _poison_weights(models / "gru.safetensors"), "gru.safetensors holds weights that are not"),
        (lambda models: flip_a_byte(models / "gru.safetensors"), "gru.safetensors is damaged: its SHA-256"),
        (lambda models: _edit_card_config(models / "cnn.json", channels=[60000] * 4), "parameters; classicfy builds"),
        (lambda models: edit_json(models / "cnn.json", input_shape=[1, -96, 87]), "describes an input of shape"),
    ],
)
def test_a_damaged_or_incompatible_model_is_a_one_line_error(trained, tmp_path, capsys, damage, message):
    import shutil

    data, run, _ = trained
    copy = tmp_path / "RUN"
    shutil.copytree(run, copy)
    damage(copy / "models")
    assert main(["predict", str(copy), str(data / "low" / "work00" / "00.flac")]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1 and "Traceback" not in err


def test_predict_json_is_strict_json(trained, tmp_path, capsys):
    """Issue 23, defect 3: `--format json` wrote NaN, which is not JSON."""
    data, run, _ = trained
    assert main(["predict", str(run), str(data / "low" / "work00" / "00.flac"), "--format", "json"]) == 0
    answers = json.loads(capsys.readouterr().out, parse_constant=lambda name: pytest.fail(f"{name} in the JSON"))
    assert all(np.isfinite(list(a["probabilities"].values())).all() for a in answers)


def test_audio_errors_survive_the_trip_back_from_a_worker():
    import pickle

    from classicfy.errors import SilentAudioError

    error = pickle.loads(pickle.dumps(SilentAudioError("/a/b.wav", "every window below -60 dBFS")))
    assert (error.path, error.reason) == ("/a/b.wav", "silent (every window below -60 dBFS)")
    assert str(error) == "/a/b.wav: silent (every window below -60 dBFS)"
