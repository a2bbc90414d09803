from __future__ import annotations

import csv
import io
import json
import shutil
import subprocess
import sys

import numpy as np
import pytest
import torch

from classicfy.cli import main
from classicfy.features.spectral import musicnn_hop_frames, musicnn_input, musicnn_patches
from classicfy.models import musicnn
from classicfy.models.tf_checkpoint import CheckpointError, load_checkpoint, read_index
from helpers import DATA, sine, write

FIXTURES = DATA  # the 12 s Bach clip and the original models' tags for it


CLIP = FIXTURES / "bach_choir_12s.flac"


REFERENCE = FIXTURES / "musicnn_reference.json"


@pytest.mark.parametrize(("model", "reference"), [("vgg-mtt", "MTT_vgg"), ("musicnn-mtt", "MTT_musicnn")])
@pytest.mark.slow
def test_ports_reproduce_the_tensorflow_models_on_the_fixture(model, reference):
    """The acceptance command, exactly: every tag within 1e-3 of the original models' output."""
    result = subprocess.run(
        [sys.executable, "-m", "classicfy.cli", "tag", str(CLIP), "--model", model, "--format", "json"],
        capture_output=True,
        text=True,
        check=True,
    )
    [output] = json.loads(result.stdout)
    expected = json.loads(REFERENCE.read_text())[CLIP.name][reference]
    assert output["model"] == model and output["path"] == str(CLIP)
    assert output["tags"].keys() == expected.keys()
    worst = max(abs(output["tags"][tag] - p) for tag, p in expected.items())
    assert worst < 1e-3


@pytest.mark.parametrize("model", ["vgg-msd", "musicnn-msd"])
def test_msd_models_load_and_tag(model):
    tagger = musicnn.load_pretrained(model)
    rng = np.random.default_rng(0)
    probabilities = musicnn.tag_probabilities(tagger, musicnn_input(rng.standard_normal(16000 * 4) * 0.1))
    assert probabilities.shape == (50,)
    assert np.all((probabilities > 0) & (probabilities < 1))


def test_a_damaged_tensor_fails_its_checksum(tmp_path):
    source = musicnn.weights_folder() / "MTT_vgg"
    shutil.copy(source / ".index", tmp_path / ".index")
    data = bytearray((source / ".data-00000-of-00001").read_bytes())
    entry = read_index(tmp_path / ".index")["dense/kernel"]
    data[entry.offset + 5] ^= 0x01
    (tmp_path / ".data-00000-of-00001").write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match="dense/kernel: checksum mismatch"):
        load_checkpoint(tmp_path / ".index", ["dense/kernel"])
    assert load_checkpoint(tmp_path / ".index", ["1CNN/bias"])["1CNN/bias"].shape == (128,)


def test_the_reader_refuses_a_file_that_is_no_checkpoint(tmp_path):
    (tmp_path / ".index").write_bytes(b"not a table" * 10)
    with pytest.raises(CheckpointError, match="not a TensorFlow checkpoint"):
        read_index(tmp_path / ".index")


def test_patches_drop_the_remainder_and_repeat_a_short_input():
    representation = np.arange(400 * 96, dtype=np.float32).reshape(400, 96)
    cut = musicnn_patches(representation)
    assert cut.shape == (2, 187, 96)
    np.testing.assert_array_equal(cut[1, 0], representation[187])
    short = musicnn_patches(representation[:100])
    assert short.shape == (1, 187, 96)
    np.testing.assert_array_equal(short[0, 100], representation[0])


def test_overlapping_patches_start_every_hop():
    representation = np.arange(400 * 96, dtype=np.float32).reshape(400, 96)
    hop = musicnn_hop_frames(1.5)  # musicnn's input_overlap, in seconds
    assert hop == 187 - 94
    patches = musicnn_patches(representation, hop)
    assert patches.shape == (3, 187, 96)  # starts 0, 93, 186; the next (279) would not fit in 400 frames
    np.testing.assert_array_equal(patches[2, 0], representation[2 * hop])
    for bad in (-0.1, 2.992, float("nan"), float("inf")):
        with pytest.raises(ValueError, match="overlap must be"):
            musicnn_hop_frames(bad)


def test_tag_csv_has_a_row_per_file_and_every_tag(tmp_path, capsys):
    for name, freq in (("a", 440.0), ("b", 220.0)):
        write(tmp_path / f"{name}.wav", sine(7.0, freq))
    assert main(["tag", str(tmp_path), "--format", "csv", "--overlap", "1", "--model", "vgg-mtt"]) == 0
    rows = list(csv.reader(io.StringIO(capsys.readouterr().out)))
    assert rows[0][:3] == ["path", "model", "top_k"] and len(rows[0]) == 3 + len(musicnn.MTT_TAGS)
    assert [row[0] for row in rows[1:]] == [str(tmp_path / "a.wav"), str(tmp_path / "b.wav")]
    assert all(0.0 <= float(p) <= 1.0 for row in rows[1:] for p in row[3:])


def test_an_overlap_beyond_a_patch_is_refused_by_name(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["tag", str(write(tmp_path / "a.wav", sine(4.0))), "--overlap", "3"])
    assert exit_info.value.code == 2 and "--overlap" in capsys.readouterr().err


def test_vgg_embedding_follows_tensorflow_flattening_order():
    model = musicnn.load_pretrained("vgg-mtt")
    patch = torch.from_numpy(musicnn_input(sine(3.0, 440.0, sr=16000))[:187][None])
    with torch.no_grad():
        torch.testing.assert_close(model(patch), model.dense(model.embed(patch)))
    assert model.embed(patch).shape == (1, 256)


def test_missing_weights_are_a_one_line_error(monkeypatch, tmp_path, capsys):
    monkeypatch.setattr(musicnn.importlib.util, "find_spec", lambda name: None)
    path = write(tmp_path / "a.wav", sine(4.0))
    assert main(["tag", str(path)]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and "pip install --no-deps -r requirements-nodeps.txt" in error


def test_tag_table_skips_bad_files_and_expands_folders(tmp_path, capsys):
    write(tmp_path / "music" / "a.flac", sine(5.0, 440.0))
    write(tmp_path / "music" / "sub" / "b.wav", sine(4.0, 220.0))
    (tmp_path / "music" / "notes.txt").write_text("not audio")
    assert main(["tag", str(tmp_path / "music"), str(tmp_path / "missing.wav"), "--top", "3"]) == 0
    captured = capsys.readouterr()
    lines = captured.out.splitlines()
    assert [line.split(":")[0] for line in lines] == [
        str(tmp_path / "music" / "a.flac"),
        str(tmp_path / "music" / "sub" / "b.wav"),
    ]
    assert all(line.count(",") == 2 for line in lines)
    assert "missing.wav: not-found" in captured.err


def test_tag_exits_2_when_nothing_can_be_tagged(tmp_path, capsys):
    (tmp_path / "empty.wav").touch()
    assert main(["tag", str(tmp_path / "empty.wav")]) == 2
    assert "no recording could be tagged" in capsys.readouterr().err
